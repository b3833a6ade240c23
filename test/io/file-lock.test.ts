/** The advisory lock file (src/io/file-lock.ts): renewed while held, one that cannot be written, a break race. */
import {
  existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";

/** A live holder's token, for this process: never stale. */
const LIVE = `${process.pid} ${hostname()}/${readlinkSync("/proc/self/ns/pid")} ${Date.now()} live\n`;

vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  // full.lock: created, but the disk is full when its token is written.
  const open = (async (path: string, ...rest: unknown[]) => {
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
  // race.lock: a live writer takes the lock between the stale check and the rename that breaks it.
  const rename = (async (from: string, to: string) => {
    if (String(from).endsWith("race.lock")) {
      await fs.unlink(from);
      await fs.writeFile(from, LIVE);
    }
    return fs.rename(from, to);
  }) as typeof fs.rename;
  return { ...fs, default: { ...fs, open, rename }, open, rename };
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
    // Before: the deadline was read from Date.now(), so the wait went on for the hour (here: until the test let the
    // clock run again after 10 s); a step forward gave up at once.
    const lock = join(dir, "clock-step.lock");
    const release = await holdFileLock(lock);
    const started = performance.now();
    const clock = vi.spyOn(Date, "now").mockImplementation(() => {
      const real = performance.timeOrigin + performance.now();
      if (performance.now() - started > 10_000) return real + 3_600_000; // lets the old wait end
      return performance.now() - started < 200 ? real : real - 3_600_000; // set back once the wait began
    });
    try {
      const error = await withFileLock(lock, async () => "ran", { timeoutMs: 1_000, pollMs: 10 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "FILE_LOCKED" });
      expect(performance.now() - started).toBeLessThan(8_000); // 1 s and the machine's load
    } finally {
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
    const lock = join(dir, "race.lock");
    writeFileSync(lock, "1 other-host 0 stale\n");
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    const error = await withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
    const held = expect.stringContaining(`held by process ${process.pid}`);
    expect(error).toMatchObject({ code: "FILE_LOCKED", message: held });
    expect(readFileSync(lock, "utf8")).toBe(LIVE);
  });
});
