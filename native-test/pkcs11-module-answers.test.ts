/**
 * Modules that answer C_GetAttributeValue as SoftHSM never does (PKCS#11 v2.40 §5.2 lets them): an attribute withheld
 * (CKR_ATTRIBUTE_SENSITIVE, _TYPE_INVALID, or CKR_OK with CK_UNAVAILABLE_INFORMATION), the call failed
 * (CKR_DEVICE_ERROR), a short buffer answered with CKR_BUFFER_TOO_SMALL at every size, or with CKR_OK and the length
 * needed. Before round 36 each left the object out without a word: the certificate was "not found". The module is
 * SoftHSM itself behind a shim that changes those answers only (helpers/attribute-shim).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { bundleCli } from "./agent-support.js";
import { certificateObjectTemplate, importSoftHsmKey, initSoftHsmToken, SOFTHSM_MODULE, withSoftHsmSession } from "./helpers/softhsm-fixture.js";
import { buildAttributeShim } from "./helpers/attribute-shim.js";
import { runCli } from "./helpers/run-cli.js";
import { failure } from "../test/helpers/agent-error.js";
import { createPkcs11Signer } from "../src/signers/pkcs11/index.js";

const tmp = makeTempDir("raa-module-answers-");
const conf = join(tmp.dir, "softhsm2.conf");
const log = join(tmp.dir, "sizes.log");
const SHIM_VARIABLES = ["RAA_SHIM_TARGET", "RAA_SHIM_ATTRIBUTE", "RAA_SHIM_ANSWER", "RAA_SHIM_LOG"] as const;
const previous = Object.fromEntries(["SOFTHSM2_CONF", ...SHIM_VARIABLES].map((name) => [name, process.env[name]]));
process.env.SOFTHSM2_CONF = conf; // the binding in this process reads it
process.env.RAA_SHIM_TARGET = SOFTHSM_MODULE;
let shim: string;
let cli: { cli: string; cleanup: () => void };
let leafLength = 0;
const CKA_KEY_TYPE = "0x100";

/** The shim's answer for `attribute` in this process (the CLI gets its own environment). */
function answer(kind: string | undefined, attribute = "0x11"): void {
  if (kind === undefined) delete process.env.RAA_SHIM_ANSWER;
  else process.env.RAA_SHIM_ANSWER = kind;
  process.env.RAA_SHIM_ATTRIBUTE = attribute;
}

const certificateTemplate = certificateObjectTemplate;

const initToken = (label: string) => initSoftHsmToken(label, conf);

const importKey = (token: string, keyPem: string, id: string, label: string) => importSoftHsmKey(token, keyPem, id, label, conf);

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  shim = buildAttributeShim(tmp.dir);
  const ca = createCa(join(tmp.dir, "ca"), { name: "Module Answers CA" });
  const issued = issueLeaf(ca, join(tmp.dir, "leaf"), { name: "device" });
  const der = Buffer.from(execFileSync("openssl", ["x509", "-in", issued.certPath, "-outform", "DER"]));
  leafLength = der.length;
  initToken("answers");
  importKey("answers", issued.keyPath, "01", "device");
  withSoftHsmSession("answers", "1234", (lib, session) => lib.C_CreateObject(session, certificateTemplate(der, "device", "01")));
  // A certificate's DER with 100 KiB after it: above the 64 KiB bound.
  initToken("padded");
  importKey("padded", issued.keyPath, "01", "device");
  const padded = Buffer.concat([der, Buffer.alloc(100 * 1024)]);
  withSoftHsmSession("padded", "1234", (lib, session) => lib.C_CreateObject(session, certificateTemplate(padded, "device", "01")));
  // Two keys whose labels read alike unless a listing escapes the backslash: typed `\u00ad` (and a `"`), and U+00AD.
  initToken("lookalike");
  importKey("lookalike", issued.keyPath, "02", 'dev\\u00adice"');
  importKey("lookalike", issued.keyPath, "03", "dev\u00adice");
  cli = await bundleCli();
}, 180_000);

afterEach(() => {
  answer(undefined);
  delete process.env.RAA_SHIM_LOG;
});

afterAll(() => {
  for (const [name, value] of Object.entries(previous)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  cli?.cleanup();
  tmp.cleanup();
});

/** A signer for the key and certificate at `uri`, or (`keyOnly`) for the key alone. */
const signer = (uri: string, keyOnly = false) =>
  createPkcs11Signer({ keyUri: uri, certificateUri: keyOnly ? undefined : uri, library: shim, pin: { kind: "value", value: "1234" } });

const CERT_OBJECT = /the certificate object pkcs11:id=%01;.*object=device;.*type=cert/;

describe("a certificate object whose CKA_VALUE the module withholds", () => {
  it.each([
    ["sensitive", "CKR_ATTRIBUTE_SENSITIVE (0x11)"],
    ["type-invalid", "CKR_ATTRIBUTE_TYPE_INVALID (0x12)"],
    ["ok-unavailable", "CKR_OK without a value"],
  ])("%s: the signer names the object and the module's answer (was: not found)", async (kind, said) => {
    answer(kind);
    const error = await failure(signer("pkcs11:token=answers;object=device"));
    expect(error.code).toBe("CERTIFICATE_INVALID");
    expect(error.message).toMatch(CERT_OBJECT);
    expect(error.message).toContain(`cannot be used: its PKCS#11 module does not give its CKA_VALUE: it answers ${said}`);
    expect(error.hint).toContain("keeps the certificate's value to itself");
  }, 60_000);

  it("read-certificate-data says so once on stderr, and lists nothing", async () => {
    const env = { ...process.env, RAA_SHIM_ANSWER: "sensitive", RAA_SHIM_ATTRIBUTE: "0x11" };
    const { code, stdout, stderr } = await runCli(cli.cli, ["read-certificate-data", "--certificate", "pkcs11:token=answers", "--pkcs11-lib", shim], env);
    expect([code, stdout]).toEqual([0, "No matching identities\n"]);
    const lines = stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(CERT_OBJECT);
    expect(lines[0]).toContain("is not listed: its PKCS#11 module does not give its CKA_VALUE: it answers CKR_ATTRIBUTE_SENSITIVE (0x11)");
  }, 60_000);
});

describe("a module that fails C_GetAttributeValue with CKR_DEVICE_ERROR", () => {
  it("reading a certificate object: a PKCS11_ERROR naming the object and the code (was: not found)", async () => {
    answer("device-error");
    const error = await failure(signer("pkcs11:token=answers;object=device"));
    expect(error.code).toBe("PKCS11_ERROR");
    expect(error.message).toMatch(/^reading the certificate object pkcs11:id=%01;.*type=cert failed: CKR_DEVICE_ERROR \(0x30\)$/);
  }, 60_000);

  it("reading a private key object's CKA_KEY_TYPE: a PKCS11_ERROR naming the key (was: no private key matches)", async () => {
    answer("device-error", CKA_KEY_TYPE);
    const error = await failure(signer("pkcs11:token=answers;object=device", true));
    expect(error.code).toBe("PKCS11_ERROR");
    expect(error.message).toMatch(/^reading the private key object pkcs11:id=%01;.*type=private failed: CKR_DEVICE_ERROR \(0x30\)$/);
  }, 60_000);
});

describe("a module that fails C_GetAttributeValue for an attribute the agent can do without", () => {
  it.each([
    ["CKA_PUBLIC_KEY_INFO", "0x129"],
    ["CKA_ALWAYS_AUTHENTICATE", "0x202"],
  ])("%s: the key is used as if the attribute were absent (was: a PKCS11_ERROR, since round 36's K6)", async (_name, attribute) => {
    answer("device-error", attribute); // what older modules answer for an attribute they do not know
    const opened = await signer("pkcs11:token=answers;object=device");
    try {
      expect((await opened.sign(Buffer.from("abc"))).length).toBeGreaterThan(0);
    } finally {
      await opened.close();
    }
  }, 60_000);
});

describe("a private key whose CKA_KEY_TYPE the module withholds", () => {
  it("is named in the not-found error with the module's answer (was: no private key matches, nothing more)", async () => {
    answer("sensitive", CKA_KEY_TYPE);
    const error = await failure(signer("pkcs11:token=answers;object=device", true));
    expect(error.code).toBe("PKCS11_OBJECT_NOT_FOUND");
    expect(error.message).toMatch(
      /; the private key object pkcs11:id=%01;.*type=private is left out: its PKCS#11 module does not give its CKA_KEY_TYPE: it answers CKR_ATTRIBUTE_SENSITIVE \(0x11\)$/,
    );
  }, 60_000);
});

describe("short buffers", () => {
  it("a module that answers CKR_BUFFER_TOO_SMALL at every size is asked its length, then at that length, and the object is left out", async () => {
    answer("too-small");
    process.env.RAA_SHIM_LOG = log;
    writeFileSync(log, "");
    const error = await failure(signer("pkcs11:token=answers;object=device"));
    expect(error.code).toBe("CERTIFICATE_INVALID");
    expect(error.message).toContain("its CKA_VALUE is larger than 65536 bytes");
    const sizes = readFileSync(log, "utf8").trim().split("\n").map(Number);
    // Each read of the object (raa_native): the lengths (no buffer: 0), then the value at its length; again alone.
    expect(new Set(sizes)).toEqual(new Set([0, leafLength]));
    expect(sizes.length).toBeLessThanOrEqual(6 * 4);
  }, 60_000);

  it("a module that answers CKR_OK with the length it needs: a certificate within the bound is used", async () => {
    answer("ok-length");
    const used = await signer("pkcs11:token=answers;object=device");
    await used.close();
  }, 60_000);

  it("…and one beyond the bound (raa_native reads its length only; pkcs11js alone reads it whole) is left out as larger than it, never used", async () => {
    answer("ok-length");
    const error = await failure(signer("pkcs11:token=padded;object=device"));
    expect(error.code).toBe("CERTIFICATE_INVALID");
    expect(error.message).toMatch(CERT_OBJECT);
    expect(error.message).toContain("cannot be used: its CKA_VALUE is larger than 65536 bytes");
  }, 60_000);
});

describe("the --debug line of a private key left out", () => {
  it("quotes its label as a listing does: a typed `\\u00ad` is told from U+00AD, and a `\"` ends no quote (was: both `dev\\u00adice`)", async () => {
    answer("sensitive", CKA_KEY_TYPE);
    const lines: string[] = [];
    const opening = createPkcs11Signer({ keyUri: "pkcs11:token=lookalike", library: shim, pin: { kind: "value", value: "1234" }, debug: (line) => lines.push(line) });
    expect((await failure(opening)).code).toBe("PKCS11_OBJECT_NOT_FOUND");
    const skipped = [...new Set(lines.filter((line) => line.startsWith("pkcs11: skipping private key object ")).map((line) => line.replace(/": .*$/, '"')))].sort();
    expect(skipped).toEqual(['pkcs11: skipping private key object "dev\\\\u00adice\\""', 'pkcs11: skipping private key object "dev\\u00adice"']);
  }, 60_000);
});
