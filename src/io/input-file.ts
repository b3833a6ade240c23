import { closeSync, lstatSync, opendirSync, readFileSync, statSync, type Stats } from "node:fs";
import { MAX_INPUT_BYTES, readOpenedFile, type OnOpen } from "./read-opened-file.js";
import { openCheckedFile, osError } from "./trusted-path.js";
import { InputError } from "../errors.js";
import { ownValue } from "../own-value.js";

/** Identifies one version of a file, to notice when it has been replaced or rewritten. */
export interface FileStamp {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

export const STDIN_INPUT = "-";

/**
 * Whether `ref` names a file, not `-` (standard input) or `env:NAME` (an environment variable holding the PEM
 * text), which are read once: only files are watched and re-read. A file named `-` or `env:…` is `./-`, `./env:…`.
 */
export function isFileInput(ref: string): boolean {
  return ref !== STDIN_INPUT && !ref.startsWith("env:");
}

/** The stamp of an input that is never re-read (`-`, `env:`): {@link stampOf} returns it too, so it never "changes". */
const READ_ONCE: FileStamp = { mtimeMs: 0, size: 0, ino: 0 };

function stampOfStats(stats: FileStamp): FileStamp {
  return { mtimeMs: stats.mtimeMs, size: stats.size, ino: stats.ino };
}

export interface InputBytes {
  bytes: Buffer;
  stamp: FileStamp;
  /** The file's mode, owner and group, to warn about a secret file others can read or change; absent for `-` and `env:`. */
  mode?: number;
  owner?: number;
  gid?: number;
}

/**
 * Reads an input the user named — a file, `-` (standard input) or `env:NAME` — turning OS errors into
 * one-line input errors. `what` says what the input is for, e.g. "certificate file" or "private key file".
 * Messages name the path, "standard input" or the variable, never the content.
 */
export async function readInputFile(path: string, what: string, onOpen?: OnOpen): Promise<InputBytes> {
  if (path.startsWith("env:")) return { bytes: fromEnvironment(path.slice(4), what), stamp: READ_ONCE };
  // Its own module: the file-key bundle leaves it out, so the full CLI it hands over to still finds stdin unread.
  if (path === STDIN_INPUT) return { bytes: await (await import("./read-stdin.js")).readStdin(what), stamp: READ_ONCE };
  refusePemText(path, what);
  let read: Awaited<ReturnType<typeof readOpenedFile>>;
  try {
    read = await readOpenedFile(path, undefined, undefined, onOpen);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EISDIR") throw new InputError("FILE_UNREADABLE", `${what} ${path} is a directory, not a file`);
    throw fileError(cause, path, what);
  }
  const { bytes, stats } = read;
  refuseUtf16(bytes, path, what);
  return { bytes, stamp: stampOfStats(stats), mode: stats.mode, owner: stats.uid, gid: stats.gid };
}

/**
 * The bytes of the regular file `path` under openCheckedFile's rule (the user's or root's, writable by nobody else),
 * read from the descriptor that was checked, with that descriptor's mode, owner and group. More than MAX_INPUT_BYTES: an
 * EFBIG error.
 */
export function readCheckedFile(path: string, what: string, uid: number): { bytes: Buffer; mode: number; owner: number; gid: number } {
  const { value: bytes, ...facts } = withCheckedFile(path, what, uid, (fd) => readFileSync(fd));
  return { bytes, ...facts };
}

/**
 * {@link readCheckedFile} of a UTF-8 text (UTF-16 refused as "`what` file … is UTF-16 text"), given to `onText` with the descriptor, still open, and its
 * fstat: what it holds may ask more of that same file (a config's ACL, only when it holds a PIN). The bytes read are
 * wiped and let go before `onText` runs: held through a parse (a config's JSON.parse), they were 16 MiB more at its peak.
 */
export function readCheckedText<T>(
  path: string, what: string, uid: number, onText: (fd: number, stats: Stats, text: string) => T,
): { value: T; mode: number; owner: number; gid: number } {
  return withCheckedFile(path, what, uid, (fd, stats) => onText(fd, stats, wipedText(fd, path, what)));
}

/** The UTF-8 text read from `fd`, its bytes wiped (they may hold a secret: a config's pin-value). */
function wipedText(fd: number, path: string, what: string): string {
  const bytes = readFileSync(fd);
  try {
    refuseUtf16(bytes, path, `${what} file`);
    return bytes.toString("utf8");
  } finally {
    bytes.fill(0);
  }
}

/** `read` of the file `path` opened under openCheckedFile's rule, refused above MAX_INPUT_BYTES, and its facts. */
function withCheckedFile<T>(path: string, what: string, uid: number, read: (fd: number, stats: Stats) => T): { value: T; mode: number; owner: number; gid: number } {
  const file = openCheckedFile(path, what, uid);
  try {
    if (file.stats.size > MAX_INPUT_BYTES) throw osError("EFBIG", `holds more than ${MAX_INPUT_BYTES / 2 ** 20} MiB`);
    const value = read(file.fd, file.stats);
    return { value, mode: file.stats.mode, owner: file.stats.uid, gid: file.stats.gid };
  } finally {
    closeSync(file.fd);
  }
}

/**
 * A file saved as UTF-16 (Windows PowerShell's `>`, an editor's "Unicode"): to a PEM, JSON or PIN reader every
 * other byte is NUL. No DER or PKCS#12 file starts with its byte-order mark; a binary password could, so the mark
 * counts only with the NUL of a first ASCII character after it. The bytes are wiped (a PIN file's).
 */
export function refuseUtf16(bytes: Buffer, path: string, what: string): void {
  if (!/^(fffe[0-7][0-9a-f]00|feff00[0-7][0-9a-f])/.test(bytes.toString("hex", 0, 4))) return;
  bytes.fill(0);
  throw new InputError("INPUT_INVALID", `${what} ${path} is UTF-16 text`, {
    hint: "save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8 FILE > NEW (in PowerShell: Set-Content -Encoding ascii)",
  });
}

/** The current stamp of an input (same errors as {@link readInputFile}); constant for `-` and `env:`. */
export async function stampOf(path: string, what: string): Promise<FileStamp> {
  if (!isFileInput(path)) return READ_ONCE;
  refusePemText(path, what);
  try {
    return stampOfStats(statSync(path));
  } catch (cause) {
    throw fileError(cause, path, what);
  }
}

function fromEnvironment(name: string, what: string): Buffer {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new InputError("INPUT_INVALID", `${what}: env:${name} does not name an environment variable`, { hint: "write env:NAME, e.g. env:DEVICE_CERT" });
  }
  const value = ownValue(process.env, name);
  if (value === undefined || value.trim() === "") {
    throw new InputError("INPUT_MISSING", `${what}: environment variable ${name} is ${value === undefined ? "not set" : "empty"}`, {
      hint: `set ${name} to the PEM text`,
    });
  }
  return Buffer.from(value, "utf8");
}

/**
 * `--certificate "$(cat cert.pem)"` passes the file's text where its path belongs. Say so, and never echo
 * the text: it may be a private key.
 */
export function refusePemText(path: string, what: string): void {
  if (!path.includes("-----BEGIN ")) return; // a string test first: the pattern is compiled only for PEM-like text
  const m = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(path);
  if (!m) return;
  throw new InputError("PEM_TEXT_NOT_PATH", `the ${what} was given as PEM text (a "${m[1]}" block), not as the path of a file`, {
    hint: 'pass the file name (--certificate cert.pem, not --certificate "$(cat cert.pem)"); the text was not used or shown',
  });
}

/** The hint for a path not found that stands for a name of bytes that are not UTF-8 (standsForNameNotUtf8). */
export const NOT_UTF8 = "check the path; a name that is not UTF-8 shows � where its bytes are not, and this program cannot open it: rename it";

/** An OS error reading `path` as one input error naming `what` and the path. */
export function fileError(cause: unknown, path: string, what: string): InputError {
  if (cause instanceof InputError) return cause;
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") {
    if (path === "") return new InputError("FILE_NOT_FOUND", `no ${what} given: the path is empty`, { hint: "give the path of a file" });
    // Node reads argv, the environment and file names as UTF-8, each byte sequence that is not as U+FFFD: the file
    // named by other bytes exists, but no string names it, so no hint can (round 37, H3).
    const hint = standsForNameNotUtf8(path) ? NOT_UTF8 : "check the path";
    return new InputError("FILE_NOT_FOUND", `${what} ${path} does not exist`, { hint, cause });
  }
  if (code === "EACCES" || code === "EPERM") {
    return new InputError("FILE_UNREADABLE", `${what} ${path} cannot be read: permission denied`, {
      hint: "check the file's owner and mode",
      cause,
    });
  }
  if (code === "EFBIG" || code === "ETIMEDOUT") {
    const hint = code === "EFBIG" ? "check the path: certificates, keys, configs and PIN files are kilobytes at most" : "check what writes to it";
    return new InputError("FILE_UNREADABLE", `${what} ${path} ${(cause as Error).message}`, { hint, cause });
  }
  return new InputError("FILE_UNREADABLE", `${what} ${path} cannot be read: ${code ?? String(cause)}`, { cause });
}

/**
 * Whether the missing `path` stands for a name that is there but not UTF-8: the first of its components not found
 * holds U+FFFD and is what an entry of its directory with other bytes reads as. The string cannot tell: a byte
 * sequence that is not UTF-8 reached it as U+FFFD (argv, the environment, a config), and so did a real U+FFFD (EF BF
 * BD, valid UTF-8), typed in the name of a file that is simply missing. Only the directory can. Read on this error
 * only, and any failure to read it (a component that is a file, no permission) is "no".
 */
function standsForNameNotUtf8(path: string): boolean {
  if (!path.includes("\ufffd")) return false;
  const parts = path.split("/");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === "") continue; // the root's, or of a doubled slash; `.` and `..` are there, as any name found
    try {
      if (lstatSync(parts.slice(0, i + 1).join("/"), { throwIfNoEntry: false })) continue;
      if (!part.includes("\ufffd")) return false;
      const directory = parts.slice(0, i).join("/") || (path.startsWith("/") ? "/" : ".");
      return holdsOtherBytesFor(directory, part);
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * Whether `directory` holds a name of bytes other than `part`'s that reads as `part`. Read entry by entry up to the
 * first such name: a directory of 100,000 entries, read whole, took ~0.3 s and 50 MB more for one error's hint.
 */
function holdsOtherBytesFor(directory: string, part: string): boolean {
  const bytes = Buffer.from(part);
  // Node's types allow only text encodings here; "buffer" gives each entry's name as its bytes (Node 20 to 24).
  const dir = opendirSync(directory, { encoding: "buffer" as BufferEncoding });
  try {
    for (let entry = dir.readSync(); entry; entry = dir.readSync()) {
      const name = entry.name as unknown as Buffer;
      if (!name.equals(bytes) && name.toString("utf8") === part) return true;
    }
    return false;
  } finally {
    dir.closeSync();
  }
}
