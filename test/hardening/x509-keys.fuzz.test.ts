/**
 * Property tests: certificate and private-key parsers on random bytes and on mutations of valid files made
 * by openssl (PEM and DER certificates; PKCS#1, SEC1, PKCS#8, PBES2-encrypted PKCS#8, PKCS#12).
 * Each either parses or throws an AgentError.
 */
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "../../src/secrets/secret.js";
import { keyMaterialFromFile } from "../../src/signers/file/key-material.js";
import { loadSigningKey } from "../../src/signers/file/key-parsers.js";
import { readPkcs12 } from "../../src/signers/file/pkcs12.js";
import { certificateSpki } from "../../src/signers/file/signing-key.js";
import { Certificate } from "../../src/x509/certificate.js";
import { certificateData } from "../../src/x509/certificate-data.js";
import { decodePemBlocks } from "../../src/encoding/pem.js";
import { parseCertificateBytes } from "../../src/x509/read-certificates.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";
import { encryptPkcs8 } from "../helpers/pbes2-encrypt.js";
import { generateMlDsaKeyPair, mlDsaPkcs8Der, toPem, type MlDsaKeyForm } from "../helpers/mldsa-pki.js";
import { mutationOf, parsesOrAgentError, pemMutationOf, printTallies, randomBytes, runs } from "./fuzz-support.js";

const PASSWORD = "fuzz-password";
const { dir, cleanup } = makeTempDir("raa-fuzz-keys-");
const files: Record<string, Buffer> = {};

beforeAll(() => {
  const ca = createCa(dir, { name: "Fuzz CA" });
  const leaf = issueLeaf(ca, dir, { name: "leaf", keyType: "p256" });
  files["cert.pem"] = readFileSync(leaf.certPath);
  openssl(["x509", "-in", leaf.certPath, "-outform", "DER", "-out", join(dir, "cert.der")]);
  files["cert.der"] = readFileSync(join(dir, "cert.der"));
  files["pkcs8-ec.pem"] = readFileSync(leaf.keyPath);
  // `openssl pkey -outform DER` would write SEC1 for EC keys; pkcs8 -topk8 writes PKCS#8.
  openssl(["pkcs8", "-topk8", "-nocrypt", "-in", leaf.keyPath, "-outform", "DER", "-out", join(dir, "k8.der")]);
  files["pkcs8-ec.der"] = readFileSync(join(dir, "k8.der"));
  openssl(["ec", "-in", leaf.keyPath, "-out", join(dir, "sec1.pem")]);
  files["sec1.pem"] = readFileSync(join(dir, "sec1.pem"));
  openssl(["ec", "-in", leaf.keyPath, "-outform", "DER", "-out", join(dir, "sec1.der")]);
  files["sec1.der"] = readFileSync(join(dir, "sec1.der"));
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", join(dir, "rsa.pem")]);
  openssl(["rsa", "-in", join(dir, "rsa.pem"), "-traditional", "-out", join(dir, "pkcs1.pem")]);
  files["pkcs1.pem"] = readFileSync(join(dir, "pkcs1.pem"));
  openssl(["rsa", "-in", join(dir, "rsa.pem"), "-traditional", "-outform", "DER", "-out", join(dir, "pkcs1.der")]);
  files["pkcs1.der"] = readFileSync(join(dir, "pkcs1.der"));
  // Low iteration counts keep each decryption attempt cheap.
  files["enc-pbkdf2.der"] = encryptPkcs8(files["pkcs8-ec.der"], PASSWORD, { cipher: "aes-256-cbc", kdf: "pbkdf2", prf: "sha256", iterations: 16 });
  files["enc-scrypt.der"] = encryptPkcs8(files["pkcs8-ec.der"], PASSWORD, { cipher: "aes-128-cbc", kdf: "scrypt", N: 16, r: 1, p: 1 });
  files["enc-pbkdf2.pem"] = Buffer.from(toPem("ENCRYPTED PRIVATE KEY", files["enc-pbkdf2.der"]));
  openssl([
    "pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-out", join(dir, "id.p12"),
    "-passout", `pass:${PASSWORD}`, "-iter", "16", "-maciter",
  ]);
  files["id.p12"] = readFileSync(join(dir, "id.p12"));
  openssl([
    "pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-out", join(dir, "legacy.p12"),
    "-passout", `pass:${PASSWORD}`, "-legacy", "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-iter", "16", "-maciter",
  ]);
  files["legacy.p12"] = readFileSync(join(dir, "legacy.p12"));
  // Without a MAC, mutations reach the bag parsing and decryption instead of stopping at the MAC check.
  openssl([
    "pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-out", join(dir, "nomac.p12"),
    "-passout", `pass:${PASSWORD}`, "-iter", "16", "-nomac",
  ]);
  files["nomac.p12"] = readFileSync(join(dir, "nomac.p12"));
});
afterAll(() => {
  cleanup();
  printTallies("x509-keys");
});

async function parseCertificates(bytes: Buffer): Promise<void> {
  for (const cert of parseCertificateBytes(bytes, "fuzz.pem")) {
    // What read-certificate-data and the signer read from a certificate.
    await certificateData(cert);
    void cert.serialDecimal;
    void cert.notAfter;
  }
}

async function parseKey(bytes: Buffer): Promise<void> {
  const material = await keyMaterialFromFile(bytes, "fuzz.key", async () => Secret.fromUtf8(PASSWORD));
  await loadSigningKey(material);
}

async function parseP12(bytes: Buffer): Promise<void> {
  await readPkcs12(bytes, "fuzz.p12", { keyPassword: { kind: "value", value: PASSWORD } });
}

describe("certificates (PEM/DER)", () => {
  it("valid fixtures parse", async () => {
    expect(await parsesOrAgentError("certificate: fixtures", () => parseCertificates(files["cert.pem"]!))).toBe(true);
    expect(await parsesOrAgentError("certificate: fixtures", () => parseCertificates(files["cert.der"]!))).toBe(true);
  });
  it("random bytes", async () => {
    await fc.assert(fc.asyncProperty(randomBytes(), async (b) => void (await parsesOrAgentError("certificate: random bytes", () => parseCertificates(b)))), { numRuns: runs(400) });
  });
  it("mutated DER", async () => {
    await fc.assert(fc.asyncProperty(mutationOf(files["cert.der"]!), async (b) => void (await parsesOrAgentError("certificate: mutated DER", () => parseCertificates(b)))), { numRuns: runs(600) });
  });
  it("mutated PEM", async () => {
    await fc.assert(fc.asyncProperty(pemMutationOf(files["cert.pem"]!.toString("latin1")), async (b) => void (await parsesOrAgentError("certificate: mutated PEM", () => parseCertificates(b)))), { numRuns: runs(600) });
  });
  it("PEM blocks whose base64 is a mutated DER certificate", async () => {
    await fc.assert(
      fc.asyncProperty(mutationOf(files["cert.der"]!), async (der) => {
        const pem = `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
        await parsesOrAgentError("certificate: PEM-wrapped mutated DER", () => parseCertificates(Buffer.from(pem)));
      }),
      { numRuns: runs(400) },
    );
  });
  it("PEM decoder on random text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void parsesOrAgentError("PEM decoder: random text", () => decodePemBlocks(`-----BEGIN X-----\n${s}\n-----END X-----\n${s}`, "fuzz"))), { numRuns: runs(400) });
  });
});

describe("certificate with a negative serial (found by the DER property above)", () => {
  it("is read, with the sign kept as Go's big.Int does, instead of throwing a SyntaxError", async () => {
    const key = join(dir, "neg.key");
    const pem = join(dir, "neg.pem");
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", "/CN=neg", "-set_serial", "-4660", "-out", pem]);
    const [cert] = parseCertificateBytes(readFileSync(pem), pem);
    expect(cert!.serialDecimal).toBe("-4660");
    expect(cert!.serialHex).toBe("-1234");
    expect((await certificateData(cert!)).serialNumber).toBe("-4660");
  });
});

describe("certificate whose key OpenSSL cannot read and the strict ASN.1 parser rejects (found by the PKCS#12 property, seed 720208959)", () => {
  it("certificateSpki gives CERTIFICATE_INVALID instead of a plain Error", async () => {
    // What such a certificate looks like to certificateSpki: no Node KeyObject, DER that is not a certificate.
    const odd = Object.create(Certificate.prototype, { der: { value: Buffer.from("3003020100", "hex") } }) as Certificate;
    await expect(certificateSpki(odd)).rejects.toMatchObject({ code: "CERTIFICATE_INVALID" });
  });
});

describe("private keys", () => {
  const KEY_FILES = ["pkcs8-ec.pem", "pkcs8-ec.der", "sec1.pem", "sec1.der", "pkcs1.pem", "pkcs1.der", "enc-pbkdf2.der", "enc-pbkdf2.pem", "enc-scrypt.der"];

  it("valid fixtures parse", async () => {
    for (const name of KEY_FILES) expect(await parsesOrAgentError("private key: fixtures", () => parseKey(files[name]!)), name).toBe(true);
  });
  it("random bytes", async () => {
    await fc.assert(fc.asyncProperty(randomBytes(), async (b) => void (await parsesOrAgentError("private key: random bytes", () => parseKey(b)))), { numRuns: runs(300) });
  });
  for (const name of KEY_FILES) {
    it(`mutated ${name}`, async () => {
      const valid = files[name]!;
      const arb = name.endsWith(".pem") ? pemMutationOf(valid.toString("latin1")) : mutationOf(valid);
      await fc.assert(fc.asyncProperty(arb, async (b) => void (await parsesOrAgentError(`private key: mutated ${name}`, () => parseKey(b)))), { numRuns: runs(name.startsWith("enc-") ? 300 : 250) });
    });
  }
});

describe("ML-DSA private keys (PKCS#8, the three private-key encodings of RFC 9881)", () => {
  const pair = generateMlDsaKeyPair("ML-DSA-44");
  const forms: MlDsaKeyForm[] = ["seed", "expanded", "both"];
  it("valid keys parse", async () => {
    for (const form of forms) expect(await parsesOrAgentError("ML-DSA key: fixtures", () => parseKey(mlDsaPkcs8Der(pair, form))), form).toBe(true);
  });
  it("an expanded key with an s1 coefficient outside ±η is PRIVATE_KEY_INVALID, not @noble's plain Error (found by the property below)", async () => {
    const der = mlDsaPkcs8Der(pair, "expanded");
    const at = der.indexOf(pair.secretKey);
    expect(at).toBeGreaterThan(0);
    der[at + 128] = 0xff; // first s1 byte (after ρ, K, tr): 3-bit fields of 7 decode to η − 7 = −5
    await expect(parseKey(der)).rejects.toMatchObject({ code: "PRIVATE_KEY_INVALID", message: expect.stringContaining("not a valid FIPS 204 private key") });
  });
  for (const form of forms) {
    it(`mutated ML-DSA-44 key, ${form} encoding`, async () => {
      await fc.assert(fc.asyncProperty(mutationOf(mlDsaPkcs8Der(pair, form)), async (b) => void (await parsesOrAgentError(`ML-DSA key: mutated ${form}`, () => parseKey(b)))), { numRuns: runs(200) });
    });
  }
});

describe("PKCS#12", () => {
  it("valid fixtures parse", async () => {
    expect(await parsesOrAgentError("PKCS#12: fixtures", () => parseP12(files["id.p12"]!))).toBe(true);
    expect(await parsesOrAgentError("PKCS#12: fixtures", () => parseP12(files["legacy.p12"]!))).toBe(true);
    expect(await parsesOrAgentError("PKCS#12: fixtures", () => parseP12(files["nomac.p12"]!))).toBe(true);
  });
  it("random bytes", async () => {
    await fc.assert(fc.asyncProperty(randomBytes(), async (b) => void (await parsesOrAgentError("PKCS#12: random bytes", () => parseP12(b)))), { numRuns: runs(300) });
  });
  for (const name of ["id.p12", "legacy.p12", "nomac.p12"]) {
    it(`mutated ${name}`, async () => {
      await fc.assert(fc.asyncProperty(mutationOf(files[name]!), async (b) => void (await parsesOrAgentError(`PKCS#12: mutated ${name}`, () => parseP12(b)))), { numRuns: runs(400) });
    });
  }
});

/** Minimal DER writer for hand-made hostile KDF parameters (no valid ciphertext is needed: they are refused first). */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const int = (n: number | bigint) => {
  let hex = BigInt(n).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return tlv(0x02, Buffer.from(hex, "hex"));
};
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, "hex"));
const octets = (b: Buffer) => tlv(0x04, b);
const PBES2 = "2a864886f70d01050d";
const PBKDF2 = "2a864886f70d01050c";
const SCRYPT = "2b06010401da47040b";
const AES128 = "608648016503040102";

function encryptedKey(kdf: Buffer): Buffer {
  const enc = seq(oid(AES128), octets(Buffer.alloc(16, 1)));
  return seq(seq(oid(PBES2), seq(kdf, enc)), octets(Buffer.alloc(32, 2)));
}

describe("key-derivation work is bounded (a hostile encrypted key cannot hang the agent or exhaust memory)", () => {
  const cases: Array<[string, Buffer]> = [
    ["PBKDF2 with 0 iterations", seq(oid(PBKDF2), seq(octets(Buffer.alloc(8)), int(0)))],
    ["PBKDF2 with 2^31 iterations", seq(oid(PBKDF2), seq(octets(Buffer.alloc(8)), int(2 ** 31)))],
    ["PBKDF2 with 2^52 iterations", seq(oid(PBKDF2), seq(octets(Buffer.alloc(8)), int(2 ** 52)))],
    ["scrypt with N=3 (not a power of two)", seq(oid(SCRYPT), seq(octets(Buffer.alloc(8)), int(3), int(8), int(1)))],
    ["scrypt with N=0", seq(oid(SCRYPT), seq(octets(Buffer.alloc(8)), int(0), int(8), int(1)))],
    ["scrypt with r=0", seq(oid(SCRYPT), seq(octets(Buffer.alloc(8)), int(16), int(0), int(1)))],
    ["scrypt with N=2^30, r=8 (128 GiB)", seq(oid(SCRYPT), seq(octets(Buffer.alloc(8)), int(2 ** 30), int(8), int(1)))],
    ["scrypt with p=2^40", seq(oid(SCRYPT), seq(octets(Buffer.alloc(8)), int(16), int(1), int(2n ** 40n)))],
    // Found by the structure-aware fuzzer (issue 20): OpenSSL wants N < 2^(16·r) and threw a RangeError.
    ["scrypt with N=2^16, r=1", seq(oid(SCRYPT), seq(octets(Buffer.alloc(8)), int(65536), int(1), int(1)))],
    // 80 MiB, within the memory bound, but N·r·p = 2^33: an hour or more of one core's work.
    ["scrypt with N=2^14, r=8, p=2^16", seq(oid(SCRYPT), seq(octets(Buffer.alloc(8)), int(2 ** 14), int(8), int(2 ** 16)))],
  ];
  it.each(cases)("%s: PRIVATE_KEY_INVALID", async (_name, kdf) => {
    const material = keyMaterialFromFile(Buffer.from(toPem("ENCRYPTED PRIVATE KEY", encryptedKey(kdf))), "hostile.pem", async () => Secret.fromUtf8(PASSWORD));
    await expect(material.then((m) => loadSigningKey(m))).rejects.toMatchObject({ code: "PRIVATE_KEY_INVALID" });
  });

  it.each([
    ["PBKDF2 with 2^31 iterations", seq(oid(PBKDF2), seq(octets(Buffer.alloc(8)), int(2 ** 31))), "iteration count 2147483648 is more than the 10000000"],
    ["scrypt with N·r·p = 2^33", seq(oid(SCRYPT), seq(octets(Buffer.alloc(8)), int(2 ** 14), int(8), int(2 ** 16))), "scrypt parameters N=16384 r=8 p=65536 ask for N·r·p = 8589934592, more than the 16777216"],
  ])("%s: the message says which limit, as docs/file-keys.md promises", async (_name, kdf, limit) => {
    const material = keyMaterialFromFile(Buffer.from(toPem("ENCRYPTED PRIVATE KEY", encryptedKey(kdf))), "hostile.pem", async () => Secret.fromUtf8(PASSWORD));
    await expect(material.then((m) => loadSigningKey(m))).rejects.toMatchObject({
      message: `unable to parse private key: the encryption parameters of hostile.pem are unusable: ${limit} this agent accepts`,
    });
  });

  it("a PKCS#12 MAC asking for 2^31 iterations is refused before any derivation", async () => {
    // The DER INTEGER of openssl's `-iter 16 -maciter` MAC count (02 01 10) is the last 3 bytes of the file.
    const p12 = Buffer.from(files["id.p12"]!);
    expect(p12.subarray(-3).toString("hex")).toBe("020110");
    const hostile = Buffer.concat([p12.subarray(0, -3), int(2 ** 31)]);
    await expect(parseP12(reencodeTail(hostile, p12))).rejects.toMatchObject({
      code: "PKCS12_INVALID",
      message: expect.stringContaining("MAC iteration count 2147483648"),
    });
  });
});

/** Re-encodes the outer SEQUENCE (PFX) and the last child (MacData) after the MAC iteration INTEGER grew. */
function reencodeTail(hostile: Buffer, original: Buffer): Buffer {
  const outer = readElementAt(original, 0);
  const kids: Buffer[] = [];
  let off = outer.contentStart;
  while (off < original.length) {
    const el = readElementAt(original, off);
    kids.push(original.subarray(off, el.end));
    off = el.end;
  }
  const mac = kids.pop()!;
  const macEl = readElementAt(mac, 0);
  const macInner: Buffer[] = [];
  let o = macEl.contentStart;
  while (o < mac.length) {
    const el = readElementAt(mac, o);
    macInner.push(mac.subarray(o, el.end));
    o = el.end;
  }
  macInner[macInner.length - 1] = hostile.subarray(hostile.length - int(2 ** 31).length);
  return seq(...kids, seq(...macInner));
}

function readElementAt(buf: Buffer, off: number): { contentStart: number; end: number } {
  let p = off + 1;
  let len = buf[p++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  return { contentStart: p, end: p + len };
}
