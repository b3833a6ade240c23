import { statSync } from "node:fs";
import { readOpenedFile } from "./read-opened-file.js";
import { InputError } from "../errors.js";

/** Identifies one version of a file, to notice when it has been replaced or rewritten. */
export interface FileStamp {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

/**
 * Reads a file the user named, turning OS errors into one-line input errors.
 * `what` says what the file is for, e.g. "certificate file" or "private key file".
 */
export async function readInputFile(path: string, what: string): Promise<{ bytes: Buffer; stamp: FileStamp; mode: number }> {
  try {
    const { bytes, stats } = await readOpenedFile(path);
    return { bytes, stamp: { mtimeMs: stats.mtimeMs, size: stats.size, ino: stats.ino }, mode: stats.mode };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EISDIR") throw new InputError("FILE_UNREADABLE", `${what} ${path} is a directory, not a file`);
    throw fileError(cause, path, what);
  }
}

/** The current stamp of a file (same errors as {@link readInputFile}). */
export async function stampOf(path: string, what: string): Promise<FileStamp> {
  try {
    const info = statSync(path);
    return { mtimeMs: info.mtimeMs, size: info.size, ino: info.ino };
  } catch (cause) {
    throw fileError(cause, path, what);
  }
}

function fileError(cause: unknown, path: string, what: string): InputError {
  if (cause instanceof InputError) return cause;
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new InputError("FILE_NOT_FOUND", `${what} ${path} does not exist`, { hint: "check the path", cause });
  }
  if (code === "EACCES" || code === "EPERM") {
    return new InputError("FILE_UNREADABLE", `${what} ${path} cannot be read: permission denied`, {
      hint: "check the file's owner and mode",
      cause,
    });
  }
  return new InputError("FILE_UNREADABLE", `${what} ${path} cannot be read: ${code ?? String(cause)}`, { cause });
}
