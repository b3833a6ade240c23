/**
 * Objects another user with the token's PIN writes to hurt the agent, past the certificates round 35 bounded first:
 * a private key object's CKA_LABEL of 32 MiB was read whole at every signer start (and so by every reopen of the
 * long-running agent); install-certificate read each existing certificate's CKA_VALUE whole; and the bound itself
 * lost 64 KiB of memory per certificate object read (pkcs11js never frees its copy of a buffer the value fits in).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pkcs11js from "pkcs11js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { bundleCli } from "./agent-support.js";
import { certificateObjectTemplate, importSoftHsmKey, initSoftHsmToken, SOFTHSM_MODULE, withSoftHsmSession } from "./helpers/softhsm-fixture.js";
import { runCli } from "./helpers/run-cli.js";
import { failure } from "../test/helpers/agent-error.js";
import { createPkcs11Signer } from "../src/signers/pkcs11/index.js";
import { findCertificates, type TokenContext } from "../src/pkcs11/objects.js";
import type { Pkcs11Module } from "../src/pkcs11/module-loader.js";

const tmp = makeTempDir("raa-bounded-reads-");
const conf = join(tmp.dir, "softhsm2.conf");
const env = { ...process.env, SOFTHSM2_CONF: conf };
const previousConf = process.env.SOFTHSM2_CONF;
process.env.SOFTHSM2_CONF = conf; // the binding in this process reads it
const HUGE_LABEL = 32 * 1024 * 1024;
const MEMORY_VALUE = 128 * 1024 * 1024;
let cli: { cli: string; cleanup: () => void };
let leaf: { certPath: string; der: Buffer };

const initToken = (label: string) => initSoftHsmToken(label, conf);

const withSession = <T>(token: string, use: (lib: pkcs11js.PKCS11, session: Buffer, slot: Buffer) => T): T =>
  withSoftHsmSession(token, "1234", use);

const certificateTemplate = certificateObjectTemplate;

/** An EC P-256 private key object with `label` (any bytes), as another user's C_CreateObject stores it. */
const keyTemplate = (label: Buffer, id: string) => [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
  { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
  { type: pkcs11js.CKA_TOKEN, value: true },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SIGN, value: true },
  { type: pkcs11js.CKA_LABEL, value: label },
  { type: pkcs11js.CKA_ID, value: Buffer.from(id, "hex") },
  { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from("06082a8648ce3d030107", "hex") },
  { type: pkcs11js.CKA_VALUE, value: Buffer.alloc(32, 7) },
];

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const ca = createCa(join(tmp.dir, "ca"), { name: "Bounded Reads CA" });
  const issued = issueLeaf(ca, join(tmp.dir, "leaf"), { name: "device" });
  leaf = { certPath: issued.certPath, der: Buffer.from(execFileSync("openssl", ["x509", "-in", issued.certPath, "-outform", "DER"])) };

  writeFileSync(join(tmp.dir, "pin"), "1234\n", { mode: 0o600 });
  initToken("leak");
  withSession("leak", (lib, session) => lib.C_CreateObject(session, certificateTemplate(leaf.der, "device", "01")));
  initToken("keys");
  withSession("keys", (lib, session) => lib.C_CreateObject(session, keyTemplate(Buffer.alloc(HUGE_LABEL, 0x41), "02")));
  initToken("install");
  importKey("install", issued.keyPath, "01", "device");
  withSession("install", (lib, session) => lib.C_CreateObject(session, certificateTemplate(Buffer.alloc(MEMORY_VALUE, 0x30), "huge", "01")));
  initToken("p224");
  const p224Key = join(tmp.dir, "p224.key");
  execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-224", "-out", p224Key]);
  const p224 = issueLeaf(ca, join(tmp.dir, "p224"), { name: "p224", keyPath: p224Key });
  importKey("p224", p224Key, "07", "p224");
  const p224Der = Buffer.from(execFileSync("openssl", ["x509", "-in", p224.certPath, "-outform", "DER"]));
  withSession("p224", (lib, session) => lib.C_CreateObject(session, certificateTemplate(p224Der, "p224", "07")));
  initToken("explicit"); // a P-224 key written with explicit curve parameters, its private half only
  const explicitKey = join(tmp.dir, "explicit.key");
  execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-224", "-pkeyopt", "ec_param_enc:explicit", "-out", explicitKey]);
  execFileSync("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", explicitKey, "-outform", "DER", "-out", `${explicitKey}.der`]);
  execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", "explicit", "--login", "--pin", "1234", "--write-object", `${explicitKey}.der`, "--type", "privkey", "--id", "09", "--label", "explicit"], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: "ignore" });
  cli = await bundleCli();
}, 180_000);

const importKey = (token: string, keyPem: string, id: string, label: string) => importSoftHsmKey(token, keyPem, id, label, conf);

afterAll(() => {
  if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = previousConf;
  cli?.cleanup();
  tmp.cleanup();
});

describe("reading a certificate object within its bound", () => {
  it("2,000 reads of a real certificate object keep memory near flat (pkcs11js's copy of a 64 KiB buffer: +147 MiB)", () => {
    withSession("leak", (lib, session, slot) => {
      // pkcs11js's read (as without raa_native): the one that loses a copy of each buffer a value fits in.
      const context = { module: { lib, directReads: false } as unknown as Pkcs11Module, session, slot: { handle: slot, token: { label: "leak", manufacturer: "", model: "", serial: "" } }, generation: 0 } as unknown as TokenContext;
      expect(findCertificates(context, {}).map((c) => c.certificate.der.equals(leaf.der))).toEqual([true]);
      const before = process.memoryUsage().rss;
      for (let i = 0; i < 2000; i++) findCertificates(context, {});
      const grown = (process.memoryUsage().rss - before) / 1024 / 1024;
      console.log(`2,000 certificate object reads: RSS +${grown.toFixed(1)} MiB`);
      // Measured 7–17 MiB after the fix, 134 before; the bound leaves room for the worker heap's own growth under load.
      expect(grown).toBeLessThan(64);
    });
  }, 60_000);
});

describe("a private key object with a CKA_LABEL of 32 MiB", () => {
  it("is left out unread, and the signer's not-found error says which object and why", async () => {
    const error = await failure(createPkcs11Signer({ keyUri: "pkcs11:token=keys", library: SOFTHSM_MODULE, pin: { kind: "value", value: "1234" } }));
    expect(error.code).toBe("PKCS11_OBJECT_NOT_FOUND");
    expect(error.message).toMatch(
      /^no private key matches pkcs11:token=keys on .*; the private key object pkcs11:id=%02;.*type=private is left out: its CKA_LABEL is larger than 1024 bytes, which no key the agent can use has$/,
    );
  }, 60_000);
});

describe("install-certificate next to a certificate object of 128 MiB with the key's id", () => {
  it("reads no more of it than its bound: peak memory stays far below the object's size", async () => {
    const args = ["install-certificate", "--private-key", "pkcs11:token=install;object=device", "--certificate", leaf.certPath, "--pkcs11-lib", SOFTHSM_MODULE, "--pkcs11-pin-file", join(tmp.dir, "pin")];
    const { code, stderr } = await runCli(cli.cli, args, env, 120_000, ["/usr/bin/time", "-f", "max-rss-kib=%M"]);
    console.log(`install-certificate, 128 MiB certificate object: exit ${code}, ${stderr.trim()}`);
    expect(stderr).toContain("already holds another certificate with the key's id 01");
    const kib = Number(/max-rss-kib=(\d+)/.exec(stderr)![1]);
    // SoftHSM itself holds about two copies of the object: those are the module's.
    expect(kib * 1024).toBeLessThan(3 * MEMORY_VALUE);
  }, 150_000);
});

describe("a P-224 key on the token", () => {
  it("with its certificate: refused at the certificate check with one line naming the curve and those the agent signs with", async () => {
    const uri = "pkcs11:token=p224;object=p224";
    const error = await failure(createPkcs11Signer({ keyUri: uri, certificateUri: uri, library: SOFTHSM_MODULE, pin: { kind: "value", value: "1234" } }));
    expect([error.code, error.message, error.hint]).toEqual([
      "PRIVATE_KEY_UNSUPPORTED",
      "the certificate's key is on secp224r1, which the agent does not sign with",
      "have the CA issue a certificate for an RSA key or an ECDSA key on P-256, P-384, P-521",
    ]);
  }, 60_000);

  it("a key URI alone (no certificate) is refused the same way, before any signature (was: a signer whose every signature failed)", async () => {
    const error = await failure(createPkcs11Signer({ keyUri: "pkcs11:token=p224;object=p224", library: SOFTHSM_MODULE, pin: { kind: "value", value: "1234" } }));
    expect(error.code).toBe("PRIVATE_KEY_UNSUPPORTED");
    expect(error.message).toMatch(/^the key pkcs11:id=%07;.*object=p224;.*type=private is on secp224r1, which the agent does not sign with$/);
    expect(error.hint).toBe("use an RSA key or an ECDSA key on P-256, P-384, P-521");
  }, 60_000);

  it("written with explicit curve parameters and no public half, by key URI alone: refused the same way (was: a signer making P-224 signatures)", async () => {
    const error = await failure(createPkcs11Signer({ keyUri: "pkcs11:token=explicit;object=explicit", library: SOFTHSM_MODULE, pin: { kind: "value", value: "1234" } }));
    expect(error.code).toBe("PRIVATE_KEY_UNSUPPORTED");
    expect(error.message).toMatch(/^the key pkcs11:id=%09;.*object=explicit;.*type=private is on a curve it does not name, which the agent does not sign with$/);
    expect(error.hint).toBe("use an RSA key or an ECDSA key on P-256, P-384, P-521");
  }, 60_000);
});
