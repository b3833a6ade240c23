import { readSync } from "node:fs";

/** A code cache larger than this is not one of ours (the largest bundle's is ~0.4 MB). */
const MAX_CACHE_BYTES = 16 * 1024 * 1024;

/** The `size` bytes of the open code-cache file `fd`, or undefined when it is too large or shorter than `size`. */
export function readCacheData(fd: number, size: number): Buffer | undefined {
  if (size > MAX_CACHE_BYTES) return undefined;
  const data = Buffer.allocUnsafe(size);
  for (let read = 0; read < size; ) {
    const n = readSync(fd, data, read, size - read, read);
    if (n === 0) return undefined;
    read += n;
  }
  return data;
}
