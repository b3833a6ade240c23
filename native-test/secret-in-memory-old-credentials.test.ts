/**
 * An old session's secrets in the memory of a long-running `agent` (dist/cli.js) after it refreshed to new ones:
 * credentials rewritten (a proxy) to expire 20 s after they came, so the agent refreshes within seconds, twice; the
 * first session was served once over the socket. Then root reads the agent's memory (/proc/PID/maps and
 * /proc/PID/mem, as pkcs11-pin-in-memory.test.ts does) and counts the first session's SecretAccessKey and
 * SessionToken (UTF-8 and UTF-16LE), with the current session's SecretAccessKey as the control (held for serving).
 * Before round 43 (P3): 3 UTF-8 copies of each. The endpoint's body (socket pieces and their join) is now wiped once
 * parsed, and the served answer is written into bytes wiped once sent (no JSON text of it): 1 copy of each is left, a
 * string V8 made from the endpoint's answer (its text for JSON.parse, or the parsed value), which no code of ours
 * can reach or wipe; V8 does not wipe what it frees either.
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
  // Per run: the old key's and token's UTF-8 copies. V8 frees without wiping, so a run may catch a string's old place
  // (a scavenge copies a live string and leaves the old one): measured after the fix 1 in 13 of 15 runs, 2 and 4 once.
  const seen: number[] = [];
  const controls: number[] = []; // the current key's copies: 4 in each of 5 runs, 7 when served as a JSON text (lead, round 43)
  it.each([[1], [2], [3], [4], [5]])("run %i: the first session's SecretAccessKey and SessionToken, counted in its memory", async () => {
    const socket = join(fx.dir, "agent.sock");
    const agent = spawn(process.execPath, [DIST_CLI, "agent", "--config", config, "--socket", socket], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: "" }, stdio: ["ignore", "ignore", "pipe"],
    });
    agents.push(agent);
    try {
      await untilLogLine(agent, /agent listening on/);
      const ask = async () => JSON.parse((await promisify(execFile)("curl", ["-sS", "--unix-socket", socket, "http://agent/v1/credentials/P"], { encoding: "utf8" })).stdout) as { SecretAccessKey: string; SessionToken: string };
      const before = local.issued.length;
      const first = await ask();
      await expect.poll(() => local.issued.length, { timeout: 90_000, interval: 200 }).toBeGreaterThanOrEqual(before + 3);
      const current = await ask();
      expect(current.SecretAccessKey).not.toBe(first.SecretAccessKey);
      const [key8, key16, token8, token16, control] = occurrences(agent.pid!, [first.SecretAccessKey, first.SessionToken, current.SecretAccessKey]);
      console.log(`secret-in-memory old credentials: ${JSON.stringify({ oldSecretAccessKey: [key8, key16], oldSessionToken: [token8, token16], currentSecretAccessKey: control })}`);
      expect(control).toBeGreaterThan(0);
      expect([key16, token16]).toEqual([0, 0]);
      seen.push(key8!, token8!);
      controls.push(control!);
    } finally {
      const exited = new Promise((r) => agent.once("exit", r));
      agent.kill("SIGTERM");
      await exited;
    }
  }, 150_000);

  it("over the runs: 1 copy each at the least and fewer than 3 on average (before round 43: 3 in every run)", () => {
    expect(seen.length).toBe(10);
    expect(Math.min(...seen)).toBe(1);
    expect(seen.reduce((a, b) => a + b, 0)).toBeLessThan(3 * seen.length);
  });

  it("the current key: fewer than 6 copies at the least, as the agent serves it from bytes it wipes, not a JSON text (7)", () => {
    expect(controls.length).toBe(5);
    expect(Math.min(...controls)).toBeLessThan(6);
  });
});

