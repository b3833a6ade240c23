/**
 * Hostile input at its bound, fed to the shipped CLI (dist/cli.js): its peak resident memory (ru_maxrss, through GNU
 * time) stays under a ceiling measured in the same run from a small valid input (+64 MiB), its V8 heap is capped
 * (--max-old-space-size) so that an unbounded or amplifying parse dies of OOM, and it answers in one line with its
 * documented exit code, no stack. The shapes are structured (valid DER lengths, real OIDs, valid JSON), not noise.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../test/helpers/pki.js";
import { runWithPeak, type PeakRun } from "./helpers/peak-memory.js";

const MiB = 1024 * 1024;
const BOUND = 16 * MiB; // MAX_INPUT_BYTES
const HEAP_MiB = 128;
const MARGIN_MiB = 64;
const ACCOUNT = "111122223333";
const ARNS = {
  "trust-anchor-arn": `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:trust-anchor/ta`,
  "profile-arn": `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:profile/p`,
  "role-arn": `arn:aws:iam::${ACCOUNT}:role/device`,
};
const env: NodeJS.ProcessEnv = { PATH: process.env["PATH"], HOME: "/nonexistent", CI: "true", NODE_EXTRA_CA_CERTS: "", AWS_CA_BUNDLE: "", XDG_RUNTIME_DIR: "/nonexistent" };

const { dir, cleanup } = makeTempDir("raa-memory-ceiling-");
let endpoint: LocalEndpoint;
let leaf: ReturnType<typeof issueLeaf>;
let inter: ReturnType<typeof createCa>;
let encryptedKey: string;
let ceilingMiB: number;
const servers: Server[] = [];
const children: ChildProcess[] = [];

const flags = (o: Record<string, string>) => Object.entries(o).flatMap(([k, v]) => [`--${k}`, v]);
const session = (url = endpoint.url) => [...flags(ARNS), "--endpoint", url, "--no-agent"];
const file = (name: string, bytes: Buffer | string) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};
const run = (args: readonly string[], stdin?: Buffer | string) => runWithPeak(args, { env, heapMiB: HEAP_MiB, stdin });

/** A one-line refusal with exit code `code`, no stack, within the ceiling. */
function expectRefused(r: PeakRun, code: number, message: RegExp): void {
  console.log(`peak ${r.peakMiB.toFixed(1)} MiB (ceiling ${ceilingMiB.toFixed(1)}), exit ${r.code ?? r.signal}: ${r.stderr.slice(0, 300)}`);
  expect(r.stderr).not.toMatch(/\n\s+at |FATAL ERROR|RangeError|Maximum call stack/);
  expect({ code: r.code, lines: r.stderr.trimEnd().split("\n").length }).toEqual({ code, lines: 1 });
  expect(r.stderr).toMatch(message);
  expect(r.peakMiB).toBeLessThan(ceilingMiB);
}

/** DER: tag, definite length (long form when needed), content. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : Buffer.from([0x84, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}
const pem = (label: string, der: Buffer) => `-----BEGIN ${label}-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END ${label}-----\n`;
/** As much DER as fits a PEM block of `bytes` bytes. */
const derFitting = (bytes: number) => Math.floor((bytes - 60) / 65 * 64 / 4) * 3;

/** A SEQUENCE of SEQUENCEs `depth` deep, each with its DER length, around an OID (commonName). */
function nested(depth: number): Buffer {
  const out = Buffer.alloc(depth * 6 + 5);
  let inner = 5;
  Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]).copy(out, depth * 6);
  for (let level = depth - 1; level >= 0; level--) {
    out.writeUInt8(0x30, level * 6);
    out.writeUInt8(0x84, level * 6 + 1);
    out.writeUInt32BE(inner, level * 6 + 2);
    inner += 6;
  }
  return out;
}

beforeAll(async () => {
  const root = createCa(join(dir, "root"), { name: "Ceiling Root CA" });
  inter = createCa(join(dir, "inter"), { name: "Ceiling Intermediate CA", parent: root });
  leaf = issueLeaf(inter, join(dir, "leaf"), { name: "ceiling-leaf", keyType: "p256" });
  encryptedKey = join(dir, "key.enc.pem");
  openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-out", encryptedKey, "-v2", "aes-256-cbc", "-passout", "pass:Pw-ceiling-71c"]);
  endpoint = await startLocalEndpoint({ trustAnchors: root.certPath, port: 0 });
  // The small valid input, measured in this run: a full credential-process with key, chain and config.
  const config = file("small.json", JSON.stringify({ profiles: { P: { certificate: leaf.certPath, "private-key": leaf.keyPath, intermediates: inter.certPath, ...ARNS, endpoint: endpoint.url } } }));
  const small = await run(["credential-process", "--config", config, "--profile", "P", "--no-agent"]);
  expect(small.stderr).toBe("");
  expect(JSON.parse(small.stdout).AccessKeyId).toMatch(/^ASIA/);
  ceilingMiB = small.peakMiB + MARGIN_MiB;
  console.log(`small valid input: peak ${small.peakMiB.toFixed(1)} MiB; ceiling ${ceilingMiB.toFixed(1)} MiB`);
}, 120_000);

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const s of servers) await new Promise((r) => s.close(r));
  await endpoint?.close();
  cleanup();
});

describe("certificates and chains of 16 MiB", () => {
  it("many 2-byte PEM blocks, as the certificate file and as intermediates", async () => {
    // Before: every block was decoded before the chain's cap counted them: 284,359 blocks, peak 240 MiB.
    const block = pem("CERTIFICATE", Buffer.from([0x30, 0x00]));
    const chain = file("many-blocks.pem", block.repeat(Math.floor(BOUND / block.length)));
    const tooMany = /^roles-anywhere-agent: invalid certificate chain: 28\d{4} certificates, more than the 100 sent at most/;
    expectRefused(await run(["credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, "--intermediates", chain, ...session()]), 3, tooMany);
    expectRefused(await run(["credential-process", "--certificate", chain, "--private-key", leaf.keyPath, ...session()]), 3, /^roles-anywhere-agent: invalid certificate chain: 28\d{4} certificates/);
  }, 180_000);

  it("one block of 2-byte TLVs (a SEQUENCE of millions of NULLs) as the certificate and as intermediates", async () => {
    const count = Math.floor((derFitting(BOUND) - 5) / 2);
    const der = tlv(0x30, Buffer.alloc(count * 2, Buffer.from([0x05, 0x00])));
    const path = file("flat.pem", pem("CERTIFICATE", der));
    expect(readFileSync(path).length).toBeLessThanOrEqual(BOUND);
    expectRefused(await run(["credential-process", "--certificate", path, "--private-key", leaf.keyPath, ...session()]), 3, /could not parse certificate: .* is not a valid X\.509 certificate/);
    expectRefused(await run(["credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, "--intermediates", path, ...session()]), 3, /invalid certificate chain: could not parse certificate: .* is not a valid X\.509 certificate/);
  }, 180_000);

  it("one block nested 2 million SEQUENCEs deep", async () => {
    const path = file("deep.pem", pem("CERTIFICATE", nested(Math.floor((derFitting(BOUND) - 5) / 6))));
    expect(readFileSync(path).length).toBeLessThanOrEqual(BOUND);
    expectRefused(await run(["credential-process", "--certificate", path, "--private-key", leaf.keyPath, ...session()]), 3, /could not parse certificate: .* is not a valid X\.509 certificate/);
    expectRefused(await run(["credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, "--intermediates", path, ...session()]), 3, /invalid certificate chain: could not parse certificate: .* is not a valid X\.509 certificate/);
  }, 180_000);
});
