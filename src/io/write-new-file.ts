// Loaded by the launcher's code-cache writer (dist/user-code-cache-writer.cjs): node:fs only.
import {
  closeSync, constants, fchmodSync, fstatSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync,
} from "node:fs";

interface WriteOptions {
  readonly uid?: number;
  readonly sync?: boolean;
}

/**
 * Writes `chunks` to the new file `temp` (O_EXCL|O_NOFOLLOW: never through a link, never over a file that
 * exists), mode `mode` whatever the umask, and renames it over `target`: a symbolic link planted at `target` is
 * replaced, never followed. With `uid`, only when the file made belongs to it; with `sync`, fsync'd before the
 * rename. Throws, with no temporary file left, when it fails.
 */
export function writeThenRename(temp: string, target: string, mode: number, chunks: readonly Buffer[], options: WriteOptions = {}): void {
  try {
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    try {
      if (options.uid !== undefined && fstatSync(fd).uid !== options.uid) throw new Error("not the user's file");
      fchmodSync(fd, mode); // the umask may have removed bits (777: a file nobody can read)
      for (const data of chunks) {
        for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at);
      }
      if (options.sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (cause) {
    try {
      unlinkSync(temp);
    } catch {
      // not created, or already renamed
    }
    throw cause;
  }
}
