/**
 * The lock file (src/io/file-lock.ts) when a lock or a breaker's lock comes and goes between two looks at it: taken
 * (at once when it is free), never a TypeError. The names of the files choose the hook (node:fs/promises wrapped).
 */
import { mkdtempSync, readlinkSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";

/** Lock files that are there when one tries to create them and gone when one reads them (each once). */
const hooks = vi.hoisted(() => ({ appearing: new Set<string>(), vanishing: new Set<string>() }));

vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  const live = () => `${process.pid} ${hostname()}/${readlinkSync("/proc/self/ns/pid")} ${Date.now()} live -\n`;
  const open = (async (path: string, ...rest: unknown[]) => {
    const name = String(path);
    if (rest[0] === "wx" && hooks.appearing.delete(name)) {
      await fs.writeFile(name, live(), { flag: "wx" });
      hooks.vanishing.add(name);
    } else if (rest[0] !== "wx" && hooks.vanishing.delete(name)) {
      await fs.unlink(name);
    }
    // turn.lock: its holder removes it while a breaker takes its turn (creates the breaker's lock).
    if (rest[0] === "wx" && name.endsWith("turn.lock.break")) await fs.unlink(name.slice(0, -".break".length)).catch(() => {});
    return (fs.open as (...a: unknown[]) => ReturnType<typeof fs.open>)(path, ...rest);
  }) as typeof fs.open;
  // renamed.lock: its holder removes it just before the breaker renames it.
  const rename = (async (from: string, to: string) => {
    if (String(from).endsWith("renamed.lock")) await fs.unlink(from).catch(() => {});
    return fs.rename(from, to);
  }) as typeof fs.rename;
  return { ...fs, default: { ...fs, open, rename }, open, rename };
});
const { withFileLock } = await import("../../src/io/file-lock.js");

const dir = mkdtempSync(join(tmpdir(), "raa-file-lock-turns-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  hooks.appearing.clear();
  hooks.vanishing.clear();
});

const scope = `${hostname()}/${readlinkSync("/proc/self/ns/pid")}`;
/** A lock file `name` holding `holder`, two minutes old (stale unless its holder is seen alive here). */
function stale(name: string, holder = "1 other-host 0 stale\n"): string {
  const lock = join(dir, name);
  writeFileSync(lock, holder);
  const old = new Date(Date.now() - 120_000);
  utimesSync(lock, old, old);
  return lock;
}

describe("withFileLock: a lock or a breaker's lock gone between two looks", () => {
  it("a lock released between the failed create and its read: waited for, then taken", async () => {
    const lock = join(dir, "flicker.lock");
    hooks.appearing.add(lock);
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 5_000, pollMs: 10 })).resolves.toBe("ran");
    expect(hooks.vanishing.size + hooks.appearing.size).toBe(0);
  });

  it("a stale lock its holder removes while the breaker takes its turn: taken at once (no wait, even with no time left)", async () => {
    const lock = stale("turn.lock");
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 0, pollMs: 10 })).resolves.toBe("ran");
  });

  it("a stale lock its holder removes just before the rename: taken at once", async () => {
    const lock = stale("renamed.lock");
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 0, pollMs: 10 })).resolves.toBe("ran");
  });

  it("a breaker's lock that another breaker removes between the failed create and its read: waited for, then taken", async () => {
    const lock = stale("breaker.lock");
    hooks.appearing.add(`${lock}.break`);
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 5_000, pollMs: 10 })).resolves.toBe("ran");
    expect(hooks.vanishing.size + hooks.appearing.size).toBe(0);
  });
});

describe("withFileLock: a fresh lock whose first field is not a pid", () => {
  it("is kept (judged by its age), and the message names no pid", async () => {
    for (const holder of [`NaN ${scope} ${Date.now()} x -\n`, `x 12345 ${scope} ${Date.now()} x -\n`]) {
      const lock = join(dir, "odd.lock");
      writeFileSync(lock, holder);
      const error = await withFileLock(lock, async () => "ran", { timeoutMs: 0, pollMs: 10 }).catch((e: unknown) => e);
      expect(error, holder).toMatchObject({ code: "FILE_LOCKED", message: `${lock} is held by process ?; gave up after 0 s` });
      rmSync(lock);
    }
  });
});
