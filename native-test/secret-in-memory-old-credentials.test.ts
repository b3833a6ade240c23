/**
 * An old session's secrets in the memory of a long-running `agent` (dist/cli.js) after it refreshed to new ones:
 * credentials rewritten (a proxy) to expire 20 s after they came, so the agent refreshes within seconds, twice; the
 * first session was served once over the socket. Then root reads the agent's memory (/proc/PID/maps and
 * /proc/PID/mem, as pkcs11-pin-in-memory.test.ts does) and counts the first session's SecretAccessKey and
 * SessionToken (UTF-8 and UTF-16LE), with the current session's SecretAccessKey as the control (held for serving).
 * Measured and printed: what is left are strings V8 made (the endpoint's JSON answer, the served one) and freed
 * memory not yet reused; V8 does not wipe what it frees and no code of ours can reach those strings.
 */
import { execFile, type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { startFaultProxy, type FaultProxy } from "./agent-support.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { DIST_CLI } from "./helpers/run-cli.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";
import { occurrencesInMemory, textForms } from "./helpers/process-memory.js";

let fx: SoftHsmFixture;
let local: LocalEndpoint;
let proxy: FaultProxy;
let config: string;
const agents: ChildProcess[] = [];

beforeAll(async () => {
  fx = createSoftHsmFixture("raa-secret-memory-creds-");
  local = await startLocalEndpoint({ trustAnchors: [fx.file("ca.pem")], port: 0, region: "us-east-1" });
  proxy = await startFaultProxy(local.url);
  proxy.lifetimeMs = 20_000;
  config = join(fx.dir, "config.json");
  writeFileSync(config, JSON.stringify({ profiles: { P: {
    certificate: fx.file("ec-key.pem"), "private-key": fx.file("ec-key.key"), endpoint: proxy.url,
    "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/creds-memory",
    "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/creds-memory",
    "role-arn": "arn:aws:iam::000000000000:role/creds-memory",
  } } }), { mode: 0o600 });
}, 180_000);

afterAll(async () => {
  for (const agent of agents) agent.kill("SIGKILL");
  await proxy?.close();
  await local?.close();
  fx?.cleanup();
});

const occurrences = (pid: number, texts: readonly string[]): number[] => occurrencesInMemory(pid, texts.flatMap(textForms));

describe("agent that refreshed its credentials twice", () => {
  it("the first session's SecretAccessKey and SessionToken, counted in its memory", async () => {
    const socket = join(fx.dir, "agent.sock");
    const agent = spawn(process.execPath, [DIST_CLI, "agent", "--config", config, "--socket", socket], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: "" }, stdio: ["ignore", "ignore", "pipe"],
    });
    agents.push(agent);
    try {
      await untilLogLine(agent, /agent listening on/);
      const ask = async () => JSON.parse((await promisify(execFile)("curl", ["-sS", "--unix-socket", socket, "http://agent/v1/credentials/P"], { encoding: "utf8" })).stdout) as { SecretAccessKey: string; SessionToken: string };
      const first = await ask();
      await expect.poll(() => local.issued.length, { timeout: 90_000, interval: 200 }).toBeGreaterThanOrEqual(3);
      const current = await ask();
      expect(current.SecretAccessKey).not.toBe(first.SecretAccessKey);
      const [key8, key16, token8, token16, control] = occurrences(agent.pid!, [first.SecretAccessKey, first.SessionToken, current.SecretAccessKey]);
      console.log(`secret-in-memory old credentials: ${JSON.stringify({ oldSecretAccessKey: [key8, key16], oldSessionToken: [token8, token16], currentSecretAccessKey: control })}`);
      expect(control).toBeGreaterThan(0);
    } finally {
      const exited = new Promise((r) => agent.once("exit", r));
      agent.kill("SIGTERM");
      await exited;
    }
  }, 150_000);
});

