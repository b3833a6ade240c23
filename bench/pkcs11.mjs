#!/usr/bin/env node
/**
 * PKCS#11 back-end cost on SoftHSM, next to pkcs11js called directly (all over dist/, built by `npm run build`):
 * - sign latency, median over ≥ 200 signatures on one open session: `signer.sign()` against the same
 *   mechanism through pkcs11js (C_SignInit + C_Sign; ECDSA on a SHA-256 computed here) — target ≤ 1.1×;
 * - the one-time cost of `createPkcs11Signer` (load, initialise, find certificate and key, log in, prove the
 *   key) against pkcs11js's load + C_Initialize + C_OpenSession + C_Login, each in fresh processes.
 * Run it alone with `node bench/pkcs11.mjs` (after `npm run build`; unset NODE_EXTRA_CA_CERTS). Uses a
 * throwaway token made by softhsm/create-test-token.sh in a temp directory.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const LIB = join(ROOT, "dist", "lib", "signers", "pkcs11", "index.js");
const MODULE = "/usr/lib/softhsm/libsofthsm2.so";
const PIN = "1234";
const SIGNATURES = 400;
const FRESH_PROCESSES = 9;
const MESSAGE = Buffer.from("AWS4-X509-ECDSA-SHA256\n20261123T000000Z\n20261123/us-east-1/rolesanywhere/aws4_request\n" + "a".repeat(64));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const fmt = (x) => `${x.toFixed(3)} ms`;

/** pkcs11js (CommonJS, constants copied at run time) through require, as src/pkcs11/addon-status.ts loads it. */
function pkcs11js() {
  return createRequire(join(ROOT, "package.json"))("pkcs11js");
}

function rawSession(label) {
  const { PKCS11 } = pkcs11js();
  const p = new PKCS11();
  p.load(MODULE);
  try {
    p.C_Initialize({ flags: 2 });
  } catch (e) {
    if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test(e.message)) throw e;
  }
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === "rolesanywhere");
  const session = p.C_OpenSession(slot, 4);
  try {
    p.C_Login(session, 1, PIN);
  } catch (e) {
    if (!/CKR_USER_ALREADY_LOGGED_IN/.test(e.message)) throw e;
  }
  let key;
  if (label) {
    p.C_FindObjectsInit(session, [{ type: 0, value: 3 }, { type: 3, value: label }]);
    [key] = p.C_FindObjects(session, 2);
    p.C_FindObjectsFinal(session);
  }
  return { p, session, key };
}

/** Child mode: one fresh process measures one cold start and prints its duration. */
async function coldOnce(which) {
  if (which === "agent") {
    // Our signer's modules, and pkcs11js, which createPkcs11Signer would require on first use: timed apart.
    let start = process.hrtime.bigint();
    const { createPkcs11Signer } = await import(pathToFileURL(LIB).href);
    pkcs11js();
    const importing = ms(start);
    const uri = "pkcs11:token=rolesanywhere;object=ec-key";
    start = process.hrtime.bigint();
    const signer = await createPkcs11Signer({ keyUri: uri, certificateUri: uri, library: MODULE, pin: { kind: "value", value: PIN } });
    const creating = ms(start);
    await signer.close();
    return { importing, creating };
  }
  let start = process.hrtime.bigint();
  pkcs11js();
  const importing = ms(start);
  start = process.hrtime.bigint();
  rawSession(undefined);
  return { importing, creating: ms(start) };
}

async function signLatency(label, mechanismName, mechanism, prehash) {
  const { createPkcs11Signer } = await import(pathToFileURL(LIB).href);
  const uri = `pkcs11:token=rolesanywhere;object=${label}`;
  const signer = await createPkcs11Signer({ keyUri: uri, certificateUri: uri, library: MODULE, pin: { kind: "value", value: PIN } });
  const { p, session, key } = rawSession(label);
  const direct = () => {
    p.C_SignInit(session, { mechanism }, key);
    const data = prehash ? createHash("sha256").update(MESSAGE).digest() : MESSAGE;
    return p.C_Sign(session, data, Buffer.alloc(512));
  };
  const ours = [];
  const reference = [];
  for (let i = 0; i < 20; i++) {
    await signer.sign(MESSAGE);
    direct();
  }
  // interleaved, so that the noisy machine affects both sides alike
  for (let i = 0; i < SIGNATURES; i++) {
    let start = process.hrtime.bigint();
    await signer.sign(MESSAGE);
    ours.push(ms(start));
    start = process.hrtime.bigint();
    direct();
    reference.push(ms(start));
  }
  p.C_CloseSession(session);
  await signer.close();
  const a = median(ours);
  const b = median(reference);
  console.log(
    `sign ${label} (${mechanismName}), median of ${SIGNATURES}: ${fmt(a)} | pkcs11js direct: ${fmt(b)} | ratio ${(a / b).toFixed(2)}× (target ≤ 1.10×)`,
  );
  return { label, ours: a, reference: b, ratio: a / b };
}

function coldStart(conf) {
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  delete env.NODE_EXTRA_CA_CERTS;
  const run = (which) =>
    Array.from({ length: FRESH_PROCESSES }, () => {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--cold", which], { env, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`cold run (${which}) failed: ${r.stderr}`);
      return JSON.parse(r.stdout);
    });
  const agent = run("agent");
  const raw = run("pkcs11js");
  const a = median(agent.map((x) => x.creating));
  const b = median(raw.map((x) => x.creating));
  const ai = median(agent.map((x) => x.importing));
  const bi = median(raw.map((x) => x.importing));
  console.log(
    `one-time open+login, median of ${FRESH_PROCESSES} fresh processes: createPkcs11Signer ${fmt(a)} (load, init, find cert+key, login, prove key, chain) | pkcs11js load+C_Initialize+C_OpenSession+C_Login: ${fmt(b)} | ratio ${(a / b).toFixed(2)}×`,
  );
  console.log(`  module import before that: dist/lib's PKCS#11 signer with pkcs11js ${fmt(ai)} | pkcs11js alone ${fmt(bi)} | ratio ${(ai / bi).toFixed(2)}×`);
  return { ours: a, reference: b, ratio: a / b, importOurs: ai, importReference: bi };
}

export async function run() {
  const dir = mkdtempSync(join(tmpdir(), "raa-bench-pkcs11-"));
  try {
    execFileSync("bash", [join(ROOT, "softhsm", "create-test-token.sh"), dir], { stdio: ["ignore", "ignore", "inherit"] });
    const conf = join(dir, "softhsm2.conf");
    process.env.SOFTHSM2_CONF = conf;
    const results = {
      ec: await signLatency("ec-key", "CKM_ECDSA, P-256", 0x1041, true),
      rsa: await signLatency("rsa-key", "CKM_SHA256_RSA_PKCS, RSA-2048", 0x40, false),
      cold: coldStart(conf),
    };
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  if (process.argv[2] === "--cold") {
    console.log(JSON.stringify(await coldOnce(process.argv[3])));
  } else {
    await run();
  }
}
