/**
 * `update` as a real process (bundled CLI) against the verifying local endpoint: --once, concurrent
 * writers, the long-running loop through an outage, and the exit codes a boot script relies on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startLocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { LIBFAKETIME, LIBFAKETIME_MISSING } from "../test/helpers/libfaketime.js";
import { bundleCli, startFaultProxy, type FaultProxy } from "./agent-support.js";
import { runCli, type CliRun } from "./helpers/run-cli.js";

const { dir, cleanup } = makeTempDir("raa-native-update-");
let cli: { cli: string; cleanup: () => void };
let endpoint: { url: string; close(): Promise<void> | void };
let proxy: FaultProxy;
let leaf: IssuedCertificate;

const flags = () => [
  "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/update",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/update",
  "--role-arn", "arn:aws:iam::000000000000:role/update",
  "--endpoint", proxy.url, "--timeout", "2", "--max-attempts", "1",
];

const updateCli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> => runCli(cli.cli, args, { ...process.env, ...env });

beforeAll(async () => {
  cli = await bundleCli();
  const ca = createCa(join(dir, "ca"), { name: "Update Test CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "update-device" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  proxy = await startFaultProxy(endpoint.url);
});
afterAll(async () => {
  await proxy?.close();
  await endpoint?.close();
  cli?.cleanup();
  cleanup();
});

describe("update (process)", () => {
  it("--once writes the profile, keeps the rest of the file, and creates ~/.aws 0700 / credentials 0600", async () => {
    await proxy.setMode("ok");
    const home = join(dir, "home");
    const r1 = await updateCli(["update", "--once", ...flags()], { HOME: home, AWS_SHARED_CREDENTIALS_FILE: "" });
    expect(r1).toMatchObject({ code: 0, stdout: "" });
    const path = join(home, ".aws", "credentials");
    expect(statSync(join(home, ".aws")).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeFileSync(path, `# mine\n[other]\naws_access_key_id = AKIAOTHER\nregion = eu-west-1\n${readFileSync(path, "utf8")}`);
    const r2 = await updateCli(["update", "--once", "--profile", "default", ...flags()], { HOME: home, AWS_SHARED_CREDENTIALS_FILE: "" });
    expect(r2.code).toBe(0);
    const text = readFileSync(path, "utf8");
    expect(text.startsWith("# mine\n[other]\naws_access_key_id = AKIAOTHER\nregion = eu-west-1\n[default]\naws_access_key_id = ")).toBe(true);
    expect(text.match(/aws_session_token = \S+/g)).toHaveLength(1);
  });

  it("two --once processes at once never lose a profile", async () => {
    const path = join(dir, "shared-credentials");
    writeFileSync(path, "[keep]\nx = 1\n", { mode: 0o600 });
    const results = await Promise.all(
      ["a", "b", "c"].map((p) => updateCli(["update", "--once", "--profile", p, ...flags()], { AWS_SHARED_CREDENTIALS_FILE: path })),
    );
    for (const r of results) expect(r.code).toBe(0);
    const text = readFileSync(path, "utf8");
    expect(text.startsWith("[keep]\nx = 1\n")).toBe(true);
    for (const p of ["a", "b", "c"]) expect(text).toMatch(new RegExp(`\\[${p}\\]\\naws_access_key_id = \\S+\\naws_secret_access_key = \\S+\\naws_session_token = \\S+\\n`));
  });

  it("--once exits 7 with one line on stderr when the endpoint refuses connections", async () => {
    await proxy.setMode("refuse");
    try {
      const r = await updateCli(["update", "--once", ...flags()], { AWS_SHARED_CREDENTIALS_FILE: join(dir, "never-written") });
      expect(r.code).toBe(7);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(() => statSync(join(dir, "never-written"))).toThrow();
    } finally {
      await proxy.setMode("ok");
    }
  });

  it("keeps running through an outage and rewrites the file after it", async () => {
    const path = join(dir, "loop-credentials");
    proxy.lifetimeMs = 20_000; // refreshed 3–8.5 s in (30–85 % of the 10 s usable lifetime)
    const child = spawn(process.execPath, [cli.cli, "update", "--profile", "loop", ...flags()], {
      env: { ...process.env, AWS_SHARED_CREDENTIALS_FILE: path },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const log: string[] = [];
    const lines = createInterface({ input: child.stderr! });
    const wait = (pattern: RegExp, after = 0) =>
      new Promise<void>((resolve, reject) => {
        const check = () => log.slice(after).some((l) => pattern.test(l));
        if (check()) return resolve();
        const onLine = () => check() && (lines.off("line", onLine), resolve());
        lines.on("line", onLine);
        child.once("exit", () => reject(new Error(log.join("\n"))));
        setTimeout(() => reject(new Error(`timeout waiting for ${pattern}:\n${log.join("\n")}`)), 40_000).unref();
      });
    lines.on("line", (l) => log.push(l));
    try {
      await wait(/wrote profile \[loop\]/);
      const first = readFileSync(path, "utf8");
      await proxy.setMode("5xx");
      const mark = log.length;
      // update serves nothing: its line says what the file holds (before: "still serving the previous credentials")
      await wait(/refresh failed .*; the credentials file keeps the previous ones, valid until [-0-9T:]+Z/, mark);
      expect(readFileSync(path, "utf8")).toBe(first); // the still-valid credentials stay in place
      await proxy.setMode("ok");
      const mark2 = log.length;
      await wait(/wrote profile \[loop\]/, mark2);
      expect(readFileSync(path, "utf8")).not.toBe(first);
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code).toBe(0);
      expect(log.join("\n")).not.toMatch(/aws_secret_access_key|SecretAccessKey/);
    } finally {
      child.kill("SIGKILL");
      proxy.lifetimeMs = undefined;
    }
  });
});

/**
 * A gateway without a battery-backed clock boots at 1970; NTP steps the clock later, often after update-once
 * started. libfaketime (LD_PRELOAD) moves the wall clock by the offset in a file it re-reads at each reading
 * (FAKETIME_NO_CACHE), and leaves the monotonic clock alone, as an NTP step does.
 */
describe("update (process) reloaded onto a broken key", () => {
  it("SIGHUP with a garbage key: the line says the file keeps the previous credentials, valid until their expiration", async () => {
    // Before: "no valid credentials to serve meanwhile", while the file held valid ones that every SDK kept using.
    await proxy.setMode("ok");
    const path = join(dir, "hup-credentials");
    const key = join(dir, "hup-key.pem");
    writeFileSync(key, readFileSync(leaf.keyPath), { mode: 0o600 });
    const args = flags().map((a) => (a === leaf.keyPath ? key : a));
    const child = spawn(process.execPath, [cli.cli, "update", "--profile", "hup", ...args], {
      env: { ...process.env, AWS_SHARED_CREDENTIALS_FILE: path },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const log: string[] = [];
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (l) => log.push(l));
    const wait = (pattern: RegExp) =>
      new Promise<string>((resolve, reject) => {
        const found = () => log.find((l) => pattern.test(l));
        const onLine = () => {
          const line = found();
          if (line !== undefined) lines.off("line", onLine), resolve(line);
        };
        lines.on("line", onLine);
        onLine();
        child.once("exit", () => reject(new Error(log.join("\n"))));
        setTimeout(() => reject(new Error(`timeout waiting for ${pattern}:\n${log.join("\n")}`)), 40_000).unref();
      });
    try {
      const written = await wait(/new credentials, valid until [-0-9T:]+Z/);
      await wait(/wrote profile \[hup\]/);
      const expiration = /valid until ([-0-9T:]+Z)/.exec(written)![1]!;
      const first = readFileSync(path, "utf8");
      writeFileSync(key, "not a key\n");
      child.kill("SIGHUP");
      const failed = await wait(/refresh failed/);
      expect(failed).toContain(`; the credentials file keeps the previous ones, valid until ${expiration}`);
      expect(failed).not.toMatch(/no valid credentials|serving/);
      expect(readFileSync(path, "utf8")).toBe(first);
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("update --once at a boot before NTP (libfaketime)", () => {
  const offsetFile = join(dir, "faketime-offset");

  /** `update --once` with the wall clock `offset` off (libfaketime's syntax), stderr read line by line. */
  function onceAt(offset: string, args: string[]) {
    expect(LIBFAKETIME, LIBFAKETIME_MISSING).toBeDefined();
    writeFileSync(offsetFile, `${offset}\n`);
    const env = { ...process.env, LD_PRELOAD: LIBFAKETIME!, FAKETIME_TIMESTAMP_FILE: offsetFile, FAKETIME_NO_CACHE: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" };
    const child = spawn(process.execPath, [cli.cli, "update", "--once", ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    const log: string[] = [];
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (l) => log.push(l));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const line = (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => log.some((l) => pattern.test(l)) && (clearInterval(timer), resolve());
        const timer = setInterval(check, 50);
        setTimeout(() => (clearInterval(timer), reject(new Error(`no ${pattern}:\n${log.join("\n")}`))), 30_000).unref();
        void exited.then(() => setTimeout(() => (clearInterval(timer), reject(new Error(`exited:\n${log.join("\n")}`))), 200));
      });
    return { child, log, exited, line };
  }

  it("a clock at 1970: waits for it (one line), and writes as soon as NTP steps it", async () => {
    await proxy.setMode("ok");
    const path = join(dir, "boot-credentials");
    const run = onceAt("-20000d", [...flags(), "--credentials-file", path]);
    try {
      await run.line(/waiting up to 5 min for the system clock to be set \(NTP\): it said 19\d\d-\S+ \S+ UTC, before this release was built$/);
      expect(run.log).toHaveLength(1);
      expect(run.log[0]).toMatch(/^default: the certificate .* is not valid for another /);
      await new Promise((r) => setTimeout(r, 1500));
      expect(existsSync(path)).toBe(false); // still waiting
      const stepped = Date.now();
      writeFileSync(offsetFile, "+0\n");
      expect(await run.exited).toBe(0);
      // At the step (seen within 1 s, then one attempt), not at the 5 min bound: slack for a loaded 2-core CI machine.
      expect(Date.now() - stepped).toBeLessThan(30_000);
      expect(readFileSync(path, "utf8")).toMatch(/\[default\]\naws_access_key_id = \S+/);
      expect(run.log).toHaveLength(2);
      expect(run.log[1]).toMatch(/^wrote profile \[default\]/);
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("a clock an hour ahead (Signature expired): waits, and writes once the clock is stepped back", async () => {
    await proxy.setMode("ok");
    const path = join(dir, "ahead-credentials");
    const run = onceAt("+1h", [...flags(), "--credentials-file", path]);
    try {
      await run.line(/CreateSession refused .*Signature expired.*; waiting up to 5 min for the system clock to be set \(NTP\): it said .*, and the service refused the signature's time$/);
      writeFileSync(offsetFile, "+0\n");
      expect(await run.exited).toBe(0);
      expect(readFileSync(path, "utf8")).toMatch(/\[default\]\naws_access_key_id = \S+/);
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  it("a right clock and a certificate really not valid yet: exit 3 at once, as before", async () => {
    const ca = createCa(join(dir, "future-ca"), { name: "Future CA" });
    const future = issueLeaf(ca, join(dir, "future"), { name: "future-device", notYetValid: true });
    const args = flags().map((a) => (a === leaf.certPath ? future.certPath : a === leaf.keyPath ? future.keyPath : a));
    const r = await updateCli(["update", "--once", ...args], { AWS_SHARED_CREDENTIALS_FILE: join(dir, "future-credentials") });
    expect(r.code).toBe(3);
    // Not after the 5 min wait: a wait begins with its own line ("waiting up to 5 min for the system clock…").
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/is not valid for another (29|30) d/);
  });
});
