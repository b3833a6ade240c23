/**
 * `serve` as a real process (bundled CLI) with a file key and the verifying local endpoint, queried by the
 * AWS SDK for JavaScript v3 through its IMDS and container providers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fromContainerMetadata, fromHttp, fromInstanceMetadata } from "@aws-sdk/credential-providers";
import { startLocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { bundleCli, startFaultProxy, type FaultProxy } from "./agent-support.js";

const { dir, cleanup } = makeTempDir("raa-native-serve-");
let cli: { cli: string; cleanup: () => void };
let endpoint: { url: string; close(): Promise<void> | void };
let proxy: FaultProxy;
let serve: ChildProcess;
let port: number;
let keyFlags: string[];
const log: string[] = [];

function http(url: string, method = "GET", headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  }
}

beforeAll(async () => {
  cli = await bundleCli();
  const ca = createCa(join(dir, "ca"), { name: "Serve Test CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "serve-device" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  proxy = await startFaultProxy(endpoint.url);
  keyFlags = ["--certificate", leaf.certPath, "--private-key", leaf.keyPath];
  serve = spawn(
    process.execPath,
    [
      cli.cli, "serve",
      "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
      "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/serve",
      "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/serve",
      "--role-arn", "arn:aws:iam::000000000000:role/path/ServeRole",
      "--endpoint", proxy.url, "--timeout", "2", "--max-attempts", "1",
      "--port", "0", "--imds", "--ecs", "--allow-open-imds", "--ecs-env-dir", join(dir, "env"),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const lines = createInterface({ input: serve.stderr! });
  for await (const line of lines) {
    log.push(line);
    const m = /Local server started on port: (\d+)/.exec(line);
    if (m) port = Number(m[1]);
    if (/wrote .*ServeRole\.env/.test(line)) break;
  }
  lines.on("line", (l) => log.push(l));
  expect(port).toBeGreaterThan(0);
});

afterAll(async () => {
  serve?.kill("SIGKILL");
  await proxy?.close();
  await endpoint?.close();
  cli?.cleanup();
  cleanup();
});

describe("serve (process)", () => {
  it("prints the Go helper's start-up lines", () => {
    expect(log).toContain(`export AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:${port}/`);
  });

  it("gives credentials to fromInstanceMetadata, named after the role ARN's last segment", async () => {
    const c = await withEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}/` }, () => fromInstanceMetadata({ timeout: 5000 })());
    expect(c.accessKeyId).toMatch(/\S/);
    expect(c.sessionToken).toMatch(/\S/);
    expect(c.expiration!.getTime()).toBeGreaterThan(Date.now());
    const t = (await http(`http://127.0.0.1:${port}/latest/api/token`, "PUT")).body;
    expect((await http(`http://127.0.0.1:${port}/latest/meta-data/iam/security-credentials/`, "GET", { "x-aws-ec2-metadata-token": t })).body).toBe("ServeRole");
  });

  it("gives credentials to fromContainerMetadata and fromHttp with the consumer's env file", async () => {
    const env = Object.fromEntries(
      readFileSync(join(dir, "env", "ServeRole.env"), "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    const a = await withEnv(env, () => fromContainerMetadata({ timeout: 5000 })());
    expect(a.accessKeyId).toMatch(/\S/);
    const b = await fromHttp({
      awsContainerCredentialsFullUri: env["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
      awsContainerAuthorizationTokenFile: join(dir, "env", "ServeRole.token"),
      maxRetries: 0,
    })();
    expect(b.accessKeyId).toBe(a.accessKeyId);
  });

  it("rejects requests without a token on both endpoints", async () => {
    expect((await http(`http://127.0.0.1:${port}/latest/meta-data/iam/security-credentials/ServeRole`)).status).toBe(401);
    expect((await http(`http://127.0.0.1:${port}/v1/credentials`)).status).toBe(401);
    await expect(
      withEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN: "wrong" }, () =>
        fromContainerMetadata({ timeout: 2000 })(),
      ),
    ).rejects.toThrow();
  });

  it("a second serve for the same --ecs-env-dir refuses in one line, leaving the first one's files", async () => {
    // Before: it replaced ServeRole.env and ServeRole.token silently; the first serve kept running for nobody.
    const before = readFileSync(join(dir, "env", "ServeRole.env"), "utf8");
    const second = spawn(process.execPath, [cli.cli, "serve", ...keyFlags,
      "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/serve",
      "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/serve",
      "--role-arn", "arn:aws:iam::000000000000:role/path/ServeRole", "--endpoint", proxy.url,
      "--port", "0", "--ecs", "--ecs-env-dir", join(dir, "env")], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    second.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(second, "exit")) as [number | null];
    expect([code, stderr]).toEqual([3, expect.stringMatching(
      new RegExp(`^roles-anywhere-agent: --ecs-env-dir \\S+ is in use by serve process ${serve.pid} \\(lock .*\\): .*\\)\\n$`))]);
    expect(readFileSync(join(dir, "env", "ServeRole.env"), "utf8")).toBe(before);
  });

  it("exits 0 on SIGTERM", async () => {
    serve.kill("SIGTERM");
    const [code] = (await once(serve, "exit")) as [number | null];
    expect(code).toBe(0);
  });
});

describe("serve --ecs without --ecs-env-dir (process): the tokens never go to the journal", () => {
  /** serve --ecs with stdout on a file; JOURNAL_STREAM names `journal` ("device:inode", as systemd sets it). */
  function serveEcs(stdoutFile: string, journal: string): ChildProcess {
    const { dev, ino } = statSync(journal);
    const out = openSync(stdoutFile, "w");
    try {
      return spawn(process.execPath, [
        cli.cli, "serve", ...keyFlags,
        "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/serve",
        "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/serve",
        "--role-arn", "arn:aws:iam::000000000000:role/Journal",
        "--endpoint", endpoint.url, "--port", "0", "--ecs",
      ], { stdio: ["ignore", out, "pipe"], env: { ...process.env, JOURNAL_STREAM: `${dev}:${ino}` } });
    } finally {
      closeSync(out);
    }
  }

  it("refuses to start when stdout is the journal: exit 2, one line, nothing printed", async () => {
    // Before: it started and printed AWS_CONTAINER_AUTHORIZATION_TOKEN=… into the journal (adm, systemd-journal).
    const journal = join(dir, "journal");
    writeFileSync(journal, "");
    const child = serveEcs(journal, journal);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, "exit") as Promise<[number | null]>;
    const started = new Promise<["still serving"]>((r) => setTimeout(() => r(["still serving"]), 20_000).unref());
    const [code] = await Promise.race([exited, started]);
    child.kill("SIGKILL"); // before the fix it kept serving
    expect([code, readFileSync(journal, "utf8")]).toEqual([2, ""]);
    expect(stderr).toMatch(/^roles-anywhere-agent: serve --ecs would print the consumers' tokens on standard output, which is the journal here: .*--ecs-env-dir DIR.*\)\n$/);
  });

  it("prints the env files on stdout as before when stdout is something else (a file, a pipe, a terminal)", async () => {
    const out = join(dir, "stdout");
    const journal = join(dir, "other-journal");
    writeFileSync(journal, "");
    const child = serveEcs(out, journal);
    try {
      await expect.poll(() => readFileSync(out, "utf8"), { timeout: 30_000 }).toMatch(/^AWS_CONTAINER_AUTHORIZATION_TOKEN=\S+$/m);
      expect(readFileSync(out, "utf8")).toMatch(/^# ECS consumer Journal \(role Journal\)$/m);
    } finally {
      const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
  });
});
