/**
 * ML-DSA PKCS#8 key files through the file signer's key loader: the three RFC 9881 encodings, PEM and DER,
 * encrypted with every PBES2 variant the Go helper reads, the published RFC 9881 examples, and the ways a
 * key file can be wrong.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadKeyFile } from "../../../../src/signers/file/key-material.js";
import {
  generateMlDsaKeyPair,
  ML_DSA_KEY_FORMS,
  ML_DSA_KEY_TYPES,
  mlDsaPkcs8Der,
  mlDsaPrivateKeyChoiceDer,
  mlDsaSign,
  mlDsaSpkiDer,
  mlDsaVerify,
  toPem,
  writeMlDsaKey,
  type MlDsaKeyPair,
} from "../../../helpers/mldsa-pki.js";
import { encryptPkcs8, PBES2_VARIANTS } from "../../../helpers/pbes2-encrypt.js";
import { makeTempDir } from "../../../helpers/pki.js";
import { expectAgentError } from "../fixtures.js";

const PASSWORD = "correct horse battery staple";
const SIGNATURE_LENGTHS = { "ML-DSA-44": 2420, "ML-DSA-65": 3309, "ML-DSA-87": 4627 } as const;
const EXAMPLES = join(import.meta.dirname, "vectors", "rfc9881");
const withPassword = (value: string) => ({ keyPassword: { kind: "value" as const, value } });

let tmp: ReturnType<typeof makeTempDir>;
let counter = 0;
const file = (content: string | Buffer, ext = "pem") => {
  const path = join(tmp.dir, `key-${++counter}.${ext}`);
  writeFileSync(path, content);
  return path;
};
beforeAll(() => {
  tmp = makeTempDir("raa-mldsa-keys-");
});
afterAll(() => tmp.cleanup());

/** The loaded key is the pair's: same public key, and it signs exactly as pure deterministic ML-DSA does. */
async function expectKeyOf(path: string, pair: MlDsaKeyPair, options = {}) {
  const { key, encrypted } = await loadKeyFile(path, options);
  expect(key.keyType).toBe(pair.keyType);
  expect(key.description).toBe(pair.keyType);
  expect(key.publicKey).toBeUndefined();
  expect(key.spki.equals(mlDsaSpkiDer(pair))).toBe(true);
  const message = Buffer.from(`string to sign for ${path}`);
  const signature = key.sign(message, "SHA256");
  expect(signature.length).toBe(SIGNATURE_LENGTHS[pair.keyType]);
  expect(signature.equals(mlDsaSign(pair, message))).toBe(true);
  expect(mlDsaVerify(pair.keyType, pair.publicKey, message, signature)).toBe(true);
  expect(mlDsaVerify(pair.keyType, pair.publicKey, Buffer.concat([message, Buffer.from("!")]), signature)).toBe(false);
  return { key, encrypted };
}

describe.each(ML_DSA_KEY_TYPES)("%s key files", (keyType) => {
  const pair = generateMlDsaKeyPair(keyType);

  it.each(ML_DSA_KEY_FORMS)("PKCS#8 PEM, %s encoding", async (form) => {
    const { encrypted } = await expectKeyOf(writeMlDsaKey(file(""), pair, form), pair);
    expect(encrypted).toBe(false);
  });

  it.each(ML_DSA_KEY_FORMS)("PKCS#8 DER, %s encoding", async (form) => {
    await expectKeyOf(writeMlDsaKey(file("", "der"), pair, form, { der: true }), pair);
  });

  it.each(ML_DSA_KEY_FORMS)("encrypted PKCS#8 (PBKDF2 HMAC-SHA256, AES-256-CBC), %s encoding", async (form) => {
    const path = writeMlDsaKey(file(""), pair, form, {
      encryption: { password: PASSWORD, options: { kdf: "pbkdf2", prf: "sha256", cipher: "aes-256-cbc" } },
    });
    const { encrypted } = await expectKeyOf(path, pair, withPassword(PASSWORD));
    expect(encrypted).toBe(true);
  });

  it("with OneAsymmetricKey's publicKey field (version 1) that matches", async () => {
    await expectKeyOf(file(toPem("PRIVATE KEY", mlDsaPkcs8Der(pair, "seed", { publicKey: pair.publicKey }))), pair);
  });

  it("a key file followed by its certificate-like noise still reads (first PRIVATE KEY block)", async () => {
    const pem = "comment line\n" + toPem("PRIVATE KEY", mlDsaPkcs8Der(pair, "both")) + toPem("SOMETHING ELSE", Buffer.from([1, 2, 3]));
    await expectKeyOf(file(pem), pair);
  });
});

describe("encrypted ML-DSA keys: every PBES2 variant aws_signing_helper reads", () => {
  const pair = generateMlDsaKeyPair("ML-DSA-44");
  const encryptedFile = (options: (typeof PBES2_VARIANTS)[number]["options"]) =>
    writeMlDsaKey(file(""), pair, "both", { encryption: { password: PASSWORD, options } });

  it.each(PBES2_VARIANTS)("$name", async ({ options }) => {
    await expectKeyOf(encryptedFile(options), pair, withPassword(PASSWORD));
  });

  it.each(PBES2_VARIANTS.filter((v) => v.options.kdf === "pbkdf2").slice(0, 3))(
    "$name: a wrong password is PASSWORD_INCORRECT (padding checked), and never echoed",
    async ({ options }) => {
      const path = encryptedFile(options);
      // The passwords aws_signing_helper's TestMLDSAEncryptedKeyEdgeCases tries.
      for (const wrong of ["a".repeat(1000), "!@#$%^&*()_+-=[]{}|;:,.<>?", "пароль密码パスワード"]) {
        const e = await expectAgentError(loadKeyFile(path, withPassword(wrong)), "PASSWORD_INCORRECT", wrong);
        expect(e.message).toContain(path);
        expect(e.toOneLine()).not.toContain(PASSWORD);
      }
    },
  );

  it("the password must be given (PASSWORD_REQUIRED without a terminal)", async () => {
    vi.stubEnv("CI", "true");
    try {
      await expectAgentError(loadKeyFile(encryptedFile(PBES2_VARIANTS[0]!.options), {}), "PASSWORD_REQUIRED");
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("RFC 9881 example keys (published, made by another implementation)", () => {
  const pem = (name: string) => join(EXAMPLES, name);
  const seed = Buffer.from([...Array(32).keys()]);

  it.each(ML_DSA_KEY_TYPES.flatMap((k) => ML_DSA_KEY_FORMS.map((f) => [k, f] as const)))("%s %s", async (keyType, form) => {
    const { key } = await loadKeyFile(pem(`${keyType}-${form}.priv`), {});
    const spki = Buffer.from(readFileSync(pem(`${keyType}.pub`), "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    expect(key.spki.equals(spki)).toBe(true);
    expect(key.sign(Buffer.from("m"), "SHA256").equals(mlDsaSign(generateMlDsaKeyPair(keyType, seed), Buffer.from("m")))).toBe(true);
  });

  it("bad-ML-DSA-44-1 (seed does not generate the expanded key) is refused", async () => {
    const e = await expectAgentError(loadKeyFile(pem("bad-ML-DSA-44-1.priv"), {}), "PRIVATE_KEY_INVALID");
    expect(e.message).toContain("inconsistent seed and expanded key");
  });

  it("bad-ML-DSA-44-2 (tr does not match the public key) is refused", async () => {
    const e = await expectAgentError(loadKeyFile(pem("bad-ML-DSA-44-2.priv"), {}), "PRIVATE_KEY_INVALID");
    expect(e.message).toContain("(tr)");
  });

  it("bad-ML-DSA-44-3 (t0 does not match s1, s2) is NOT detected: documented limitation; its signatures still verify", async () => {
    const { key } = await loadKeyFile(pem("bad-ML-DSA-44-3.priv"), {});
    const publicKey = key.spki.subarray(key.spki.length - 1312);
    const signature = key.sign(Buffer.from("m"), "SHA256");
    expect(mlDsaVerify("ML-DSA-44", publicKey, Buffer.from("m"), signature)).toBe(true);
  });
});

describe("malformed ML-DSA keys", () => {
  const pair = generateMlDsaKeyPair("ML-DSA-44");
  const other = generateMlDsaKeyPair("ML-DSA-44");
  const tlv = (tag: number, content: Buffer) =>
    Buffer.concat([Buffer.from(content.length < 128 ? [tag, content.length] : [tag, 0x82, content.length >> 8, content.length & 0xff]), content]);
  const keyFile = (privateKeyDer: Buffer, options: Parameters<typeof mlDsaPkcs8Der>[2] = {}) =>
    file(toPem("PRIVATE KEY", mlDsaPkcs8Der(pair, "seed", { privateKeyDer, ...options })));

  const cases: Array<[string, () => string, RegExp]> = [
    ["a 31-byte seed", () => keyFile(tlv(0x80, pair.seed.subarray(1))), /31-byte seed \(expected 32\)/],
    ["a 33-byte seed", () => keyFile(tlv(0x80, Buffer.concat([pair.seed, Buffer.from([0])]))), /33-byte seed/],
    ["a truncated expanded key", () => keyFile(tlv(0x04, pair.secretKey.subarray(0, 2559))), /2559-byte expanded key \(expected 2560\)/],
    [
      "an ML-DSA-65 OID over an ML-DSA-44 expanded key",
      () => keyFile(mlDsaPrivateKeyChoiceDer(pair, "expanded"), { algorithmOid: "2.16.840.1.101.3.4.3.18" }),
      /ML-DSA-65 key with a 2560-byte expanded key \(expected 4032\)/,
    ],
    ["an unknown CHOICE tag", () => keyFile(tlv(0x81, pair.seed)), /unknown private key encoding \(tag 0x81\)/],
    ["`both` with one element", () => keyFile(tlv(0x30, tlv(0x04, pair.seed))), /malformed private key structure/],
    [
      "`both` whose seed belongs to another key",
      () => keyFile(tlv(0x30, Buffer.concat([tlv(0x04, other.seed), tlv(0x04, pair.secretKey)]))),
      /inconsistent seed and expanded key/,
    ],
    ["a privateKey that is not DER", () => keyFile(Buffer.from("not DER at all")), /malformed private key structure/],
    ["OneAsymmetricKey version 2", () => keyFile(mlDsaPrivateKeyChoiceDer(pair, "seed"), { version: 2 }), /malformed PKCS#8 key \(its version is 2; RFC 5958 defines only 0 and 1\)/],
    [
      "an embedded public key of another key",
      () => keyFile(mlDsaPrivateKeyChoiceDer(pair, "seed"), { publicKey: other.publicKey }),
      /embedded public key that does not belong/,
    ],
    [
      "an embedded public key of the wrong length",
      () => keyFile(mlDsaPrivateKeyChoiceDer(pair, "seed"), { publicKey: pair.publicKey.subarray(1) }),
      /1311-byte public key/,
    ],
    [
      "an embedded public key BIT STRING with unused bits",
      () => {
        const der = mlDsaPkcs8Der(pair, "seed", { publicKey: pair.publicKey });
        der[der.length - pair.publicKey.length - 1] = 1; // the BIT STRING's unused-bits byte
        return file(toPem("PRIVATE KEY", der));
      },
      /malformed PKCS#8 key \(PKCS#8 public key BIT STRING has unused bits\)/,
    ],
  ];

  it.each(cases)("%s: PRIVATE_KEY_INVALID, naming the file, without key bytes", async (_name, make, message) => {
    const path = make();
    const e = await expectAgentError(loadKeyFile(path, {}), "PRIVATE_KEY_INVALID");
    expect(e.message).toMatch(message);
    expect(e.message).toContain(path);
    for (const secret of [pair.seed, pair.secretKey.subarray(0, 16), other.seed]) {
      expect(e.toOneLine().toLowerCase()).not.toContain(secret.toString("hex"));
      expect(e.toOneLine()).not.toContain(secret.toString("base64").slice(0, 16));
    }
  });

  it("an expanded key whose t0 part is damaged (passes the tr check): no signature that does not verify is returned", async () => {
    // ML-DSA-44: ρ (32) ‖ K (32) ‖ tr (64) ‖ s1 (384) ‖ s2 (384) ‖ t0 (1664); t0 is left out of tr, so only signing shows it.
    const damaged = Buffer.from(pair.secretKey);
    for (let i = 896; i < damaged.length; i++) damaged[i] = 0x5a ^ (i & 0xff);
    const path = keyFile(tlv(0x04, damaged));
    const { createFileSigner } = await import("../../../../src/signers/file/file-signer.js");
    const signer = await createFileSigner({ keyPath: path });
    const inconsistent = "its own public key does not verify the signature (the key's components are inconsistent)";
    await expect(signer.sign(Buffer.from("m"))).rejects.toMatchObject({
      code: "PRIVATE_KEY_INVALID",
      message: `signing with the private key in ${path} failed: ${inconsistent}`,
    });
  });

  it("decrypted bytes that are not one DER SEQUENCE count as a wrong password (what a lucky padding gives)", async () => {
    const encrypted = encryptPkcs8(Buffer.from("definitely not a PrivateKeyInfo"), PASSWORD, { kdf: "pbkdf2", prf: "sha256", cipher: "aes-128-cbc" });
    await expectAgentError(loadKeyFile(file(toPem("ENCRYPTED PRIVATE KEY", encrypted)), withPassword(PASSWORD)), "PASSWORD_INCORRECT");
  });
});
