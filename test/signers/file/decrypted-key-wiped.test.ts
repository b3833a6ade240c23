import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadKeyFile } from "../../../src/signers/file/key-material.js";
import { readPkcs12 } from "../../../src/signers/file/pkcs12.js";
import { pbeDecrypt, type PbeDecrypt } from "../../../src/signers/file/pbe.js";
import { encryptPkcs8 } from "../../helpers/pbes2-encrypt.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../../helpers/pki.js";
import { bagsOf, expectAgentError, inEncryptedData, run } from "./fixtures.js";
import { buffersMadeBy, copiesHolding, stringsMadeBy } from "../../helpers/copies-made.js";
import { derOid, derSequence, derTlv } from "../../../src/encoding/der-writer.js";
import { TAG } from "../../../src/encoding/der.js";

/** pbeDecrypt, keeping what it returned: each must be all zeros once the key is loaded or refused. */
function watched(): { decrypt: PbeDecrypt; plaintexts: Buffer[] } {
  const plaintexts: Buffer[] = [];
  const decrypt: PbeDecrypt = async (...args) => {
    const result = await pbeDecrypt(...args);
    plaintexts.push(Buffer.from(result.plaintext)); // a copy: to see it was a key
    plaintexts.push(result.plaintext);
    return result;
  };
  return { decrypt, plaintexts };
}

function expectWiped(plaintexts: Buffer[], count: number): void {
  expect(plaintexts).toHaveLength(2 * count);
  for (let i = 0; i < plaintexts.length; i += 2) {
    expect(plaintexts[i]!.length).toBeGreaterThan(0);
    expect(plaintexts[i]!.every((b) => b === 0)).toBe(false);
    expect(plaintexts[i + 1]!.every((b) => b === 0), `decrypted buffer ${i / 2} still holds its bytes`).toBe(true);
  }
}

describe("decrypted private keys are zeroed once node:crypto holds the key", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let leaf: IssuedCertificate;
  const path = (name: string) => join(tmp.dir, name);
  const password = { keyPassword: { kind: "value" as const, value: "s3cret" } };

  beforeAll(() => {
    tmp = makeTempDir("raa-wiped-");
    leaf = issueLeaf(createCa(join(tmp.dir, "ca"), { name: "Wipe Root" }), tmp.dir, { name: "wipe-ec", keyType: "p256" });
    run(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v2", "aes-256-cbc", "-passout", "pass:s3cret", "-out", path("ec.enc.pem")]);
    run(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v1", "PBE-SHA1-3DES", "-passout", "pass:s3cret", "-out", path("ec.3des.pem")]);
    const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "der" });
    writeFileSync(path("ed.enc.der"), encryptPkcs8(ed, "s3cret", { cipher: "aes-128-cbc", kdf: "pbkdf2", prf: "sha256", iterations: 1000 }));
    const ec = createPrivateKey(readFileSync(leaf.keyPath)).export({ type: "pkcs8", format: "der" });
    const trailing = Buffer.concat([ec, Buffer.from("0500", "hex")]); // a right password, a damaged file
    writeFileSync(path("trailing.enc.der"), encryptPkcs8(trailing, "s3cret", { cipher: "aes-128-cbc", kdf: "pbkdf2", prf: "sha256", iterations: 1000 }));
    const notPkcs8 = Buffer.from("300405000500", "hex"); // SEQUENCE { NULL, NULL }: not a PrivateKeyInfo
    writeFileSync(path("not-pkcs8.enc.der"), encryptPkcs8(notPkcs8, "s3cret", { cipher: "aes-128-cbc", kdf: "pbkdf2", prf: "sha256", iterations: 1000 }));
    const exp = (out: string, extra: string[]) =>
      run(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-passout", "pass:s3cret", "-out", path(out), ...extra]);
    exp("default.p12", []);
    exp("legacy.p12", ["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"]);
    exp("keybag.p12", ["-keypbe", "NONE"]);
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it.each(["ec.enc.pem", "ec.3des.pem"])("PKCS#8 %s: the key signs, the decrypted PKCS#8 is zeros", async (file) => {
    const { decrypt, plaintexts } = watched();
    const { key } = await loadKeyFile(path(file), password, undefined, undefined, decrypt);
    expect(key.sign(Buffer.from("m"), "SHA256").length).toBeGreaterThan(0);
    expectWiped(plaintexts, 1);
  });

  it("PKCS#8 refused after decryption (an Ed25519 key; a key followed by other bytes; not a PrivateKeyInfo): zeros too", async () => {
    const refused = [["ed.enc.der", "PRIVATE_KEY_UNSUPPORTED"], ["trailing.enc.der", "PRIVATE_KEY_INVALID"], ["not-pkcs8.enc.der", "PRIVATE_KEY_INVALID"]] as const;
    for (const [file, code] of refused) {
      const { decrypt, plaintexts } = watched();
      await expectAgentError(loadKeyFile(path(file), password, undefined, undefined, decrypt), code);
      expectWiped(plaintexts, 1);
    }
  });

  it.each([
    ["default.p12", 2],
    ["legacy.p12", 2],
    ["keybag.p12", 1],
  ] as const)("PKCS#12 %s: the key signs, its certificate is intact, every decrypted buffer is zeros", async (file, decryptions) => {
    const { decrypt, plaintexts } = watched();
    const id = await readPkcs12(readFileSync(path(file)), path(file), password, decrypt);
    expect(id.key.sign(Buffer.from("m"), "SHA256").length).toBeGreaterThan(0);
    expect(id.certificate.serialDecimal).toBe(leaf.serialDecimal);
    expect(id.certificate.der.equals(new X509Certificate(readFileSync(leaf.certPath)).raw)).toBe(true);
    expectWiped(plaintexts, decryptions);
  });
});

/** A PKCS#12 file whose one encryptedData holds every bag of `plain` (a file written without encryption), key bag too. */
const allInEncryptedData = (plain: Buffer, password: string, times = 1): Buffer =>
  inEncryptedData(derSequence(...Array.from({ length: times }, () => bagsOf(plain)).flat()), password);

describe("a PKCS#12 key bag inside encryptedData (decrypted, then parsed): no copy of the key is left unwiped", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let leaf: IssuedCertificate;
  beforeAll(() => {
    tmp = makeTempDir("raa-p12-keybag-wiped-");
    leaf = issueLeaf(createCa(join(tmp.dir, "ca"), { name: "Bag Root" }), tmp.dir, { name: "bag-ec", keyType: "p256" });
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it("every Buffer and typed-array copy made while reading it is free of the private scalar once the key is loaded", async () => {
    const plain = join(tmp.dir, "plain.p12");
    run(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-keypbe", "NONE", "-certpbe", "NONE", "-nomac", "-passout", "pass:", "-out", plain]);
    const file = allInEncryptedData(readFileSync(plain), "s3cret");
    const scalar = Buffer.from(createPrivateKey(readFileSync(leaf.keyPath)).export({ format: "jwk" }).d!, "base64url");
    const options = { keyPassword: { kind: "value" as const, value: "s3cret" } };
    const { result: id, left } = await copiesHolding(scalar, () => readPkcs12(file, "bags.p12", options));
    expect(id.key.sign(Buffer.from("m"), "SHA256").length).toBeGreaterThan(0);
    expect(id.certificate.serialDecimal).toBe(leaf.serialDecimal);
    expect(left).toBe(0);
    // Refused once read (two keys): the same.
    const twice = allInEncryptedData(readFileSync(plain), "s3cret", 2);
    const refused = await copiesHolding(scalar, () => expectAgentError(readPkcs12(twice, "twice.p12", options), "PKCS12_INVALID"));
    expect(refused.left).toBe(0);
  });
});

describe("a PKCS#12 file without encryption (-keypbe NONE -certpbe NONE): no copy of the key is left unwiped", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let leaf: IssuedCertificate;
  let scalar: Buffer;
  const file = (name: string, extra: string[]) => {
    run(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-keypbe", "NONE", "-certpbe", "NONE", ...extra, "-out", join(tmp.dir, name)]);
    return readFileSync(join(tmp.dir, name));
  };
  beforeAll(() => {
    tmp = makeTempDir("raa-p12-plain-wiped-");
    leaf = issueLeaf(createCa(join(tmp.dir, "ca"), { name: "Plain Root" }), tmp.dir, { name: "plain-ec", keyType: "p256" });
    scalar = Buffer.from(createPrivateKey(readFileSync(leaf.keyPath)).export({ format: "jwk" }).d!, "base64url");
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it.each([
    ["no MAC", ["-nomac", "-passout", "pass:"], {}],
    ["a MAC with a password", ["-passout", "pass:s3cret"], { keyPassword: { kind: "value" as const, value: "s3cret" } }],
  ])("%s: the key signs; no Buffer, copy or parser input made while reading it holds the private scalar", async (_what, extra, options) => {
    const p12 = file("plain.p12", extra);
    const { result: id, left } = await copiesHolding(scalar, () => readPkcs12(p12, "plain.p12", options), { asn1Inputs: true });
    expect(id.key.sign(Buffer.from("m"), "SHA256").length).toBeGreaterThan(0);
    expect(id.certificate.serialDecimal).toBe(leaf.serialDecimal);
    expect(left).toBe(0); // before: 18 (the PFX's DER, the authSafe's octets and the data content's, each copied by the parser)
  });

  it("refused (a wrong password for its MAC; two keys): the same", async () => {
    const wrong = { keyPassword: { kind: "value" as const, value: "wrong" } };
    const mac = file("mac.p12", ["-passout", "pass:s3cret"]);
    const refused = await copiesHolding(scalar, () => expectAgentError(readPkcs12(mac, "mac.p12", wrong), "PASSWORD_INCORRECT"), { asn1Inputs: true });
    expect(refused.left).toBe(0);
    const bags = bagsOf(file("one.p12", ["-nomac", "-passout", "pass:"]));
    const data = (der: Buffer) => derSequence(derOid("1.2.840.113549.1.7.1"), derTlv(0xa0, derTlv(TAG.OCTET_STRING, der)));
    const twice = derSequence(derTlv(TAG.INTEGER, Buffer.from([3])), data(derSequence(data(derSequence(...bags, ...bags)))));
    const read = () => expectAgentError(readPkcs12(twice, "twice.p12", {}), "PKCS12_INVALID");
    expect((await copiesHolding(scalar, read, { asn1Inputs: true })).left).toBe(0);
  });
});

describe("an unencrypted PEM key file: no string of its key, its decoded DER zeroed once node:crypto holds the key", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeAll(() => {
    tmp = makeTempDir("raa-pem-wiped-");
  });
  afterAll(() => tmp.cleanup());

  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const files = [
    ["PKCS#8", ec.export({ type: "pkcs8", format: "pem" })],
    ["SEC1", ec.export({ type: "sec1", format: "pem" })],
    ["PKCS#1", rsa.export({ type: "pkcs1", format: "pem" })],
  ] as const;

  it.each(files)("%s: every string made while loading it is free of its base64, every buffer of its DER zeros", async (name, pem) => {
    const file = join(tmp.dir, `${name}.pem`);
    writeFileSync(file, pem, { mode: 0o600 });
    const lines = String(pem).split("\n").filter((l) => /^[A-Za-z0-9+/=]{20,}$/.test(l));
    const der = Buffer.from(lines.join(""), "base64");
    const { made: buffers, result, error } = await buffersMadeBy(() => stringsMadeBy(async () => (await loadKeyFile(file, {})).key.sign(Buffer.from("m"), "SHA256").length));
    if (error !== undefined) throw error;
    const { result: signed, strings } = result!;
    expect(signed).toBeGreaterThan(0);
    // Before: the file as one latin1 string (looksLikePem, decodePemBlocks), its lines, their join, the base64.
    expect(strings.filter((s) => lines.some((l) => s.includes(l.slice(0, 24))))).toEqual([]);
    // Before: Buffer.from(base64) held the DER for as long as the garbage collector left it.
    expect(buffers.filter((b) => b.length >= der.length && b.indexOf(der) >= 0)).toEqual([]);
  });
});

describe("a key file refused once read (its key is there, but not as AWS's parser reads it): its read buffer is zeroed too", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeAll(() => {
    tmp = makeTempDir("raa-refused-wiped-");
  });
  afterAll(() => tmp.cleanup());

  const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const der = key.export({ type: "pkcs8", format: "der" });
  const pem = String(key.export({ type: "pkcs8", format: "pem" }));
  const scalar = Buffer.from(key.export({ format: "jwk" }).d!, "base64url");
  const broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";

  it.each([
    ["DER followed by 2 bytes", Buffer.concat([der, Buffer.from([0, 0])]), scalar],
    ["BER (an indefinite length)", Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(3), Buffer.alloc(2)]), scalar],
    ["BER followed by 2 bytes", Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(3), Buffer.alloc(4)]), scalar],
    ["a PEM key beside a corrupt block", Buffer.from(pem + broken), Buffer.from(pem.split("\n")[1]!)],
  ])("%s: no buffer made while reading it holds the key", async (name, bytes, secret) => {
    const file = join(tmp.dir, name.replace(/ /g, "-"));
    writeFileSync(file, bytes, { mode: 0o600 });
    const { result: error, left } = await copiesHolding(secret, () => loadKeyFile(file, {}).then(() => undefined, (e: unknown) => e));
    expect(error).toBeInstanceOf(Error);
    expect(left).toBe(0);
  });
});
