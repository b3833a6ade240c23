/**
 * The lock's next holder removes the breaker's locks (<lock>.break, .break.N) of breakers proven gone on this host
 * (src/io/file-lock.ts removeDeadBreakers), and only those: a live breaker's, one being written, one that is not a
 * regular file stay, and the lock is still taken and given back.
 */
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { withFileLock } from "../../src/io/file-lock.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-file-lock-breakers-");
afterAll(cleanup);

const scope = `${hostname()}/${readlinkSync("/proc/self/ns/pid")}`;
const stat = readFileSync("/proc/self/stat", "latin1");
const boot = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
const started = `${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}@${boot}`;
/** This process, as a breaker's token with its start: alive. */
const LIVE = `${process.pid} ${scope} ${Date.now()} live ${started}\n`;
/** This process's pid with no start: alive as far as the pid can tell. */
const LIVE_NO_START = `${process.pid} ${scope} ${Date.now()} live -\n`;
/** This pid, started at another tick: another process had it, gone. */
const REUSED = `${process.pid} ${scope} 0 reused 1@${boot}\n`;
/** A pid that does not exist here. */
const DEAD = `999999999 ${scope} 0 dead -\n`;

const names = (prefix: string) => readdirSync(dir).filter((name) => name.startsWith(prefix)).sort();

describe("removeDeadBreakers: the lock's next holder removes dead breakers' locks only", () => {
  it("keeps a live breaker's lock (with or without its start) and goes on past it to remove a dead one and a reused pid's", async () => {
    const lock = join(dir, "live.lock");
    writeFileSync(`${lock}.break`, LIVE);
    writeFileSync(`${lock}.break.1`, DEAD);
    writeFileSync(`${lock}.break.2`, LIVE_NO_START);
    writeFileSync(`${lock}.break.3`, REUSED);
    await expect(withFileLock(lock, async () => names("live.lock"), { timeoutMs: 100, pollMs: 10 }))
      .resolves.toEqual(["live.lock", "live.lock.break", "live.lock.break.2"]);
    expect(names("live.lock")).toEqual(["live.lock.break", "live.lock.break.2"]);
    expect(readFileSync(`${lock}.break`, "utf8")).toBe(LIVE);
    expect(readFileSync(`${lock}.break.2`, "utf8")).toBe(LIVE_NO_START);
  });

  it("keeps a breaker's lock being written (empty) and still removes the dead one after it", async () => {
    const lock = join(dir, "empty.lock");
    writeFileSync(`${lock}.break`, "");
    writeFileSync(`${lock}.break.1`, DEAD);
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 })).resolves.toBe("ran");
    expect(names("empty.lock")).toEqual(["empty.lock.break"]);
  });

  it("a breaker's lock that is not a regular file (a directory) neither stops the lock being taken nor is removed; a dead one beside it is", async () => {
    const lock = join(dir, "dir.lock");
    mkdirSync(`${lock}.break`);
    writeFileSync(`${lock}.break.1`, DEAD);
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 })).resolves.toBe("ran");
    // Given back (not left held by a throw after it was taken), the directory left alone.
    expect(names("dir.lock")).toEqual(["dir.lock.break"]);
    await expect(withFileLock(lock, async () => "again", { timeoutMs: 100, pollMs: 10 })).resolves.toBe("again");
  });

  it("removes the stale lock a dead breaker moved aside (named by its token), not a live breaker's, nor a path a planted token names", async () => {
    const sub = join(dir, "aside");
    mkdirSync(join(sub, "planted.lock.stale.999999998.x"), { recursive: true });
    const lock = join(sub, "planted.lock");
    const [dead, live] = [DEAD.replace(" dead ", " 0123abcd "), LIVE.replace(" live ", " 4567cdef ")];
    writeFileSync(`${lock}.break`, live);
    writeFileSync(`${lock}.stale.${process.pid}.4567cdef`, "moved aside by a live breaker\n");
    writeFileSync(`${lock}.break.1`, dead);
    writeFileSync(`${lock}.stale.999999999.0123abcd`, "moved aside by a dead one\n");
    // A token whose random would lead the name out of the directory: "<lock>.stale.999999998.x/../../victim".
    writeFileSync(`${lock}.break.2`, `999999998 ${scope} 0 x/../../victim -\n`);
    writeFileSync(join(dir, "victim"), "another file\n");
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 })).resolves.toBe("ran");
    expect(readdirSync(sub).sort()).toEqual(["planted.lock.break", `planted.lock.stale.${process.pid}.4567cdef`, "planted.lock.stale.999999998.x"]);
    expect(readFileSync(join(dir, "victim"), "utf8")).toBe("another file\n");
  });

  it("a dead token whose random is not 8 lowercase hex digits names no file: one that name would be stays", async () => {
    const sub = join(dir, "random");
    mkdirSync(join(sub, "odd.lock.stale.999999994.x"), { recursive: true });
    const lock = join(sub, "odd.lock");
    // Too short, too long, upper case, not hex, a path: each a dead breaker's token with the file its random would name.
    const randoms = ["0123abc", "0123abcd0", "0123ABCD", "0123abcz", "x/../0123abcd"];
    randoms.forEach((random, n) => {
      writeFileSync(`${lock}.break${n === 0 ? "" : `.${n}`}`, `${999999990 + n} ${scope} 0 ${random} -\n`);
      if (!random.includes("/")) writeFileSync(`${lock}.stale.${999999990 + n}.${random}`, "not a breaker's\n");
    });
    writeFileSync(join(sub, "0123abcd"), "not a breaker's\n"); // where "<lock>.stale.999999994.x/../0123abcd" leads
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 100, pollMs: 10 })).resolves.toBe("ran");
    expect(readdirSync(sub).sort()).toEqual([
      "0123abcd", "odd.lock.stale.999999990.0123abc", "odd.lock.stale.999999991.0123abcd0",
      "odd.lock.stale.999999992.0123ABCD", "odd.lock.stale.999999993.0123abcz", "odd.lock.stale.999999994.x",
    ]);
  });
});
