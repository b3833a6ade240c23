/**
 * `update` as a real process (bundled CLI) against the verifying local endpoint: --once, concurrent
 * writers, the long-running loop through an outage, and the exit codes a boot script relies on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startLocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
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
      await wait(/refresh failed .*still serving the previous credentials/, mark);
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
