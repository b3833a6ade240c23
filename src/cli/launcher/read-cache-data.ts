import { readSync } from "node:fs";

/** A code cache larger than this is not one of ours (the largest bundle's is ~0.4 MB). */
const MAX_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Every code cache file ends with a checksum of the rest: V8 checks a cache's header but not its data, and aborts the
 * process (SIGTRAP, SIGSEGV) on data damaged in place. Against damage, not an attacker (who could write the bundle).
 */
export const CACHE_CHECKSUM_BYTES = 8;

/**
 * The text before the checksum of the open code-cache file `fd` of `size` bytes, or undefined: too large, shorter
 * than `size`, damaged (its checksum differs), or no WebAssembly to check it (--jitless).
 */
export function readCacheData(fd: number, size: number): Buffer | undefined {
  if (size > MAX_CACHE_BYTES || size < CACHE_CHECKSUM_BYTES) return undefined;
  try {
    const { memory, data } = checksumMemory(size);
    for (let read = 0; read < size; ) {
      const n = readSync(fd, data, read, size - read, read);
      if (n === 0) return undefined;
      read += n;
    }
    const content = size - CACHE_CHECKSUM_BYTES;
    return checksum(memory, content) ? data.subarray(0, content) : undefined;
  } catch {
    return undefined;
  }
}

/** `content` followed by its checksum, as readCacheData reads it back; throws without WebAssembly. */
export function withChecksum(content: Buffer): Buffer {
  const { memory, data } = checksumMemory(content.length + CACHE_CHECKSUM_BYTES);
  content.copy(data);
  checksum(memory, content.length);
  return data;
}

/**
 * Zeroed WebAssembly memory for `size` bytes and the checksum's reads past them, and those bytes as a Buffer (a cache
 * read into it is not copied).
 */
function checksumMemory(size: number): { memory: WasmMemory; data: Buffer } {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((size + 32) / 65536) });
  return { memory, data: Buffer.from(memory.buffer, 0, size) };
}

// What is used of WebAssembly (not declared by the ES2023 library this project compiles with).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
};

/** cache-checksum.wat, assembled (a test checks it is). */
export const CHECKSUM_WASM =
  "AGFzbQEAAAABBgFgAX8BfwIIAQFtAW0CAAADAgEABwUBAWgAAAqfAQGcAQIBfwN+IAApAAAhBCAAQgA3AAAgAK0hAkKHla+vmLbem55/IQMCQANA" +
  "IAEgAE8NASACIAEpAACFIAN+IgIgAkIdiIUhAiACIAEpAAiFIAN+IgIgAkIdiIUhAiACIAEpABCFIAN+IgIgAkIdiIUhAiACIAEpABiFIAN+IgIg" +
  "AkIdiIUhAiABQSBqIQEMAAsLIAAgAjcAACACIARRCw==";

let hashModule: object | undefined;

/**
 * Whether the 8 bytes of `memory` at `length` are the checksum of the `length` before them, which it writes there:
 * those bytes, then all after them, read as zeros, h = length, then for each 8-byte word w (little-endian, 4 a
 * turn), h = (h ^ w) * 0x9E3779B185EBCA87; h ^= h >>> 29 (cache-checksum.wat). In WebAssembly: in JavaScript
 * compiled at start-up, or with node:crypto or node:zlib loaded for it, hashing ~0.25 MB cost several M instructions.
 */
function checksum(memory: WasmMemory, length: number): boolean {
  hashModule ??= new WebAssembly.Module(Buffer.from(CHECKSUM_WASM, "base64"));
  const { h } = new WebAssembly.Instance(hashModule, { m: { m: memory } }).exports as { h: (n: number) => number };
  return h(length) === 1;
}
