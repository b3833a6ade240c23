/**
 * Lock files (src/io/file-lock.ts) left by processes killed with SIGKILL: real child processes take them through the
 * module's own code, bundled, and are killed while they hold them.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, readlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, join, resolve } from "node:path";
import { buildSync } from "esbuild";
import { afterAll, describe, expect, it, vi } from "vitest";
import { withFileLock } from "../../src/io/file-lock.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-file-lock-crash-");
afterAll(cleanup);

const holder = join(dir, "holder.mjs");
// With a pattern (argv[3]), the first unlink of a matching name says so ("unlinking NAME") and waits for a SIGCONT.
writeFileSync(
  join(dir, "holder-entry.ts"),
  `import { createRequire, syncBuiltinESMExports } from "node:module";
import { holdFileLock } from ${JSON.stringify(resolve("src/io/file-lock.ts"))};
const [, , path, pattern] = process.argv;
setInterval(() => {}, 60_000);
if (pattern) {
  const fs = createRequire(import.meta.url)("node:fs/promises");
  const unlink = fs.unlink;
  let stopped = false;
  fs.unlink = async (name: string) => {
    if (!stopped && new RegExp(pattern).test(String(name))) {
      stopped = true;
      const resumed = new Promise((r) => process.once("SIGCONT", r));
      process.stdout.write("unlinking " + name + "\\n");
      await resumed;
    }
    return unlink(name);
  };
  syncBuiltinESMExports();
}
await holdFileLock(path);
process.stdout.write("held\\n");
`,
);
buildSync({ entryPoints: [join(dir, "holder-entry.ts")], bundle: true, platform: "node", format: "esm", outfile: holder, logLevel: "silent" });

/** A child process taking the lock file `path` with holdFileLock (`pattern`: see holder-entry.ts), and its first line. */
async function taking(path: string, pattern?: string, command: string[] = []) {
  const [file, ...args] = [...command, process.execPath, holder, path, ...(pattern ? [pattern] : [])];
  const child = spawn(file!, args, { stdio: ["ignore", "pipe", "inherit"] });
  const exited = once(child, "exit");
  const [line] = (await once(child.stdout, "data")) as [Buffer];
  return { child, exited, line: line.toString() };
}

/** Has a child process take the lock file `path` with holdFileLock, then kills it (SIGKILL) and waits until it is reaped. */
async function killedHolding(path: string): Promise<void> {
  const { child, exited, line } = await taking(path);
  expect(line).toBe("held\n");
  child.kill("SIGKILL");
  await exited;
}

describe("a breaker killed while it breaks a stale lock", () => {
  it("leaves its breaker's lock only until the lock is next taken (before: for good, each crash one name more)", async () => {
    const lock = join(dir, "state.lock");
    await killedHolding(lock); // the stale lock: its holder is gone
    // What a breaker killed between taking its turn and giving it back leaves: its token at <lock>.break.
    await killedHolding(`${lock}.break`);
    expect(readdirSync(dir).filter((name) => name.startsWith("state.lock")).sort()).toEqual(["state.lock", "state.lock.break"]);
    await expect(withFileLock(lock, async () => readdirSync(dir).filter((name) => name.startsWith("state.lock")))).resolves.toEqual(["state.lock"]);
    expect(readdirSync(dir).filter((name) => name.startsWith("state.lock"))).toEqual([]);
  });

  it("is removed behind a name already gone, past a live breaker's and another host's, which stay", async () => {
    const lock = join(dir, "gap.lock");
    await killedHolding(lock);
    // .break gone (its breaker, judged stale by age, finished after the next one took .break.1 and was killed).
    await killedHolding(`${lock}.break.1`);
    const live = `${process.pid} ${hostname()}/${readlinkSync("/proc/self/ns/pid")} ${Date.now()} live\n`;
    writeFileSync(`${lock}.break.2`, live);
    writeFileSync(`${lock}.break.3`, "1 other-host 0 crashed\n");
    await killedHolding(`${lock}.break.4`);
    const names = () => readdirSync(dir).filter((name) => name.startsWith("gap.lock")).sort();
    expect(names()).toEqual(["gap.lock", "gap.lock.break.1", "gap.lock.break.2", "gap.lock.break.3", "gap.lock.break.4"]);
    // Before: the walk stopped at the missing .break, and the killed breakers' names stayed for good.
    await expect(withFileLock(lock, async () => names())).resolves.toEqual(["gap.lock", "gap.lock.break.2", "gap.lock.break.3"]);
    expect(readFileSync(`${lock}.break.2`, "utf8")).toBe(live);
    expect(readFileSync(`${lock}.break.3`, "utf8")).toBe("1 other-host 0 crashed\n");
  });

  it("a breaker killed between moving the stale lock aside and removing it: that <lock>.stale.* goes with its breaker's lock", async () => {
    const lock = join(dir, "aside.lock");
    await killedHolding(lock);
    const { child, exited, line } = await taking(lock, "\\.stale\\.");
    expect(line).toMatch(new RegExp(`^unlinking ${lock}\\.stale\\.${child.pid}\\.[0-9a-f]{8}\\n$`));
    child.kill("SIGKILL");
    await exited;
    const names = () => readdirSync(dir).filter((name) => name.startsWith("aside.lock")).sort();
    expect(names()).toEqual(["aside.lock.break", basename(line.trim())]);
    // Before: the moved-aside lock stayed for good, one more name for each breaker killed there.
    await expect(withFileLock(lock, async () => names())).resolves.toEqual(["aside.lock"]);
    expect(names()).toEqual([]);
  });

  it("the next holder removes a dead breaker's <lock>.stale.* before its breaker's lock: killed between the two, the token naming it stays", async () => {
    const lock = join(dir, "order.lock");
    const scope = `${hostname()}/${readlinkSync("/proc/self/ns/pid")}`;
    writeFileSync(`${lock}.break`, `999999999 ${scope} 0 0123abcd -\n`);
    writeFileSync(`${lock}.stale.999999999.0123abcd`, "moved aside by a dead breaker\n");
    const { child, exited, line } = await taking(lock, "\\.break$");
    try {
      expect(line).toBe(`unlinking ${lock}.break\n`);
      expect(readdirSync(dir).filter((name) => name.startsWith("order.lock")).sort()).toEqual(["order.lock", "order.lock.break"]);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  });
});

/** Runs the command with no /proc (a chroot or sandbox without it): the lock's token has no start, its scope no pid namespace. */
const NO_PROC = ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs none /proc && exec "$0" "$@"'];
/** Root, with unshare(1): a mount namespace of its own. */
const canHideProc = (() => {
  try {
    execFileSync(NO_PROC[0]!, [...NO_PROC.slice(1), "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Runs the command with the host name "a b" (a UTS namespace of its own): a scope with a space in it. */
const SPACED_HOST = ["unshare", "--uts", "sh", "-c", 'echo "a b" > /proc/sys/kernel/hostname && exec "$0" "$@"'];
const canNameHost = (() => {
  try {
    return execFileSync(SPACED_HOST[0]!, [...SPACED_HOST.slice(1), "hostname"], { encoding: "utf8" }) === "a b\n";
  } catch {
    return false;
  }
})();

describe.runIf(canNameHost)("a host name with a space", () => {
  it("the <lock>.stale.* a dead breaker moved aside is still found by its token (the random counted from the end)", async () => {
    const lock = join(dir, "spaced.lock");
    writeFileSync(`${lock}.break`, `999999999 a b/${readlinkSync("/proc/self/ns/pid")} 0 0123abcd -\n`);
    writeFileSync(`${lock}.stale.999999999.0123abcd`, "moved aside by a dead breaker\n");
    const { child, exited, line } = await taking(lock, undefined, SPACED_HOST);
    try {
      expect(line).toBe("held\n");
      expect(readdirSync(dir).filter((name) => name.startsWith("spaced.lock"))).toEqual(["spaced.lock"]);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  });
});

describe.runIf(canHideProc)("a holder stopped (SIGSTOP) in its clean-up while another breaks its lock and cleans up too", () => {
  it("removes, once resumed, a live breaker's lock made meanwhile at the name it had read as dead: never the lock (the limit SECURITY.md states)", async () => {
    const lock = join(dir, "stopped.lock");
    const children: ChildProcess[] = [];
    try {
      // A breaker that died holding its turn, with no /proc: judged by its pid alone (gone).
      const dead = await taking(`${lock}.break`, undefined, NO_PROC);
      dead.child.kill("SIGKILL");
      await dead.exited;
      // The first holder takes the lock, reads <lock>.break as the dead breaker's and is stopped before unlinking it.
      const first = await taking(lock, "\\.break$", NO_PROC);
      children.push(first.child);
      expect(first.line).toBe(`unlinking ${lock}.break\n`);
      first.child.kill("SIGSTOP");
      await vi.waitFor(() => expect(readFileSync(`/proc/${first.child.pid}/stat`, "latin1").split(") ")[1]![0]).toBe("T"));
      const firstToken = readFileSync(lock, "utf8");
      expect(firstToken).toMatch(/ -\n$/); // no start time: a live holder's lock is judged by its age
      // A minute and more without renewal: another writer breaks it, takes it, and removes the dead breaker's lock.
      const old = new Date(Date.now() - 120_000);
      utimesSync(lock, old, old);
      const second = await taking(lock, undefined, NO_PROC);
      children.push(second.child);
      expect(second.line).toBe("held\n");
      const secondToken = readFileSync(lock, "utf8");
      expect(secondToken).not.toBe(firstToken);
      expect(existsSync(`${lock}.break`)).toBe(false);
      // A live breaker takes its turn at the freed name; then the first holder resumes its clean-up.
      const breaker = await taking(`${lock}.break`, undefined, NO_PROC);
      children.push(breaker.child);
      const breakerToken = readFileSync(`${lock}.break`, "utf8");
      expect(breakerToken).toMatch(new RegExp(`^${breaker.child.pid} `));
      first.child.kill("SIGCONT");
      const [resumed] = (await once(first.child.stdout!, "data")) as [Buffer];
      expect(resumed.toString()).toBe("held\n"); // it believes it holds the lock: the stop already cost it
      // The live breaker's turn is gone (another breaker could now break alongside it); the lock is the second's still.
      expect(existsSync(`${lock}.break`)).toBe(false);
      expect(readFileSync(lock, "utf8")).toBe(secondToken);
      expect(readdirSync(dir).filter((name) => name.startsWith("stopped.lock"))).toEqual(["stopped.lock"]);
    } finally {
      for (const child of children) child.kill("SIGKILL");
      await Promise.all(children.map((child) => child.exitCode ?? child.signalCode ?? once(child, "exit")));
    }
  });
});
