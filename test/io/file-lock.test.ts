/** The advisory lock file (src/io/file-lock.ts): renewed while held, one that cannot be written, a break race. */
import { execFileSync } from "node:child_process";
import {
  existsSync, mkdtempSync, readdirSync, symlinkSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { afterAll, describe, expect, it, vi } from "vitest";
import { workOf } from "../helpers/work-counted.js";

/** A live holder's token, for this process: never stale. */
const LIVE = `${process.pid} ${hostname()}/${readlinkSync("/proc/self/ns/pid")} ${Date.now()} live\n`;
/** Another live holder's token (a third writer). */
const THIRD = LIVE.replace(" live\n", " third\n");
/** third.lock: the writer that breaks the stale lock and takes it while another breaker is between its check and its break. */
const second: { release?: () => Promise<void>; token?: string } = {};
/** pair.lock: what a breaker arriving while another breaks the same stale lock got. */
const arriving: { result?: unknown } = {};

vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  // full.lock: created, but the disk is full when its token is written.
  // emfile.lock: out of descriptors when it is created (the error comes before the name is looked up);
  // unreadable.lock: another user's, mode 0600 (the tests run as root, who reads everything).
  const open = (async (path: string, ...rest: unknown[]) => {
    if (String(path).endsWith("emfile.lock") && rest[0] === "wx") {
      throw Object.assign(new Error("EMFILE: too many open files, open"), { code: "EMFILE" });
    }
    if (String(path).includes("unreadable.lock") && rest[0] !== "wx") { // and its name once moved aside
      throw Object.assign(new Error("EACCES: permission denied, open"), { code: "EACCES" });
    }
    const handle = await (fs.open as (...a: unknown[]) => ReturnType<typeof fs.open>)(path, ...rest);
    if (!String(path).endsWith("full.lock") || rest[0] !== "wx") return handle;
    return Object.assign(Object.create(handle) as typeof handle, {
      writeFile: async () => {
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      },
      chmod: (mode: number) => handle.chmod(mode),
      close: () => handle.close(),
    });
  }) as typeof fs.open;
  // race.lock: a live writer takes the lock between the stale check and the rename that breaks it;
  // released.lock: its holder removes it there; sticky.lock: another user's in a sticky directory (/tmp).
  const rename = (async (from: string, to: string) => {
    if (String(from).endsWith("race.lock")) {
      await fs.unlink(from);
      await fs.writeFile(from, LIVE);
    }
    if (String(from).endsWith("released.lock")) await fs.unlink(from);
    // third.lock: once a live lock (not the stale one) is moved aside, a third writer takes the free name.
    if (String(from).endsWith("third.lock")) {
      await fs.rename(from, to);
      if ((await fs.readFile(to, "utf8")) !== "1 other-host 0 stale\n") await fs.writeFile(from, THIRD, { flag: "wx" });
      return;
    }
    // pair.lock: another writer comes to break the same stale lock while the first breaks it (holds the breaker's lock).
    if (String(from).endsWith("pair.lock") && !("result" in arriving)) {
      arriving.result = undefined;
      arriving.result = await withFileLock(from, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
    }
    if (String(from).endsWith("sticky.lock")) {
      throw Object.assign(new Error("EPERM: operation not permitted, rename"), { code: "EPERM" });
    }
    return fs.rename(from, to);
  }) as typeof fs.rename;
  // vanishing.lock: released by its holder between the read and the look at its age.
  const stat = (async (path: string, ...rest: unknown[]) => {
    if (String(path).endsWith("vanishing.lock")) await fs.unlink(path).catch(() => {});
    const info = await (fs.stat as (...a: unknown[]) => ReturnType<typeof fs.stat>)(path, ...rest);
    // third.lock: right after a writer has seen the lock's age (stale), another breaks it and takes it.
    if (String(path).endsWith("third.lock") && !second.release) {
      second.release = async () => {};
      second.release = await holdFileLock(String(path));
      second.token = await fs.readFile(path, "utf8");
    }
    return info;
  }) as typeof fs.stat;
  return { ...fs, default: { ...fs, open, rename, stat }, open, rename, stat };
});
const { holdFileLock, withFileLock } = await import("../../src/io/file-lock.js");

const dir = mkdtempSync(join(tmpdir(), "raa-file-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("holdFileLock", () => {
  it("renews the lock's time while it is held: a holder of minutes is not taken for a crashed one", async () => {
    const lock = join(dir, "held.lock");
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const release = await holdFileLock(lock);
      const old = new Date(Date.now() - 50_000);
      utimesSync(lock, old, old);
      vi.advanceTimersByTime(15_000);
      await vi.waitFor(() => expect(statSync(lock).mtimeMs).toBeGreaterThan(Date.now() - 10_000), { timeout: 2_000 });
      await release();
      expect(existsSync(lock)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it("stops renewing a lock taken over by another (it was stopped past a minute): the new holder's lock ages", async () => {
    // Renewed on, a new holder that crashed would leave a lock kept fresh by us: nobody could break it.
    const lock = join(dir, "taken-over-renew.lock");
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const release = await holdFileLock(lock);
      writeFileSync(lock, THIRD);
      const old = new Date(Date.now() - 50_000);
      utimesSync(lock, old, old);
      vi.advanceTimersByTime(15_000);
      await vi.waitFor(() => expect(vi.getTimerCount()).toBe(0), { timeout: 2_000 });
      expect(statSync(lock).mtimeMs).toBeLessThan(Date.now() - 40_000);
      await release();
      expect(readFileSync(lock, "utf8")).toBe(THIRD);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a release after the lock was taken over leaves the new holder's lock: only its own is removed", async () => {
    const lock = join(dir, "taken-over.lock");
    const release = await holdFileLock(lock);
    writeFileSync(lock, THIRD);
    await release();
    expect(readFileSync(lock, "utf8")).toBe(THIRD);
  });
});

describe("withFileLock", () => {
  it("a live holder whose lock is over a minute old (it was stopped: SIGSTOP, a frozen cgroup) keeps it", async () => {
    // Before: broken by its age alone, so a second serve took the first one's --ecs-env-dir while it was frozen.
    const lock = join(dir, "frozen.lock");
    const release = await holdFileLock(lock);
    const token = readFileSync(lock, "utf8");
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    const error = await withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "FILE_LOCKED", message: expect.stringContaining(`held by process ${process.pid}`) });
    expect(readFileSync(lock, "utf8")).toBe(token);
    await release();
    expect(existsSync(lock)).toBe(false);
  });

  it("a wait for a busy lock lasts its timeout when the clock is set back an hour meanwhile (NTP's first step)", async () => {
    // Before: the deadline was read from Date.now(), so the wait went on for the hour; a step forward gave up at once.
    // Both clocks are virtual, moved on by each pause the wait makes: a 1 s wait in pauses of 10 ms or more is 101 at most,
    // an hour's is 240,000 (the budget stops it at the 102nd).
    const lock = join(dir, "clock-step.lock");
    const release = await holdFileLock(lock);
    const wallClock = Date.now();
    let waited = 0;
    const monotonic = vi.spyOn(performance, "now").mockImplementation(() => waited);
    const clock = vi.spyOn(Date, "now").mockImplementation(() => wallClock + waited - (waited > 0 ? 3_600_000 : 0)); // set back once the wait began
    try {
      const timers = createRequire(import.meta.url)("node:timers/promises");
      const { result: error, work: pauses } = await workOf(timers, "setTimeout", () =>
        withFileLock(lock, async () => "ran", { timeoutMs: 1_000, pollMs: 10 }).catch((e: unknown) => e), {
        budget: 1_000 / 10 + 1,
        weigh: (_, [ms]) => ((waited += Number(ms)), 1),
      });
      expect(error).toMatchObject({ code: "FILE_LOCKED" });
      expect(pauses).toBeGreaterThanOrEqual(1_000 / 20); // each 10 to 20 ms
      expect(waited).toBeGreaterThanOrEqual(1_000);
      expect(waited).toBeLessThan(1_000 + 20);
    } finally {
      monotonic.mockRestore();
      clock.mockRestore();
      await release();
    }
  });

  it("an old lock naming a live pid of another process (the pid reused after a crash), or no start time: broken", async () => {
    const scope = `${hostname()}/${readlinkSync("/proc/self/ns/pid")}`;
    for (const holder of [`${process.ppid} ${scope} 0 reused 0`, `${process.pid} ${scope} 0 reused 1`, `${process.pid} ${scope} 0 older`]) {
      const lock = join(dir, "reused.lock");
      writeFileSync(lock, `${holder}\n`);
      const old = new Date(Date.now() - 120_000);
      utimesSync(lock, old, old);
      await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }), holder).resolves.toBe("ran");
      expect(existsSync(lock)).toBe(false);
    }
  });

  it("a fresh lock naming a live pid that started at another time (the pid reused after a crash): broken at once", async () => {
    // Before: held until a minute old, so a serve restarted at once was refused, naming an unrelated process.
    const stat = readFileSync("/proc/self/stat", "latin1");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
    const scope = `${hostname()}/${readlinkSync("/proc/self/ns/pid")}`;
    const lock = join(dir, "reused-fresh.lock");
    for (const started of [`${ticks + 1}@${boot}`, `${ticks + 1}`]) {
      writeFileSync(lock, `${process.pid} ${scope} ${Date.now()} reused ${started}\n`);
      await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }), started).resolves.toBe("ran");
    }
    // The same tick in another boot, or no start recorded: only its age tells.
    for (const started of [`${ticks}@00000000-0000-4000-8000-000000000000`, "-"]) {
      writeFileSync(lock, `${process.pid} ${scope} ${Date.now()} fresh ${started}\n`);
      const error = await withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
      expect(error, started).toMatchObject({ code: "FILE_LOCKED" });
    }
  });

  it("an old lock from before a reboot, whose pid and start time a process has again (a boot-time service): broken", async () => {
    // Before: a pid and a start time (clock ticks since boot) recur across reboots, so a crashed holder's lock left on
    // disk was held for ever by whatever process, even this one, got both again.
    const stat = readFileSync("/proc/self/stat", "latin1");
    const ticks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    const scope = `${hostname()}/${readlinkSync("/proc/self/ns/pid")}`;
    for (const started of [ticks, `${ticks}@00000000-0000-4000-8000-000000000000`]) {
      const lock = join(dir, "rebooted.lock");
      writeFileSync(lock, `${process.pid} ${scope} 0 before-reboot ${started}\n`);
      const old = new Date(Date.now() - 120_000);
      utimesSync(lock, old, old);
      await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }), started).resolves.toBe("ran");
    }
  });

  it("a lock file created but not written (disk full): removed, and the error says why", async () => {
    const lock = join(dir, "full.lock");
    const error = await withFileLock(lock, async () => "ran").catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "FILE_WRITE_FAILED",
      message: `cannot create lock file ${lock}: ENOSPC`,
      hint: "the disk is full (or over quota): free some space; the file was left as it was",
    });
    // An empty lock left there would hold off every writer for a minute.
    expect(existsSync(lock)).toBe(false);
  });

  it("breaking a stale lock that a live writer took meanwhile puts the live one back, and waits for it", async () => {
    // Meanwhile (this one holding the breaker's lock): a breaker of an older version, which takes none, broke it.
    const lock = join(dir, "race.lock");
    writeFileSync(lock, "1 other-host 0 stale\n");
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    const error = await withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
    const held = expect.stringContaining(`held by process ${process.pid}`);
    expect(error).toMatchObject({ code: "FILE_LOCKED", message: held });
    expect(readFileSync(lock, "utf8")).toBe(LIVE);
  });

  it("breaking a stale lock with three writers: the live writer's lock survives a third taking the name meanwhile", async () => {
    // Before: the first breaker, having seen the lock stale, renamed the lock the second had broken and taken
    // meanwhile; a third took the free name before it was put back: the second and the third both held "the" lock.
    const lock = join(dir, "third.lock");
    delete second.release; // the hooks act once per run: Stryker runs this file again in the same process
    writeFileSync(lock, "1 other-host 0 stale\n");
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    const error = await withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "FILE_LOCKED", message: expect.stringContaining(`held by process ${process.pid}`) });
    expect(second.token).toMatch(new RegExp(`^${process.pid} `));
    expect(readFileSync(lock, "utf8")).toBe(second.token); // was THIRD: the second writer, still running, lost its lock
    await second.release!();
    expect(readdirSync(dir).filter((name) => name.startsWith("third.lock"))).toEqual([]);
  });

  it("two writers breaking the same stale lock: the second waits for the first's break, then for its lock", async () => {
    const lock = join(dir, "pair.lock");
    delete arriving.result;
    writeFileSync(lock, "1 other-host 0 stale\n");
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 })).resolves.toBe("ran");
    // It came while the first held the breaker's lock (before: it broke the lock itself, under the first one's rename).
    expect(arriving.result).toMatchObject({ code: "FILE_LOCKED", message: `${lock} is held by process 1; gave up after 0 s` });
    expect(readdirSync(dir).filter((name) => name.startsWith("pair.lock"))).toEqual([]);
  });

  it("a crashed breaker's lock is passed over, then removed by the lock's next holder if gone here (never another host's); a live breaker's is waited for", async () => {
    const old = new Date(Date.now() - 120_000);
    const lock = join(dir, "crashed.lock");
    writeFileSync(lock, "1 other-host 0 stale\n");
    utimesSync(lock, old, old);
    const scope = `${hostname()}/${readlinkSync("/proc/self/ns/pid")}`;
    const crashed = { "crashed.lock.break": `999999999 ${scope} 0 crashed -\n`, "crashed.lock.break.1": "1 other-host 0 crashed\n" };
    for (const [name, holder] of Object.entries(crashed)) writeFileSync(join(dir, name), holder);
    utimesSync(join(dir, "crashed.lock.break.1"), old, old); // another host's: by its age
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 })).resolves.toBe("ran");
    // Before: both stayed for good. Another host's may belong to a live breaker (its age cannot tell): kept.
    expect(readFileSync(join(dir, "crashed.lock.break.1"), "utf8")).toBe(crashed["crashed.lock.break.1"]);
    expect(readdirSync(dir).filter((name) => name.startsWith("crashed.lock")).sort()).toEqual(["crashed.lock.break.1"]);
    // A live breaker between its check and its rename (a slow one): nobody else breaks the lock meanwhile.
    const waited = join(dir, "breaking.lock");
    writeFileSync(waited, "1 other-host 0 stale\n");
    utimesSync(waited, old, old);
    writeFileSync(`${waited}.break`, LIVE);
    const error = await withFileLock(waited, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "FILE_LOCKED", message: `${waited} is held by process 1; gave up after 0 s` });
    expect(readFileSync(waited, "utf8")).toBe("1 other-host 0 stale\n");
    expect(readFileSync(`${waited}.break`, "utf8")).toBe(LIVE);
  });

  it("a fresh lock of a holder on another host or in another pid namespace (a pod) whose pid is not here: kept", async () => {
    // Its pid means nothing here: only its age tells whether it is stale.
    const ns = readlinkSync("/proc/self/ns/pid") === "pid:[1]" ? "pid:[2]" : "pid:[1]";
    for (const scope of ["other-host", `${hostname()}/${ns}`]) {
      const lock = join(dir, "elsewhere.lock");
      const holder = `99999999 ${scope} ${Date.now()} elsewhere -\n`;
      writeFileSync(lock, holder);
      const error = await withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
      expect(error, scope).toMatchObject({
        code: "FILE_LOCKED",
        message: `${lock} is held by process 99999999; gave up after 0 s`,
        hint: "another update is writing the same file; if no such process exists, delete the lock file",
      });
      expect(readFileSync(lock, "utf8")).toBe(holder);
    }
  });

  it("a lock that cannot be created (no such directory, no descriptor left): said at once; another's lock left", async () => {
    const missing = join(dir, "no-such-directory", "x.lock");
    // Not the wait for a busy lock: no pause between tries (timers/promises' setTimeout) at all
    const { result: error, work: pauses } = await workOf(createRequire(import.meta.url)("node:timers/promises"), "setTimeout", () =>
      withFileLock(missing, async () => "ran", { timeoutMs: 30_000 }).catch((e: unknown) => e), { budget: 0 });
    expect(error).toMatchObject({ code: "FILE_WRITE_FAILED", message: `cannot create lock file ${missing}: ENOENT` });
    expect(pauses).toBe(0);
    // EMFILE comes before the name is looked up: the file there is a live holder's, not one we made.
    const lock = join(dir, "emfile.lock");
    writeFileSync(lock, LIVE);
    await expect(withFileLock(lock, async () => "ran")).rejects.toMatchObject({ code: "FILE_WRITE_FAILED", message: `cannot create lock file ${lock}: EMFILE` });
    expect(readFileSync(lock, "utf8")).toBe(LIVE);
  });

  it("a stale lock that cannot be renamed (another user's, sticky directory): one error at once, the file left", async () => {
    const lock = join(dir, "sticky.lock");
    writeFileSync(lock, "1 other-host 0 stale\n");
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    const error = await withFileLock(lock, async () => "ran", { timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "FILE_LOCKED",
      message: `${lock} is a stale lock that cannot be removed: EPERM`,
      hint: "its owner or root must delete it (its holder is gone); the file was left as it was",
    });
    expect(readFileSync(lock, "utf8")).toBe("1 other-host 0 stale\n");
  });

  it("a stale lock its holder removes just before it is broken: taken", async () => {
    const lock = join(dir, "released.lock");
    writeFileSync(lock, "1 other-host 0 stale\n");
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    await expect(withFileLock(lock, async () => readFileSync(lock, "utf8"), { timeoutMs: 100, pollMs: 10 })).resolves.toMatch(/^\d+ /);
    expect(existsSync(lock)).toBe(false);
  });

  it("a lock released between its read and the look at its age: taken", async () => {
    const lock = join(dir, "vanishing.lock");
    writeFileSync(lock, "1 other-host 0 released\n");
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 1_000, pollMs: 10 })).resolves.toBe("ran");
  });

  it("another user's lock it cannot read: judged by its age (fresh: busy, naming no pid; old: broken)", async () => {
    const lock = join(dir, "unreadable.lock");
    writeFileSync(lock, "1 other-host 0 theirs\n");
    const error = await withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "FILE_LOCKED", message: `${lock} is held by process ?; gave up after 0 s` });
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 })).resolves.toBe("ran");
  });

  it("a symbolic link, a FIFO or a socket at the lock's name: refused as not a lock file, left as it was", async () => {
    const cases: [string, (path: string) => Promise<() => void>][] = [
      ["symlink", async (path) => (symlinkSync(join(dir, "elsewhere"), path), () => {})],
      ["fifo", async (path) => (execFileSync("mkfifo", [path]), () => {})],
      ["socket", async (path) => {
        const server = createServer();
        await new Promise<void>((resolve) => server.listen(path, resolve));
        return () => server.close();
      }],
    ];
    for (const [kind, make] of cases) {
      const lock = join(dir, `${kind}.lock`);
      const close = await make(lock);
      try {
        const error = await withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
        expect(error, kind).toMatchObject({
          code: "FILE_UNSAFE",
          message: `${lock} is not a lock file of this tool's (it is not a regular file)`,
          hint: "remove it: this tool creates its lock files itself",
        });
        expect(readdirSync(dir), kind).toContain(`${kind}.lock`);
      } finally {
        close();
      }
    }
  });

  it("leaves no descriptor open: taking, renewing, waiting for and releasing a lock", async () => {
    // A serve holds its lock for days and reads it every 15 s: one descriptor lost per read would end in EMFILE.
    const open = () => readdirSync("/proc/self/fd").length;
    const before = open();
    const lock = join(dir, "descriptors.lock");
    for (let i = 0; i < 5; i++) {
      const release = await holdFileLock(lock);
      await withFileLock(lock, async () => "ran", { timeoutMs: 50, pollMs: 10 }).catch(() => {});
      await release();
    }
    expect(open()).toBe(before);
  });
});
