/**
 * The file signer's secrets in the memory of a long-running `agent` (dist/cli.js): an encrypted PKCS#8 key (PBES2,
 * AES-256-CBC), and a PKCS#12 file (openssl's default export), whose password comes from a file. After the key is loaded and credentials asked for 5 times, root reads
 * the agent's memory (/proc/PID/maps + /proc/PID/mem, as pkcs11-pin-in-memory.test.ts does) and counts
 *  - the password, as UTF-8, UTF-16LE and UTF-16BE. Before round 43 one BMPString copy (UTF-16BE, which also matched as
 *    UTF-16LE) was left in every run: bmpPassword's Buffer.alloc of 42 bytes lived in V8's heap, and a garbage
 *    collection had moved it before the wipe (the same for the PKCS#12 file); now it has an ArrayBuffer of its own;
 *  - the private key's scalar (the 32 bytes an attacker needs), which OpenSSL's EVP_PKEY inside the KeyObject holds for
 *    as long as the signer lives: measured and printed, not asserted to be gone — nothing of ours can wipe it.
 * Each count has its control in the same process: text the agent holds (the profile's ARN) and bytes it holds (the
 * certificate's public key, in OpenSSL's memory beside the scalar), so a count of 0 means "not there", not "not seen".
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createPrivateKey, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { DIST_CLI } from "./helpers/run-cli.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";
import { occurrencesInMemory } from "./helpers/process-memory.js";

const TAG = randomBytes(6).toString("hex");
const ARNS = {
  "trust-anchor-arn": `arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/mem-${TAG}`,
  "profile-arn": `arn:aws:rolesanywhere:us-east-1:000000000000:profile/mem-${TAG}`,
  "role-arn": `arn:aws:iam::000000000000:role/mem-${TAG}`,
};
// Distinctive: 20 random hex digits.
const PASSWORD = randomBytes(10).toString("hex");
const RUNS = Number(process.env.RAA_SECRET_MEMORY_RUNS ?? 3);

let fx: SoftHsmFixture;
let local: LocalEndpoint;
let config: string;
let scalar: Buffer;
let publicPoint: Buffer;
const agents: ChildProcess[] = [];

beforeAll(async () => {
  fx = createSoftHsmFixture("raa-secret-memory-");
  const encrypted = join(fx.dir, "ec-key.enc.pem");
  writeFileSync(encrypted, execFileSync("openssl", ["pkcs8", "-topk8", "-in", fx.file("ec-key.key"), "-passout", `pass:${PASSWORD}`, "-v2", "aes-256-cbc"]), { mode: 0o600 });
  const p12 = join(fx.dir, "ec-key.p12");
  execFileSync("openssl", ["pkcs12", "-export", "-inkey", fx.file("ec-key.key"), "-in", fx.file("ec-key.pem"), "-passout", `pass:${PASSWORD}`, "-out", p12]);
  const passwordFile = join(fx.dir, "key-password");
  writeFileSync(passwordFile, PASSWORD, { mode: 0o600 });
  const jwk = createPrivateKey(readFileSync(fx.file("ec-key.key"))).export({ format: "jwk" });
  scalar = Buffer.from(jwk.d!, "base64url");
  publicPoint = Buffer.concat([Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
  local = await startLocalEndpoint({ trustAnchors: [fx.file("ca.pem")], port: 0, region: "us-east-1" });
  config = join(fx.dir, "config.json");
  const profile = { certificate: fx.file("ec-key.pem"), "private-key": encrypted, "pkcs8-password": `file:${passwordFile}`, ...ARNS, endpoint: local.url };
  const pkcs12 = { ...profile, certificate: undefined, "private-key": p12 };
  // One profile per agent: the scalar's copies are those of one signer.
  writeFileSync(config, JSON.stringify({ profiles: { P: profile } }), { mode: 0o600 });
  writeFileSync(`${config}.p12`, JSON.stringify({ profiles: { Q: pkcs12 } }), { mode: 0o600 });
}, 180_000);

afterAll(async () => {
  for (const agent of agents) agent.kill("SIGKILL");
  await local?.close();
  fx?.cleanup();
});

const occurrences = occurrencesInMemory;

/** password: UTF-8, UTF-16LE (a V8 string), UTF-16BE (PKCS#12's BMPString); scalar: big-endian, little-endian (BIGNUM's words). */
interface Counts { password: [number, number, number]; textControl: number; scalar: [number, number]; bytesControl: number }

/** Starts `agent`, asks it for credentials 5 times (the first loads the key, decrypting it), and counts. */
async function countsInAgent(name = "P"): Promise<Counts> {
  const socket = join(fx.dir, `agent-${process.hrtime.bigint()}.sock`);
  const agent = spawn(process.execPath, [DIST_CLI, "agent", "--config", name === "P" ? config : `${config}.p12`, "--socket", socket], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: "" }, stdio: ["ignore", "ignore", "pipe"],
  });
  agents.push(agent);
  try {
    await untilLogLine(agent, /agent listening on/);
    const before = local.issued.length;
    for (let i = 0; i < 5; i++) {
      // Not execFileSync: the endpoint the agent asks runs in this process.
      const { stdout } = await promisify(execFile)("curl", ["-sS", "--unix-socket", socket, `http://agent/v1/credentials/${name}`], { encoding: "utf8" });
      expect(JSON.parse(stdout)).toMatchObject({ Version: 1 });
    }
    expect(local.issued.length).toBeGreaterThan(before); // it signed: it decrypted the key with the password
    const [p8, p16, bmp, text, s, sLe, pub] = occurrences(agent.pid!, [
      Buffer.from(PASSWORD, "utf8"), Buffer.from(PASSWORD, "utf16le"), Buffer.from(PASSWORD, "utf16le").swap16(),
      Buffer.from(ARNS["profile-arn"], "utf8"), scalar, Buffer.from(scalar).reverse(), publicPoint,
    ]);
    return { password: [p8!, p16!, bmp!], textControl: text!, scalar: [s!, sLe!], bytesControl: pub! };
  } finally {
    const exited = new Promise((r) => agent.once("exit", r));
    agent.kill("SIGTERM");
    await exited;
  }
}

describe("agent with a PKCS#12 file whose password is in a file", () => {
  it.each(Array.from({ length: RUNS }, (_, i) => [i + 1]))("run %i: after the file is loaded and credentials asked for 5 times, no copy of the password (before: 1 in each run)", async () => {
    const counts = await countsInAgent("Q");
    console.log(`secret-in-memory PKCS#12: ${JSON.stringify(counts)}`);
    expect(counts.textControl).toBeGreaterThan(0);
    expect(counts.bytesControl).toBeGreaterThan(0);
    expect(counts.password).toEqual([0, 0, 0]);
  }, 120_000);
});

describe("agent with an encrypted PKCS#8 key whose password is in a file", () => {
  it.each(Array.from({ length: RUNS }, (_, i) => [i + 1]))("run %i: after the key is loaded and credentials asked for 5 times, no copy of the password (before: 1 in each run); the key's scalar counted", async () => {
    const counts = await countsInAgent();
    console.log(`secret-in-memory file key: ${JSON.stringify(counts)}`);
    expect(counts.textControl).toBeGreaterThan(0);
    expect(counts.bytesControl).toBeGreaterThan(0);
    expect(counts.password).toEqual([0, 0, 0]);
  }, 120_000);
});

