/**
 * A CreateSession endpoint (broken, hostile, or simply answering a host whose clock is far ahead) that hands out
 * credentials which are already expired, or whose expiration is not a time. The AWS SDKs' process provider
 * refuses expired credentials from a credential_process; so must we, everywhere, by one rule
 * (`usableCredentials` in src/rolesanywhere/credentials.ts): credential-process exits 7 with one line and prints
 * nothing on stdout, `update --once` writes nothing, `serve` answers 503 (IMDS) / 500 `CREDENTIALS_EXPIRED` (ECS),
 * and the SDK provider rejects with the same code. The verifying local endpoint issues such answers on demand
 * (`expireNext`), after checking the request as the service would.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { fromRolesAnywhere } from "../src/sdk/index.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const ARNS = {
  trustAnchorArn: "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/expired",
  profileArn: "arn:aws:rolesanywhere:us-east-1:000000000000:profile/expired",
  roleArn: "arn:aws:iam::000000000000:role/Expired",
};

const { dir, cleanup } = makeTempDir("raa-expired-");
let endpoint: LocalEndpoint;
let leaf: IssuedCertificate;
const children: ChildProcess[] = [];

const flags = () => [
  "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
  "--trust-anchor-arn", ARNS.trustAnchorArn, "--profile-arn", ARNS.profileArn, "--role-arn", ARNS.roleArn,
  "--endpoint", endpoint.url, "--timeout", "5", "--max-attempts", "1",
];
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env, NODE_EXTRA_CA_CERTS: "", XDG_RUNTIME_DIR: "/nonexistent", HOME: dir, ...extra,
});

function expectOneLineRefusal(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.stdout).toBe("");
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack
  expect(r.code).toBe(7);
}

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Expired Test CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "expired-device" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await endpoint?.close();
  cleanup();
});

describe("credentials that are already expired when CreateSession answers", () => {
  it("credential-process refuses them: exit 7, one line, nothing on stdout (the SDK's process provider would refuse them too)", async () => {
    endpoint.expireNext(1, "past");
    const r = await runCli(DIST_CLI, ["credential-process", "--no-agent", ...flags()], env());
    expectOneLineRefusal(r, /returned credentials that expire at \S+Z \(36\d\d s ago by this host's clock\); they were not used \(check the system clock/);
    // The endpoint did issue them (the refusal is ours, not a failed request).
    const issued = endpoint.issued.at(-1)!;
    expect(issued.credentials.expiration.getTime()).toBeLessThan(Date.now());
    expect(r.stderr).not.toContain(issued.credentials.secretAccessKey);
    expect(r.stderr).not.toContain(issued.credentials.accessKeyId);
  });

  it("credential-process refuses an expiration that is not a time", async () => {
    endpoint.expireNext(1, "unparsable");
    const r = await runCli(DIST_CLI, ["credential-process", "--no-agent", ...flags()], env());
    expectOneLineRefusal(r, /expiration is not an RFC 3339 time \('tomorrow, probably'\)/);
  });

  it("control: the same command prints credentials once the endpoint answers normally", async () => {
    const r = await runCli(DIST_CLI, ["credential-process", "--no-agent", ...flags()], env());
    expect(r.code).toBe(0);
    expect(new Date(JSON.parse(r.stdout).Expiration).getTime()).toBeGreaterThan(Date.now());
  });

  it("update --once writes nothing and exits 7 with the same line", async () => {
    endpoint.expireNext(1, "past");
    const file = join(dir, "update-credentials");
    const r = await runCli(DIST_CLI, ["update", "--once", "--credentials-file", file, ...flags()], env());
    expectOneLineRefusal(r, /returned credentials that expire at .*; they were not used/);
    expect(existsSync(file)).toBe(false);
  });

  it("the SDK provider (fromRolesAnywhere) rejects with CREDENTIALS_EXPIRED", async () => {
    endpoint.expireNext(1, "past");
    const provider = fromRolesAnywhere({ certificate: leaf.certPath, privateKey: leaf.keyPath, ...ARNS, endpoint: endpoint.url, maxAttempts: 1 });
    try {
      await expect(provider()).rejects.toMatchObject({ code: "CREDENTIALS_EXPIRED" });
    } finally {
      await provider.close();
    }
  });

  it("serve answers IMDS with 503 and ECS with 500 CREDENTIALS_EXPIRED, never with the expired credentials", async () => {
    endpoint.expireNext(1000, "past");
    try {
      for (const mode of [["--imds"], ["--ecs", "--ecs-env-dir", join(dir, "env")]]) {
        const child = spawn(process.execPath, [DIST_CLI, "serve", ...flags(), "--port", "0", ...mode], { env: env(), stdio: ["ignore", "ignore", "pipe"] });
        children.push(child);
        const lines = createInterface({ input: child.stderr! });
        let port = 0;
        for await (const line of lines) {
          const m = /Local server started on port: (\d+)|wrote (.*\.env)/.exec(line);
          if (m?.[1]) port = Number(m[1]);
          if (m?.[2]) port = Number(/:(\d+)\//.exec(readFileSync(m[2], "utf8"))![1]);
          if (port) break;
        }
        expect(port).toBeGreaterThan(0);
        if (mode[0] === "--imds") {
          const token = (await http(port, "PUT", "/latest/api/token")).body;
          const r = await http(port, "GET", "/latest/meta-data/iam/security-credentials/Expired", { "x-aws-ec2-metadata-token": token });
          expect(r.status).toBe(503);
          expect(r.body).toMatch(/credentials for Expired are unavailable: .*expire at .*they were not used/);
        } else {
          const token = readFileSync(join(dir, "env", "Expired.token"), "utf8").trim();
          const r = await http(port, "GET", "/v1/credentials", { authorization: token });
          expect(r.status).toBe(500);
          expect(JSON.parse(r.body).code).toBe("CREDENTIALS_EXPIRED");
        }
        child.kill("SIGTERM");
      }
    } finally {
      endpoint.expireNext(0);
    }
  });
});

function http(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
