import { randomBytes } from "node:crypto";
import { closeSync, constants, existsSync, openSync, statSync, type Stats } from "node:fs";
import { access, lstat, mkdir, open, readdir, realpath, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, isAbsolute, join } from "node:path";
import { InputError } from "../errors.js";
import { O_PATH, osError, setMadeDirectoryMode } from "./trusted-path.js";

/**
 * Which file was read, as it was (a write in place changes ctime): the rename replaces this and nothing else, and
 * root gives the new file this owner and group (not those of whatever is at the name when it looks again).
 */
export type TargetIdentity =
  | { readonly dev: number; readonly ino: number; readonly ctimeMs: number; readonly uid: number; readonly gid: number }
  | "absent";

/**
 * Replaces `path` with `data` so that readers see either the old or the new file, never a mix: an exclusive
 * temporary file in the same directory, fsync, rename, fsync of the directory (created 0700 when missing). A
 * symlinked target is written through; one that exists keeps its owner (when root writes) and group (root, or a
 * member of it rewriting its own file), else `mode` loses its group bits; returns the mode written. A target the
 * user cannot write (read-only mode, immutable flag) is refused: the rename would silently undo the user's choice.
 * With `replaces`, the rename happens only if the target is still the file that was read, unchanged (or still
 * absent): never over a user's edit made meanwhile, nor over a FIFO, socket or device put there since. With
 * `shownAs`, `path` is already resolved (e.g. /proc/self/fd/N/name, reached by a checked walk) and is not resolved
 * again by name; messages show `shownAs`. `setAcl` gives the temporary file of a target that exists its
 * ACL, before its chmod: with the mode it will have, undefined when it has not the target's owner and group.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
  options: { replaces?: TargetIdentity; shownAs?: string; setAcl?: (fd: number, mode: number | undefined) => void } = {},
): Promise<number> {
  const target = options.shownAs !== undefined ? path : await realpath(path).catch(() => path);
  const shown = options.shownAs ?? target;
  const dir = dirname(target);
  const cwd = workingDirectoryError(`cannot write ${shown}`, target);
  if (cwd) throw cwd;
  await makeDirectories(dir).catch((cause: NodeJS.ErrnoException) => {
    throw mkdirError(dirname(shown), cause);
  });
  await access(target, constants.W_OK).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code !== "ENOENT") throw writeError(`${shown} is not writable`, cause);
  });
  const was = options.replaces;
  const old = was === "absent" ? undefined : (was ?? (await lstat(target).catch(() => undefined)));
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let written = mode;
  try {
    // Owner-only until its owner and group are settled: never readable by a group it will not keep.
    const file = await open(tmp, "wx", mode & 0o700);
    try {
      // Root writing a file of another user's (update for a user's ~/.aws/credentials) leaves it theirs; others
      // keep its group where they may (their own file, a group they are in). EPERM (no CAP_CHOWN): stays ours.
      if (old) await file.chown(old.uid, old.gid).catch(() => {});
      // Group bits only for the owner and group the file had: another group (ours, a setgid directory's) would read it.
      const made = await file.stat();
      const kept = old && made.uid === old.uid && made.gid === old.gid;
      if (old && !kept) written = mode & ~0o070;
      // The caller's ACL before the chmod, which would rewrite its mask (no mode: not the file's owner or group).
      if (old) options.setAcl?.(file.fd, kept ? written : undefined);
      await file.chmod(written); // exactly: the umask may have removed bits; never any beyond `mode`
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    if (was !== undefined) {
      const now = await lstat(target).catch(() => undefined);
      const same = (n: NonNullable<typeof now>, w: Exclude<TargetIdentity, "absent">) =>
        n.isFile() && n.dev === w.dev && n.ino === w.ino && n.ctimeMs === w.ctimeMs;
      if (was === "absent" ? now !== undefined : !now || !same(now, was)) {
        throw new InputError("FILE_WRITE_FAILED", `${shown} changed while it was being updated; it was left as it is`, {
          hint: "another program changed or replaced the file; try again",
        });
      }
    }
    await rename(tmp, target);
  } catch (cause) {
    await unlink(tmp).catch(() => {});
    if (cause instanceof InputError) throw cause;
    throw writeError(`cannot write ${shown}`, cause as NodeJS.ErrnoException);
  }
  // Make the rename itself durable; not every file system supports fsync on a directory.
  const handle = await open(dir, "r").catch(() => undefined);
  await handle?.sync().catch(() => {});
  await handle?.close();
  await removeLeftovers(dir, basename(target));
  return written;
}

/**
 * `mkdir -p dir`, each directory it makes `mode` whatever the umask (777 would leave one nobody can enter, not even
 * to make the next); directories that were there keep their own mode.
 */
export async function makeDirectories(dir: string, mode = 0o700): Promise<void> {
  const missing: string[] = [];
  const absent = (at: string) => stat(at).then(() => false, (e: NodeJS.ErrnoException) => e.code === "ENOENT");
  for (let at = dir; dirname(at) !== at && (await absent(at)); at = dirname(at)) missing.unshift(at);
  // A file where the directory should be: ENOTDIR, as mkdir -p says, for mkdirError to name it.
  if (missing.length === 0 && !(await stat(dir)).isDirectory()) {
    throw osError("ENOTDIR", `${dir} is not a directory`);
  }
  for (const at of missing) {
    try {
      await mkdir(at, { mode });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "EEXIST") continue; // made meanwhile by another: not ours
      throw cause;
    }
    const byFd = process.platform === "linux" && existsSync("/proc/self/fd");
    const fd = byFd ? openSync(at, O_PATH | constants.O_NOFOLLOW | constants.O_DIRECTORY) : undefined;
    try {
      setMadeDirectoryMode(at, fd, mode);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}

/**
 * Removes the temporary files of `name` that writers killed mid-write (SIGKILL, SIGTERM to `update --once`) left,
 * each a full copy of the file (secrets): this user's regular files, their process gone, untouched for a minute.
 */
async function removeLeftovers(dir: string, name: string): Promise<void> {
  const uid = process.geteuid?.();
  for (const entry of await readdir(dir).catch(() => [])) {
    const pid = entry.startsWith(`.${name}.`) && /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(entry.slice(name.length + 2))?.[1];
    if (!pid || processExists(Number(pid))) continue;
    const info = await lstat(join(dir, entry)).catch(() => undefined);
    if (!info?.isFile() || info.uid !== uid || Date.now() - info.mtimeMs <= 60_000) continue;
    await unlink(join(dir, entry)).catch(() => {});
  }
}

/** Whether process `pid` exists on this host (EPERM: it does, as another user's). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The status of `path` (`lstatSync`: of a link itself), or undefined when it cannot be seen (not there, no access). */
export function statIfAny(path: string, stat: (path: string) => Stats = statSync): Stats | undefined {
  try {
    return stat(path);
  } catch {
    return undefined;
  }
}

/** Why `mkdir -p dir` failed; a file where a directory should be (EEXIST, ENOTDIR) is named, not given as an errno. */
export function mkdirError(dir: string, cause: NodeJS.ErrnoException): InputError {
  const cwd = workingDirectoryError(`cannot create directory ${dir}`, dir, cause);
  if (cwd) return cwd;
  let at = dir;
  let stats = statIfAny(at);
  for (; !stats && dirname(at) !== at; stats = statIfAny(at)) at = dirname(at);
  if (!["EEXIST", "ENOTDIR"].includes(cause.code ?? "") || !stats || stats.isDirectory()) {
    return writeError(`cannot create directory ${dir}`, cause);
  }
  const what = stats.isFile() ? "is a file, not a directory" : "is not a directory";
  return new InputError("FILE_WRITE_FAILED", `cannot create directory ${dir}: ${at} ${what}`, {
    cause,
    hint: `move ${at} out of the way, or give a path under an existing directory`,
  });
}

/**
 * For a relative `path` when the working directory cannot be looked into (mode 0, another user's): the error to
 * give instead of "cannot create directory .: EACCES", which does not say what is wrong.
 */
function workingDirectoryError(what: string, path: string, cause?: NodeJS.ErrnoException): InputError | undefined {
  if (isAbsolute(path)) return undefined;
  try {
    statSync(".");
    return undefined;
  } catch {
    // EACCES: the error below
  }
  const hint = "give an absolute path, or run from a directory this user can read";
  return new InputError("FILE_WRITE_FAILED", `${what}: the working directory cannot be read`, { cause, hint });
}

export function writeError(what: string, cause: NodeJS.ErrnoException): InputError {
  return new InputError("FILE_WRITE_FAILED", `${what}: ${cause.code ?? cause.message}`, {
    cause,
    hint: writeFailureHint(cause.code),
  });
}

/** What to do about a failed write to the credentials file, its lock or its temporary file, by errno. */
export function writeFailureHint(code: string | undefined): string | undefined {
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "check the owner and permissions of the file and its directory, and the immutable flag (lsattr); the file was left as it was";
    case "EROFS":
      return "the file system is mounted read-only; the file was left as it was";
    case "EFBIG":
      return "the file size limit (ulimit -f) is too small for it; the file was left as it was";
    case "ENOSPC":
    case "EDQUOT":
      return "the disk is full (or over quota): free some space; the file was left as it was";
    default:
      return undefined;
  }
}
