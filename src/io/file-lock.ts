import { randomBytes } from "node:crypto";
import { constants, readFileSync, readlinkSync } from "node:fs";
import { link, open, readdir, rename, stat, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { InputError } from "../errors.js";
import { processExists, writeFailureHint } from "./atomic-write.js";

/** A lock file older than this is stale unless its holder is seen alive on this host (holders renew it). */
const STALE_MS = 60_000;

/** What a caller says when the lock is held by a live process (`pid`: the holder's, "?" if unknown). */
type Busy = (lockPath: string, pid: string, timeoutMs: number) => { message: string; hint: string };

interface LockOptions {
  timeoutMs?: number;
  pollMs?: number;
  busy?: Busy;
}

/**
 * Runs `fn` while holding an advisory lock on `lockPath`. Node has no flock(2), so the lock is a file created
 * with O_CREAT|O_EXCL holding `pid host time random start`. A lock left by a crashed process is broken when its pid
 * no longer exists on this host (and pid namespace) or is another process (it started at another time), or when it
 * is older than STALE_MS (other hosts, e.g. on NFS; a holder whose start is unknown) unless that pid's process started
 * when the holder did: a holder stopped for minutes (SIGSTOP, a frozen cgroup) keeps its lock.
 * Breakers take turns ({@link breakLock}). Only cooperating writers (this tool) honour the lock.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const release = await holdFileLock(lockPath, options);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/**
 * Takes the lock of {@link withFileLock} until the returned function is called. While held, its time is renewed
 * every STALE_MS / 4, so a holder of minutes or days (serve) is not taken for a crashed one by its age.
 */
export async function holdFileLock(lockPath: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const { timeoutMs = 10_000, pollMs = 25, busy = updateBusy } = options;
  const token = await acquire(lockPath, timeoutMs, pollMs, busy);
  // Only while it is still ours: one taken over (stopped for a minute, seen from another host) is the new one's to age.
  const renew = setInterval(() => {
    readLock(lockPath).then((current) => {
      if (current !== token) return clearInterval(renew);
      const now = new Date();
      return utimes(lockPath, now, now);
    }).catch(() => {});
  }, STALE_MS / 4);
  renew.unref();
  return async (): Promise<void> => {
    clearInterval(renew);
    const current = await readLock(lockPath).catch(() => undefined);
    if (current === token) await unlink(lockPath).catch(() => {});
  };
}

function updateBusy(lockPath: string, pid: string, timeoutMs: number) {
  return {
    message: `${lockPath} is held by process ${pid}; gave up after ${Math.round(timeoutMs / 1000)} s`,
    hint: "another update is writing the same file; if no such process exists, delete the lock file",
  };
}

/**
 * Where a pid names this process: the host and its pid namespace. Containers sharing a volume often share the
 * hostname too (a Kubernetes pod) but not their pids: there, another's live holder looked gone and lost its lock.
 */
function pidScope(): string {
  try {
    return `${hostname()}/${readlinkSync("/proc/self/ns/pid")}`;
  } catch {
    return hostname();
  }
}

async function acquire(lockPath: string, timeoutMs: number, pollMs: number, busy: Busy): Promise<string> {
  const random = randomBytes(4).toString("hex");
  const token = `${process.pid} ${pidScope()} ${Date.now()} ${random} ${startTime("self") ?? "-"}\n`;
  const deadline = performance.now() + timeoutMs; // monotonic: a clock set back meanwhile does not stretch it
  for (;;) {
    if (await createLock(lockPath, token)) {
      await removeDeadBreakers(lockPath);
      return token;
    }
    const holder = await readLock(lockPath);
    if (holder !== undefined && (await isStale(lockPath, holder))) {
      const broken = await breakLock(lockPath, token);
      if (broken === true) continue;
      // Another user's lock in a directory with the sticky bit (/tmp): waiting would spin until it is removed.
      if (broken !== false) {
        throw new InputError("FILE_LOCKED", `${lockPath} is a stale lock that cannot be removed: ${broken}`, {
          hint: "its owner or root must delete it (its holder is gone); the file was left as it was",
        });
      }
    }
    if (performance.now() >= deadline) {
      const { message, hint } = busy(lockPath, /^\d+(?= )/.exec(holder ?? "")?.[0] ?? "?", timeoutMs);
      throw new InputError("FILE_LOCKED", message, { hint });
    }
    await delay(pollMs + Math.random() * pollMs);
  }
}

/** Creates the lock file `path` holding `token`; false if there is one. */
async function createLock(path: string, token: string): Promise<boolean> {
  let created = false;
  try {
    const file = await open(path, "wx", 0o600);
    created = true;
    // The umask may have removed bits (777: a lock nobody can read, so a crashed holder's is judged by age only).
    await file.chmod(0o600).then(() => file.writeFile(token)).finally(() => file.close());
    return true;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (!created && code === "EEXIST") return false;
    // Created but not written (disk full): an empty lock would hold off every writer until it is stale.
    if (created) await unlink(path).catch(() => {});
    throw new InputError("FILE_WRITE_FAILED", `cannot create lock file ${path}: ${code ?? "error"}`, { cause, hint: writeFailureHint(code) });
  }
}

/**
 * What a lock file holds (undefined: there is none). Only a regular file is one of ours: a FIFO put at its name
 * would block the read forever, a link to /dev/zero would fill memory, a link to another file would show its text.
 */
async function readLock(lockPath: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(lockPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    // Unreadable (another user's): judged by its age alone, as one still being written.
    if (code !== "ELOOP" && code !== "ENXIO") return "";
  }
  try {
    const info = await handle?.stat();
    if (!info?.isFile()) {
      throw new InputError("FILE_UNSAFE", `${lockPath} is not a lock file of this tool's (it is not a regular file)`, {
        hint: "remove it: this tool creates its lock files itself",
      });
    }
    const buffer = Buffer.alloc(1024); // a token is "pid host time random start", far less
    const { bytesRead } = await handle!.read(buffer, 0, buffer.length, 0);
    return buffer.toString("utf8", 0, bytesRead);
  } finally {
    await handle?.close();
  }
}

/**
 * When process `pid` started (field 22 of /proc/PID/stat), and in which boot: with the pid, which process it is. Ticks
 * since boot recur after a reboot (a boot-time service gets the same pid at the same tick), a boot id does not.
 */
function startTime(pid: number | "self"): string | undefined {
  try {
    // Its name (field 2) may hold spaces and ")": fields are counted from the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
    return `${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}@${boot}`;
  } catch {
    return undefined;
  }
}

/** Whether the holder, a process of this host, is gone (true) or alive (false); undefined when its pid cannot tell. */
function holderGone(holder: string): boolean | undefined {
  const pid = Number(/^\d+/.exec(holder)?.[0]);
  const here = `${pid} ${pidScope()} `; // a host name may hold spaces: matched whole, not split
  if (!holder.startsWith(here) || !(pid > 0)) return undefined;
  if (!processExists(pid)) return true;
  const [, , started = "-"] = holder.slice(here.length).trimEnd().split(" ");
  const now = started === "-" ? undefined : startTime(pid);
  if (now === started) return false;
  // Started at another tick: the pid is another process's now, whatever the lock's age.
  return now !== undefined && now.split("@")[0] !== started.split("@")[0] ? true : undefined;
}

async function isStale(lockPath: string, holder: string): Promise<boolean> {
  const gone = holderGone(holder);
  if (gone !== undefined) return gone;
  const info = await stat(lockPath).catch(() => undefined);
  // An empty file is a lock being written right now, unless it has been empty for a long time.
  // Either way: a time in the future (a clock set back, a planted file) would otherwise hold the lock for as long.
  return info !== undefined && Math.abs(Date.now() - info.mtimeMs) > STALE_MS;
}

/**
 * True once broken, or broken or released by another (retry at once); false while another process breaks it (wait);
 * else why it cannot be renamed. No call removes a name only if it still is a given file: breakers take turns (the
 * breaker's lock) and check again in theirs, so no other writer of this version removes the lock in between.
 */
async function breakLock(lockPath: string, token: string): Promise<boolean | string> {
  const breaker = await takeBreakerLock(lockPath, token);
  if (breaker === undefined) return false;
  try {
    const holder = await readLock(lockPath);
    if (holder === undefined || !(await isStale(lockPath, holder))) return true;
    const aside = asidePath(lockPath, token)!;
    try {
      await rename(lockPath, aside);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      return code === "ENOENT" ? true : (code ?? "error");
    }
    const moved = await readLock(aside).catch(() => undefined);
    if (moved !== holder) {
      // An older version's breaker (no breaker's lock) broke it and a live writer took it meanwhile: put it back
      // (fails only if a third took one).
      await link(aside, lockPath).catch(() => {});
    }
    await unlink(aside).catch(() => {});
    return true;
  } finally {
    await unlink(breaker).catch(() => {});
  }
}

/**
 * Takes the breaker's lock, `<lock>.break` (its path; undefined while a live process holds it). No breaker removes
 * another's (it could remove a live breaker's that replaced it meanwhile): a stale one is passed over for the next
 * name, `.break.1` and so on, until the lock's next holder removes it ({@link removeDeadBreakers}).
 */
async function takeBreakerLock(lockPath: string, token: string): Promise<string | undefined> {
  for (let n = 0; ; n++) {
    const path = breakerPath(lockPath, n);
    if (await createLock(path, token)) return path;
    const holder = await readLock(path);
    if (holder === undefined || !(await isStale(path, holder))) return undefined;
  }
}

const breakerPath = (lockPath: string, n: number) => (n === 0 ? `${lockPath}.break` : `${lockPath}.break.${n}`);

/**
 * Where the breaker of `token` moves the stale lock aside, `<lock>.stale.<pid>.<random>`: named by its token, so the
 * holder that finds its breaker's lock dead removes it too. Undefined for a token of no breaker of ours (a planted one
 * must not name a path elsewhere).
 */
function asidePath(lockPath: string, token: string): string | undefined {
  const pid = /^\d+(?= )/.exec(token)?.[0];
  const random = token.trimEnd().split(" ").at(-2) ?? "";
  return pid && /^[0-9a-f]{8}$/.test(random) ? `${lockPath}.stale.${pid}.${random}` : undefined;
}

/**
 * Removes the breaker's locks of breakers killed midway, once proven gone on this host (another host's stay: its
 * age cannot tell), and the stale lock such a breaker had moved aside (first: a crash here leaves no name unowned).
 * Safe while holding the lock: holders take turns and breakers remove only their own, so nobody can replace a dead
 * breaker's file between its read here and its removal (unless this holder was stopped until its lock was broken).
 */
async function removeDeadBreakers(lockPath: string): Promise<void> {
  // Every name, not up to the first missing: a breaker judged stale by its age removes its own when it finishes.
  const base = `${basename(lockPath)}.break`;
  for (const name of await readdir(dirname(lockPath)).catch(() => [base])) {
    if (!name.startsWith(base) || !/^(\.[1-9]\d*)?$/.test(name.slice(base.length))) continue;
    const holder = await readLock(join(dirname(lockPath), name)).catch(() => undefined);
    if (!holder || holderGone(holder) !== true) continue;
    const aside = asidePath(lockPath, holder);
    if (aside) await unlink(aside).catch(() => {});
    await unlink(join(dirname(lockPath), name)).catch(() => {});
  }
}
