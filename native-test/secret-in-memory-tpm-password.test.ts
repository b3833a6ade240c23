/**
 * The TPM key's password in the memory of a long-running `agent` (dist/cli.js, real swtpm, the password from a file):
 * after the key is loaded and credentials asked for 5 times, root reads the agent's memory (/proc/PID/maps and
 * /proc/PID/mem, as pkcs11-pin-in-memory.test.ts does) and counts the password as UTF-8, UTF-16LE and UTF-16BE, with a
 * control in the same process (the profile's ARN, text the agent holds), so that 0 means "not there".
 * The signer holds the password as bytes for as long as it lives (key-lifecycle.ts: each signature's session is
 * authorized with it; wiped at close): that one UTF-8 copy is expected and found in every run (which also shows the
 * reader sees where our secrets live). Any other copy — a string of it, an HMAC key left unwiped — would add to it.
 * swtpm's own memory is another process and not counted. A wrong password is never sent: the lockout counter stays.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { lockoutCounter, persistSrk } from "./helpers/tpm-keys.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { DIST_CLI } from "./helpers/run-cli.js";
import { occurrencesInMemory } from "./helpers/process-memory.js";

const TAG = randomBytes(6).toString("hex");
const PROFILE_ARN = `arn:aws:rolesanywhere:us-east-1:000000000000:profile/mem-${TAG}`;
// Distinctive: 20 random hex digits.
const PASSWORD = randomBytes(10).toString("hex");
const RUNS = Number(process.env.RAA_SECRET_MEMORY_RUNS ?? 3);
const { dir, cleanup } = makeTempDir("raa-secret-memory-tpm-");

let local: LocalEndpoint;
let tpm: Swtpm;
let config: string;
const agents: ChildProcess[] = [];

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Secret Memory CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "secret-memory" });
  local = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  tpm = await startSwtpm();
  await persistSrk(tpm, 0x81000001);
  const [pub, priv, ctx] = ["pub", "priv", "ctx"].map((x) => join(tpm.dir, `key.${x}`));
  await tpm.run("tpm2_import", ["-C", "0x81000001", "-G", "ecc", "-i", leaf.keyPath, "-u", pub!, "-r", priv!, "-p", PASSWORD, "-a", "userwithauth|sign", "-Q"]);
  await tpm.run("tpm2_load", ["-C", "0x81000001", "-u", pub!, "-r", priv!, "-c", ctx!, "-Q"]);
  await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx!, "0x81000010", "-Q"]);
  await tpm.flushAll();
  const passwordFile = join(dir, "tpm-password");
  writeFileSync(passwordFile, PASSWORD, { mode: 0o600 });
  config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ profiles: { P: {
    certificate: leaf.certPath, "private-key": "handle:0x81000010", "tpm-device": tpm.device, "tpm-key-password": `file:${passwordFile}`,
    endpoint: local.url, "profile-arn": PROFILE_ARN,
    "trust-anchor-arn": `arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/mem-${TAG}`,
    "role-arn": `arn:aws:iam::000000000000:role/mem-${TAG}`,
  } } }), { mode: 0o600 });
}, 180_000);

afterAll(async () => {
  for (const agent of agents) agent.kill("SIGKILL");
  await tpm?.stop();
  await local?.close();
  cleanup();
});

const occurrences = occurrencesInMemory;

async function countsInAgent(): Promise<{ password: number[]; control: number }> {
  const socket = join(dir, `agent-${process.hrtime.bigint()}.sock`);
  // One connection at a time to swtpm: this agent alone, stopped (its objects flushed) before the next run.
  const agent = spawn(process.execPath, [DIST_CLI, "agent", "--config", config, "--socket", socket], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: "" }, stdio: ["ignore", "ignore", "pipe"],
  });
  agents.push(agent);
  try {
    await untilLogLine(agent, /agent listening on/);
    const before = local.issued.length;
    for (let i = 0; i < 5; i++) {
      const { stdout } = await promisify(execFile)("curl", ["-sS", "--unix-socket", socket, "http://agent/v1/credentials/P"], { encoding: "utf8" });
      expect(JSON.parse(stdout)).toMatchObject({ Version: 1 });
    }
    expect(local.issued.length).toBeGreaterThan(before); // the TPM signed: the password authorized it
    const [p8, p16, p16be, control] = occurrences(agent.pid!, [
      Buffer.from(PASSWORD, "utf8"), Buffer.from(PASSWORD, "utf16le"), Buffer.from(PASSWORD, "utf16le").swap16(), Buffer.from(PROFILE_ARN, "utf8"),
    ]);
    return { password: [p8!, p16!, p16be!], control: control! };
  } finally {
    const exited = new Promise((r) => agent.once("exit", r));
    agent.kill("SIGTERM");
    await exited;
  }
}

describe("agent with a TPM key whose password is in a file", () => {
  it.each(Array.from({ length: RUNS }, (_, i) => [i + 1]))("run %i: after the key is loaded and credentials asked for 5 times, only the signer's held copy of the password", async () => {
    const counts = await countsInAgent();
    console.log(`secret-in-memory TPM password: ${JSON.stringify(counts)}`);
    expect(counts.control).toBeGreaterThan(0);
    expect(await lockoutCounter(tpm)).toBe(0);
    expect(counts.password).toEqual([1, 0, 0]);
  }, 120_000);
});

