import {
  chmodSync, closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, statSync,
  type Stats,
} from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { InputError, type ErrorCode } from "../errors.js";
import { MAP_YOUR_USER, ownedByOrRoot, ownerText, rootsOwner, unmappedOwner, unmappedSelfText } from "../user-namespace.js";

/**
 * Paths that steer the process (the config file, a PKCS#11 module it names, the agent socket, the ECS env
 * directory) are trusted only when no other user can have put them there or swap them: OpenSSH's rule for
 * ~/.ssh/config, applied to every directory from `/` down. Each directory on the way is held open and the next
 * one reached through it (`/proc/self/fd/N/name`), so that what is checked is what is used. Symbolic links are
 * followed only when they belong to the user or root. Without /proc/self/fd (not Linux) components are reached
 * by name with the same checks, which a racing attacker could defeat (SECURITY.md).
 */

/** Linux's O_PATH (not in fs.constants): a descriptor that names an entry without opening it (sockets too). */
export const O_PATH = 0o10000000;
const MAX_LINKS = 40;
const S_ISVTX = 0o1000;

/** What a directory tells of its entries' owners (rootsOwner): its mode, and whether it is, or is below, another user's. */
export interface OwnerRule {
  readonly mode: number;
  readonly theirs: boolean;
}

/** A directory reached by a checked walk (`path`: links resolved, for messages); `entry(name)` reaches `name` in it. */
export interface CheckedDirectory {
  readonly path: string;
  readonly stats: Stats;
  /** The directory holding it (none for /): whose owner counts as root depends on it (rootsOwner). */
  readonly within: OwnerRule | undefined;
  /** Its own, for its entries' owners. */
  readonly rule: OwnerRule;
  entry(name: string): string;
  close(): void;
}

/** The last component of a checked walk: the directory holding it (open), and the entry's lstat if it exists. */
export interface CheckedEntry {
  readonly directory: CheckedDirectory;
  readonly name: string;
  readonly path: string;
  readonly stats: Stats | undefined;
}

/** `uid`: whose path this is (every directory and link on the way is this uid's or root's); `createMode`: for missing directories. */
interface WalkOptions {
  readonly uid: number;
  readonly createMode?: number;
  /** Check only the symbolic links on the way, not the directories (a file the user may keep anywhere). */
  readonly linksOnly?: boolean;
}

/** A path that fails the rule: `reason` says which component and why, for the caller's one-line message. */
export class UntrustedPathError extends InputError {
  constructor(readonly reason: string) {
    super("FILE_UNSAFE", reason);
  }
}

/**
 * Walks to the last component of `path`, checking every directory and symbolic link on the way (the last
 * component too, when it is a link). Throws UntrustedPathError, or the OS error (ENOENT, ENOTDIR, EACCES,
 * ELOOP) when a directory on the way cannot be reached. The caller closes `entry.directory`.
 */
export function walkToEntry(path: string, options: WalkOptions): CheckedEntry {
  const byFd = process.platform === "linux" && existsSync("/proc/self/fd");
  // Not path.resolve(): '..' after a symbolic link means the parent of where the link leads, as for the kernel.
  const pending = components(isAbsolute(path) ? path : `${process.cwd()}/${path}`);
  const stack: Directory[] = [Directory.root(byFd, options.uid)];
  let links = 0;
  try {
    if (!options.linksOnly) checkDirectoryRule(stack[0]!, options.uid);
    for (;;) {
      const name = pending.shift();
      const current = stack[stack.length - 1]!;
      // A path ending in '..' reaches this too: the '..' is taken below, then nothing is left.
      if (name === undefined) throw osError("EISDIR", `${path} does not end in a file name`);
      if (name === "..") {
        if (stack.length > 1) stack.pop()!.close();
        continue;
      }
      const last = pending.length === 0;
      const found = current.lookOrMake(name, last ? undefined : options.createMode);
      if (found?.stats.isSymbolicLink()) {
        closeFd(found.fd);
        if (++links > MAX_LINKS) throw osError("ELOOP", `too many symbolic links in ${path}`);
        checkOwner(found.stats, `symbolic link ${join(current.path, name)}`, options.uid, current.rule);
        // Its owner put it at one name; another user may have hard-linked it here (where fs.protected_hardlinks=0).
        // Not in a directory only the user or root can write: Nix's store hard-links its identical symbolic links.
        const closed = !current.rule.theirs && (current.stats.mode & 0o022) === 0;
        if (found.stats.nlink > 1 && !closed) {
          const why = "in a directory others can write to: another user may have made this one";
          throw new UntrustedPathError(`symbolic link ${join(current.path, name)} has ${found.stats.nlink} names (hard links), ${why}`);
        }
        const target = readlinkSync(current.entry(name));
        if (target.startsWith("/")) {
          while (stack.length > 1) stack.pop()!.close();
        }
        pending.unshift(...components(target));
        continue;
      }
      if (last) {
        closeFd(found?.fd);
        stack.pop();
        for (const d of stack) d.close();
        return { directory: current, name, path: join(current.path, name), stats: found?.stats };
      }
      const next = openFound(found, join(current.path, name), current, options.uid);
      stack.push(next);
      if (!options.linksOnly) checkDirectoryRule(next, options.uid);
    }
  } catch (error) {
    for (const d of stack) d.close();
    throw error;
  }
}

/**
 * Opens the directory `path` itself through a checked walk (creating it with `createMode` when missing).
 * Every directory above it is checked; the caller applies its own rule to this one (e.g.
 * {@link checkDirectoryRule}) and closes it.
 */
export function openCheckedDirectory(path: string, options: WalkOptions): CheckedDirectory {
  const entry = walkToEntry(path, options); // stops at the parent, with the directory as its entry
  try {
    const directory = entry.directory as Directory;
    return openFound(directory.lookOrMake(entry.name, options.createMode), entry.path, directory, options.uid);
  } finally {
    entry.directory.close();
  }
}

/**
 * Opens the regular file `path` for reading after a checked walk: the file and its directory must belong to
 * the user or root and be writable by nobody else. The caller closes `fd`.
 */
export function openCheckedFile(path: string, what: string, uid: number): { fd: number; stats: Stats; path: string } {
  const entry = walkToEntry(path, { uid });
  try {
    if (!entry.stats) throw osError("ENOENT", `${entry.path} does not exist`);
    const directory = `the directory of ${what} ${entry.path}, ${entry.directory.path},`;
    checkNotWritable(entry.directory.stats, directory);
    // O_NONBLOCK: a FIFO is refused below at once instead of waiting for a writer (forever, without one).
    const fd = openSync(entry.directory.entry(entry.name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const stats = fstatSync(fd);
      if (stats.ino !== entry.stats.ino || stats.dev !== entry.stats.dev) {
        throw new UntrustedPathError(`${what} ${entry.path} was replaced while it was being checked`);
      }
      if (!stats.isFile()) {
        throw new InputError("FILE_NOT_REGULAR", `${what} ${entry.path} is not a regular file`, { hint: "give the path of a file" });
      }
      checkOwner(stats, `${what} ${entry.path}`, uid);
      checkNotWritable(stats, `${what} ${entry.path}`);
      return { fd, stats, path: entry.path };
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  } finally {
    entry.directory.close();
  }
}

/**
 * `home` when it is absolute. A default path under an empty or relative HOME would land in whatever directory the
 * process was started from, so there is then no default `what`: `hint` says how to name one. Nor for root under
 * another user's HOME (`sudo -E`, a sudo that keeps HOME), or one others can write to: root's secrets would land where
 * that user can take them.
 */
export function absoluteHome(home: string, code: ErrorCode, what: string, hint: string, uid = process.geteuid?.()): string {
  if (!isAbsolute(home)) throw new InputError(code, `no default ${what}: HOME ('${home}') is not an absolute path`, { hint });
  let owner = 0;
  try {
    if (uid === 0) owner = statSync(home).uid;
  } catch {
    // No such directory (HOME=/nonexistent): the walk below checks who could make it; other errors come when used.
  }
  const options = { hint: `that user could read what root puts there: ${hint}, or run with root's HOME (sudo -H)` };
  const message = `no default ${what} for root: HOME (${home})`;
  if (!rootsOwner(owner)) throw new InputError(code, `${message} belongs to ${ownerText(owner)}`, options);
  try {
    // Checked once, used for hours (update): a directory or link of another user's on the way lets her swap HOME.
    if (uid === 0) checkRootsAlone(home);
  } catch (error) {
    if (!(error instanceof UntrustedPathError)) return home;
    throw new InputError(code, `${message} is not root's alone: ${error.reason}`, options);
  }
  return home;
}

/**
 * HOME, or where it is missing the directory it would be made in, passes the walk and nobody else can write it, sticky
 * (/tmp) or not: others could make the default file's directory (~/.aws) there first, and keep it theirs.
 */
function checkRootsAlone(home: string): void {
  for (let at = home; ; at = dirname(at)) {
    let entry: CheckedEntry;
    try {
      entry = walkToEntry(join(at, "-"), { uid: 0 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" && at !== "/") continue;
      throw error;
    }
    try {
      return checkNotWritable(entry.directory.stats, `directory ${entry.directory.path}`);
    } finally {
      entry.directory.close();
    }
  }
}

/** Checks a file without keeping it open (e.g. a PKCS#11 module named by the config file, loaded later by name). */
export function checkTrustedFile(path: string, what: string, uid: number): void {
  closeSync(openCheckedFile(path, what, uid).fd);
}

/** The rule for a directory on the way: owned by the user or root, not writable by group or others unless sticky. */
export function checkDirectoryRule(dir: CheckedDirectory, uid: number): void {
  checkOwner(dir.stats, `directory ${dir.path}`, uid, dir.within);
  if ((dir.stats.mode & 0o022) !== 0 && (dir.stats.mode & S_ISVTX) === 0) {
    throw new UntrustedPathError(`directory ${dir.path} can be written by other users (mode ${modeText(dir.stats)})`);
  }
}

/** Owned by `uid` or root (ownedByOrRoot; `within`: the directory it is in). `what` reads as the subject of "belongs to uid N". */
export function checkOwner(stats: Stats, what: string, uid: number, within?: OwnerRule): void {
  if (ownedByOrRoot(stats.uid, uid, within)) return;
  if (stats.uid !== uid || !unmappedOwner(uid)) throw new UntrustedPathError(`${what} belongs to ${ownerText(stats.uid)}, not to this user (${uid}) or root`);
  throw new UntrustedPathError(`${what} may be another user's: ${unmappedSelfText(uid)}; ${MAP_YOUR_USER}`);
}

/** Not writable by group or others, sticky bit or not. */
export function checkNotWritable(stats: Stats, what: string): void {
  if ((stats.mode & 0o022) !== 0) throw new UntrustedPathError(`${what} can be written by other users (mode ${modeText(stats)})`);
}

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/** An error shaped like the OS's own (`code`), for a condition found without a system call. */
export function osError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** A directory found on the way, opened as the next step (ENOENT or ENOTDIR otherwise). */
function openFound(found: Found | undefined, path: string, within: Directory, uid: number): Directory {
  if (!found) throw osError("ENOENT", `${path} does not exist`);
  if (!found.stats.isDirectory()) {
    closeFd(found.fd);
    throw osError("ENOTDIR", `${path} is not a directory`);
  }
  return new Directory(path, found.stats, found.fd, within, uid);
}

/** A checked walk's OS error for a directory the user named, in words ("does not exist"), else its code. */
export function directoryErrorText(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "does not exist";
  if (code === "ENOTDIR") return "is not a directory";
  if (code === "EISDIR") return "must name a directory below / (not a path ending in ..)";
  return `cannot be used: ${code ?? (cause as Error).message}`;
}

export function modeText(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8);
}

/** Linux's sun_path: the OS cuts a longer UNIX socket path, so bind and connect would reach another path or none. */
export const MAX_SOCKET_PATH_BYTES = 108;

/**
 * Gives a directory this process just made `mode` whatever the umask: through `fd` (O_PATH, O_NOFOLLOW) where there
 * is one, never what a link put at `path` since would name, and only when it is this user's (one another user put
 * there since is not ours to chmod, as root could). Whether it did.
 */
export function setMadeDirectoryMode(path: string, fd: number | undefined, mode: number): boolean {
  const info = fd === undefined ? lstatSync(path) : fstatSync(fd);
  const uid = process.geteuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) return false;
  chmodSync(fd === undefined ? path : `/proc/self/fd/${fd}`, mode);
  return true;
}

/** What a path is, in words, for messages: "a FIFO", "a directory", … */
export function fileKind(stats: Stats): string {
  if (stats.isFile()) return "a regular file";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isSocket()) return "a socket";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isDirectory()) return "a directory";
  if (stats.isSymbolicLink()) return "a symbolic link";
  return "not a file";
}

/** An entry looked at inside a directory: its own stats (never a link's target) and, on Linux, an O_PATH descriptor. */
interface Found {
  readonly stats: Stats;
  readonly fd: number | undefined;
}

function closeFd(fd: number | undefined): void {
  if (fd !== undefined) closeSync(fd);
}

class Directory implements CheckedDirectory {
  readonly within: OwnerRule | undefined;
  /**
   * `theirs` when it is neither this user's nor root's by rootsOwner (in a user namespace, one of the unmapped owner in
   * /tmp, or in such a directory): her entries in it show the same id as root's, and are hers too.
   */
  readonly rule: OwnerRule;

  constructor(
    readonly path: string,
    readonly stats: Stats,
    private fd: number | undefined,
    parent: Directory | undefined,
    uid: number,
  ) {
    this.within = parent?.rule;
    this.rule = { mode: stats.mode, theirs: !ownedByOrRoot(stats.uid, uid, parent?.rule) };
  }

  static root(byFd: boolean, uid: number): Directory {
    if (!byFd) return new Directory("/", lstatSync("/"), undefined, undefined, uid);
    const fd = openSync("/", O_PATH | constants.O_DIRECTORY);
    return new Directory("/", fstatSync(fd), fd, undefined, uid);
  }

  entry(name: string): string {
    return this.fd === undefined ? join(this.path, name) : `/proc/self/fd/${this.fd}/${name}`;
  }

  /** What `name` is, without following it; undefined when nothing is there. */
  look(name: string): Found | undefined {
    const entry = this.entry(name);
    if (this.fd === undefined) {
      const stats = lstatSync(entry, { throwIfNoEntry: false });
      return stats && { stats, fd: undefined };
    }
    try {
      const fd = openSync(entry, O_PATH | constants.O_NOFOLLOW);
      return { stats: fstatSync(fd), fd };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  /**
   * With `createMode`, creates a missing directory first, with that mode whatever the umask (a directory that was
   * there already keeps its own); one someone else made first is checked like any other.
   */
  lookOrMake(name: string, createMode: number | undefined): Found | undefined {
    const found = this.look(name);
    if (found || createMode === undefined) return found;
    try {
      mkdirSync(this.entry(name), { mode: createMode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      return this.look(name);
    }
    const made = this.look(name);
    if (!made || !setMadeDirectoryMode(this.entry(name), made.fd, createMode)) return made;
    return { stats: made.fd === undefined ? lstatSync(this.entry(name)) : fstatSync(made.fd), fd: made.fd };
  }

  close(): void {
    closeFd(this.fd);
    this.fd = undefined;
  }
}
