import { constants, type Stats } from "node:fs";
import { lstat, open, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "../io/atomic-write.js";
import { InputError, shellWord } from "../errors.js";
import { fileKind } from "../io/trusted-path.js";

export interface OutputFileOptions {
  /** Says what the file is, for messages ("certificate request"). */
  readonly what: string;
  readonly overwrite?: boolean;
  readonly mode?: number;
  /** How hints name the option that replaces a file (default `--force`). */
  readonly force?: string;
}

/**
 * Writes a file the user named; never replaces one unless told to, and then only a regular file: a device would
 * swallow the data (a key lost, success reported) and a FIFO without a reader would block the write forever.
 */
export async function writeOutputFile(path: string, data: string | Uint8Array, options: OutputFileOptions): Promise<void> {
  const old = options.overwrite ? await stat(path).catch(() => undefined) : undefined;
  // Nothing there at the check: O_EXCL, or a link planted since (sticky /tmp) would be followed.
  const exclusive = !options.overwrite || !(await refuseOthers(options.what, path));
  if (old) {
    if (!old.isFile()) throw notRegular(options.what, path, fileKind(old));
    // A new file renamed over this one, never rewritten in place: a write that fails (EFBIG, ENOSPC) leaves it
    // whole. It keeps its mode, narrowed to the one asked for (a key file written over a 0644 one).
    await writeFileAtomic(path, data, old.mode & 0o777 & (options.mode ?? 0o777), { replaces: old });
    return;
  }
  const { O_WRONLY, O_CREAT, O_EXCL, O_NONBLOCK } = constants;
  // O_NONBLOCK: a FIFO without a reader is ENXIO at once. No O_TRUNC: nothing is truncated before the type is known.
  const flags = O_WRONLY | O_CREAT | O_NONBLOCK | (exclusive ? O_EXCL : 0);
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, flags, options.mode ?? 0o644);
    const info = await handle.stat();
    if (!info.isFile()) throw notRegular(options.what, path, fileKind(info));
    // A replaced file keeps its mode: narrow it to the one asked for (a key file replaced over a 0644 one).
    if (options.mode !== undefined && info.mode & 0o777 & ~options.mode) await handle.chmod(info.mode & options.mode & 0o777);
    await handle.truncate(0);
    await handle.writeFile(data);
  } catch (cause) {
    // Half a request or key file left behind would pass for one: the file made here goes (O_EXCL: ours).
    if (handle && exclusive) await unlink(path).catch(() => {});
    if (cause instanceof InputError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    const info = ["ENXIO", "EISDIR", "EEXIST"].includes(code!) ? await stat(path).catch(() => undefined) : undefined;
    if (info && !info.isFile()) throw notRegular(options.what, path, fileKind(info));
    if (code === "EEXIST" && options.overwrite) {
      const message = `${options.what} ${path} was created by another program meanwhile; it was left as it is`;
      throw new InputError("FILE_UNSAFE", message, { hint: UNSAFE_HINT });
    }
    if (code === "EEXIST") throw outputFileExists(options.what, path, options.force, cause);
    throw new InputError("FILE_WRITE_FAILED", `cannot write ${options.what} ${path}: ${code ?? String(cause)}`, { cause });
  } finally {
    await handle?.close();
  }
}

function notRegular(what: string, path: string, kind: string): InputError {
  return new InputError("FILE_NOT_REGULAR", `${what} ${path} is ${kind}, not a regular file; it was left as it is`, {
    hint: "choose the path of a regular file, or one that does not exist yet",
  });
}

/** Refuses up front (before a key is generated) what {@link writeOutputFile} would refuse for an existing path. */
export async function checkOutputFile(what: string, path: string, overwrite: boolean | undefined, force?: string) {
  const parent = dirname(path);
  if (await stat(parent).then(() => false, (cause: NodeJS.ErrnoException) => cause.code === "ENOENT")) {
    const message = `cannot write ${what} ${path}: the directory ${parent} does not exist`;
    throw new InputError("FILE_WRITE_FAILED", message, { hint: `create it first: mkdir -p -m 700 ${shellWord(parent)}` });
  }
  const info = await stat(path).catch(() => undefined);
  if (info && !info.isFile()) throw notRegular(what, path, fileKind(info));
  if (info && !overwrite) throw outputFileExists(what, path, force);
  if (overwrite) await refuseOthers(what, path);
}

/**
 * Another user's file or link there (sticky /tmp): --force would chown the key to them, or follow their link (one
 * that leads nowhere too: the file would be created where it points).
 */
async function refuseOthers(what: string, path: string): Promise<Stats | undefined> {
  const entry = await lstat(path).catch(() => undefined);
  if (entry && entry.uid !== process.geteuid?.() && (entry.isFile() || entry.isSymbolicLink())) {
    const message = `${what} ${path} exists and belongs to uid ${entry.uid} (another user); it was left as it is`;
    throw new InputError("FILE_UNSAFE", message, { hint: UNSAFE_HINT });
  }
  return entry;
}

const UNSAFE_HINT = "choose another path, in a directory only this user can write";

/** The refusal to replace a file the user named without --force (`force`: how the caller gives it). */
function outputFileExists(what: string, path: string, force = "--force", cause?: unknown): InputError {
  const hint = `choose another path, or pass ${force} to replace it`;
  return new InputError("OBJECT_EXISTS", `${what} ${path} already exists`, { hint, cause });
}
