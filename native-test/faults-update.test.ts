/**
 * Fault injection for `update` (issue 7, item 2): a read-only credentials file or directory and a full disk.
 * Expected: one clear line with exit 3 (`--once`), the original file byte for byte, no temporary or lock file
 * left behind, and the long-running `update` surviving the fault and writing once it is gone.
 *
 * The tests run as root, which ignores file modes, so "read-only" is made four real ways: the immutable flag
 * (`chattr +i`, which binds root too), a tmpfs remounted read-only (EROFS), and modes 0400/0500 with the CLI
 * run as uid 65534 (`setpriv --reuid=65534 --regid=65534 --clear-groups`). The full disk is a 64 KiB tmpfs
 * filled up before the write (ENOSPC). Plain `mount` works here (root with CAP_SYS_ADMIN); every mount and
 * flag is undone in afterAll.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { startHostileEndpoint, type HostileEndpoint } from "./helpers/hostile-endpoint.js";

const CLI = join(process.cwd(), "dist", "cli.js");
const NOBODY = 65534;
const ORIGINAL = "# managed by hand\n[other]\naws_access_key_id = AKIAOTHEREXAMPLE\nregion = eu-west-1\n\n[default]\naws_access_key_id = ASIAOLDEXAMPLE\naws_secret_access_key = old-secret\naws_session_token = old-token\n";

const { dir, cleanup } = makeTempDir("raa-faults-update-");
let local: LocalEndpoint;
let proxy: HostileEndpoint;
let leaf: IssuedCertificate;
let nobodyKey: string;
const mounts: string[] = [];
const immutable: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  // uid 65534 must be able to reach the certificate and key (test material only).
  chmodSync(dir, 0o755);
  const ca = createCa(join(dir, "ca"), { name: "Update Faults CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "update-faults-device" });
  chmodSync(join(dir, "leaf"), 0o755);
  // Each run reads a 0600 key of its own user: one of another user is warned about (it could be changed).
  nobodyKey = join(dir, "leaf", "nobody.key");
  copyFileSync(leaf.keyPath, nobodyKey);
  chownSync(nobodyKey, NOBODY, NOBODY);
  local = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  proxy = await startHostileEndpoint(local.url);
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const path of immutable) execFileSync("chattr", ["-i", path], { stdio: "ignore" });
  for (const m of mounts) execFileSync("umount", ["-l", m], { stdio: "ignore" });
  await proxy?.close();
  await local?.close();
  cleanup();
});

const flags = (file: string, asNobody = false) => [
  "--certificate", leaf.certPath, "--private-key", asNobody ? nobodyKey : leaf.keyPath,
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/upd",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/upd",
  "--role-arn", "arn:aws:iam::000000000000:role/upd",
  "--endpoint", proxy.url, "--timeout", "3", "--max-attempts", "1", "--credentials-file", file,
];

function command(args: string[], asNobody: boolean): [string, string[]] {
  const node = [process.execPath, CLI, ...args];
  return asNobody ? ["setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...node]] : [node[0]!, node.slice(1)];
}

function updateOnce(file: string, asNobody = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, args] = command(["update", "--once", ...flags(file, asNobody)], asNobody);
  return new Promise((resolve) =>
    execFile(cmd, args, { env: { ...process.env, NODE_EXTRA_CA_CERTS: "", HOME: dir }, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    ),
  );
}

/** A fresh directory holding the original credentials file. */
function scene(name: string): { home: string; file: string } {
  const home = join(dir, name);
  mkdirSync(home, { mode: 0o700 });
  const file = join(home, "credentials");
  writeFileSync(file, ORIGINAL, { mode: 0o600 });
  return { home, file };
}

function tmpfs(path: string, size: string): void {
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", path]);
  mounts.push(path);
}

/** Fills the file system holding `path` until a write fails with ENOSPC. */
function fill(path: string): void {
  try {
    execFileSync("dd", ["if=/dev/zero", `of=${path}`, "bs=4k"], { stdio: "ignore" });
  } catch {
    /* dd stops at ENOSPC, as intended */
  }
}

function chattr(flag: "+i" | "-i", path: string): void {
  execFileSync("chattr", [flag, path]);
  if (flag === "+i") immutable.push(path);
  else immutable.splice(immutable.indexOf(path), 1);
}

function expectOneLine(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 3, stdout: "" });
  expect(r.stderr.split("\n")).toHaveLength(2);
  expect(r.stderr).toMatch(/^roles-anywhere-agent: /);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  for (const s of local.issued) expect(r.stderr).not.toContain(s.credentials.secretAccessKey);
}

/** The original bytes, and nothing else in the directory: no temporary file, no lock file. */
function expectUntouched(home: string, file: string, others: string[] = []): void {
  expect(readFileSync(file, "utf8")).toBe(ORIGINAL);
  expect(readdirSync(home).sort()).toEqual(["credentials", ...others].sort());
}

describe("update --once on a file it cannot write: exit 3, one line, file unchanged, nothing left behind", () => {
  it("immutable credentials file (chattr +i, binds root too)", async () => {
    const { home, file } = scene("immutable-file");
    chattr("+i", file);
    const r = await updateOnce(file);
    chattr("-i", file);
    expectOneLine(r, /: .*credentials is not writable: EPERM \(.*immutable flag \(lsattr\); the file was left as it was\)$/m);
    expectUntouched(home, file);
  });

  it("immutable directory: the lock file cannot be created", async () => {
    const { home, file } = scene("immutable-dir");
    chattr("+i", home);
    const r = await updateOnce(file);
    chattr("-i", home);
    expectOneLine(r, /cannot create lock file .*credentials\.lock: EPERM \(check the owner and permissions/);
    expectUntouched(home, file);
  });

  it("read-only file system (tmpfs remounted ro): EROFS", async () => {
    const { home, file } = scene("ro-mount");
    rmSync(file);
    tmpfs(home, "1m");
    writeFileSync(file, ORIGINAL, { mode: 0o600 });
    execFileSync("mount", ["-o", "remount,ro", home]);
    const r = await updateOnce(file);
    expectOneLine(r, /cannot create lock file .*: EROFS \(the file system is mounted read-only; the file was left as it was\)$/m);
    expectUntouched(home, file);
  });

  it("mode 0400 file, CLI run as uid 65534 (its owner): refused, not replaced", async () => {
    const { home, file } = scene("nobody-file");
    chownSync(home, NOBODY, NOBODY);
    chownSync(file, NOBODY, NOBODY);
    chmodSync(file, 0o400);
    const r = await updateOnce(file, true);
    expectOneLine(r, /credentials is not writable: EACCES \(check the owner and permissions/);
    expectUntouched(home, file);
    expect(execFileSync("stat", ["-c", "%a %u", file], { encoding: "utf8" }).trim()).toBe(`400 ${NOBODY}`);
  });

  it("mode 0500 directory, CLI run as uid 65534 (its owner): the lock file cannot be created", async () => {
    const { home, file } = scene("nobody-dir");
    chownSync(home, NOBODY, NOBODY);
    chownSync(file, NOBODY, NOBODY);
    chmodSync(home, 0o500);
    const r = await updateOnce(file, true);
    expectOneLine(r, /cannot create lock file .*: EACCES/);
    expectUntouched(home, file);
  });

  it("a stale lock of root's in a directory anyone can write (sticky, as /tmp), CLI as uid 65534: one line at once", async () => {
    // Before: the lock's process was gone, so it was stale, but the sticky bit forbade renaming it: update
    // retried at once, without a pause or a deadline, at full CPU until it was killed.
    const { home, file } = scene("sticky-stale-lock");
    chmodSync(home, 0o1777);
    chownSync(file, NOBODY, NOBODY);
    writeFileSync(`${file}.lock`, `999999999 ${hostname()} 0 gone\n`, { mode: 0o644 });
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(`${file}.lock`, old, old);
    // The retry loop never ended (until the test's timeout): the line at all is the proof, not how long it took.
    const r = await updateOnce(file, true);
    expectOneLine(r, /credentials\.lock is a stale lock that cannot be removed: EPERM \(its owner or root must delete it/);
    expectUntouched(home, file, ["credentials.lock"]);
  });

  it("a lock of root's it cannot read (0600), two hours old, in uid 65534's own directory: broken, the write made", async () => {
    // Before: an unreadable lock was waited for as a live one whatever its age: `FILE_LOCKED … is held by process ?;
    // gave up after 10 s`, at every run, until someone deleted it (a `sudo update` killed earlier left it).
    const { home, file } = scene("unreadable-old-lock");
    chownSync(home, NOBODY, NOBODY);
    chownSync(file, NOBODY, NOBODY);
    const lock = `${file}.lock`;
    writeFileSync(lock, `999999999 ${hostname()} 0 gone\n`, { mode: 0o600 });
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(lock, old, old);
    const r = await updateOnce(file, true);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/^wrote profile \[default\] to /) });
    expect(readdirSync(home)).toEqual(["credentials"]);
  });

  it("disk full (64 KiB tmpfs filled up): ENOSPC", async () => {
    const { home, file } = scene("full");
    rmSync(file);
    tmpfs(home, "64k");
    writeFileSync(file, ORIGINAL, { mode: 0o600 });
    fill(join(home, "filler"));
    const r = await updateOnce(file);
    expectOneLine(r, /: ENOSPC \(the disk is full \(or over quota\): free some space; the file was left as it was\)$/m);
    expectUntouched(home, file, ["filler"]);
  });
});

describe("update (long-running) survives the fault and writes once it is gone", () => {
  function startUpdate(file: string): { log: string[]; seen: (p: RegExp, timeoutMs: number) => Promise<void>; stop: () => Promise<number | null> } {
    const [cmd, args] = command(["update", ...flags(file)], false);
    const child = spawn(cmd, args, { env: { ...process.env, NODE_EXTRA_CA_CERTS: "", HOME: dir }, stdio: ["ignore", "ignore", "pipe"] });
    children.push(child);
    const log: string[] = [];
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (l) => log.push(l));
    const seen = (pattern: RegExp, timeoutMs: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          if (log.some((l) => pattern.test(l))) return clearInterval(timer), resolve();
          if (Date.now() > deadline) return clearInterval(timer), reject(new Error(`no ${pattern} within ${timeoutMs} ms; log:\n${log.join("\n")}`));
        }, 50);
        const deadline = Date.now() + timeoutMs;
      });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    };
    return { log, seen, stop };
  }

  // 16 s credentials are refreshed every 1.8–5.1 s (30–85 % of what is left before the 10 s margin), and each
  // new set is written: the write is retried without waiting for the 30 s write-retry timer.
  beforeAll(() => {
    proxy.lifetimeMs = 16_000;
  });

  it.concurrent("disk full, then space freed", async () => {
    const { home, file } = scene("full-loop");
    rmSync(file);
    tmpfs(home, "64k");
    writeFileSync(file, ORIGINAL, { mode: 0o600 });
    fill(join(home, "filler"));
    const u = startUpdate(file);
    try {
      await u.seen(/could not write .*credentials: .*ENOSPC .*; trying again in 30 s/, 15_000);
      expectUntouched(home, file, ["filler"]);
      rmSync(join(home, "filler"));
      await u.seen(/^wrote profile \[default\] to /, 15_000);
      const text = readFileSync(file, "utf8");
      expect(text.startsWith("# managed by hand\n[other]\naws_access_key_id = AKIAOTHEREXAMPLE\nregion = eu-west-1\n\n[default]\naws_access_key_id = ASIA")).toBe(true);
      expect(text).not.toContain("ASIAOLDEXAMPLE");
      expect(readdirSync(home)).toEqual(["credentials"]);
      expect(await u.stop()).toBe(0);
    } finally {
      await u.stop();
    }
  });

  it.concurrent("immutable file, then the flag removed", async () => {
    const { home, file } = scene("immutable-loop");
    chattr("+i", file);
    const u = startUpdate(file);
    try {
      await u.seen(/could not write .*credentials: .*not writable: EPERM/, 15_000);
      expectUntouched(home, file);
      chattr("-i", file);
      await u.seen(/^wrote profile \[default\] to /, 15_000);
      expect(readFileSync(file, "utf8")).toMatch(/\[default\]\naws_access_key_id = ASIA(?!OLD)/);
      expect(readdirSync(home)).toEqual(["credentials"]);
      expect(await u.stop()).toBe(0);
    } finally {
      await u.stop();
    }
  });
});
