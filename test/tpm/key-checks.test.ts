/** What makes a TPM key unfit for signing is named as it is (public areas read from swtpm with tpm2_readpublic). */
import { describe, expect, it } from "vitest";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { checkCertificateMatches, checkFilePolicy, checkSigningKey } from "../../src/signers/tpm/key-checks.js";
import { computePolicyDigest } from "../../src/tpm/keys/policy.js";
import type { Tss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { TPMA_OBJECT, TPM_ALG } from "../../src/tpm/wire/constants.js";
import type { TpmtPublic } from "../../src/tpm/wire/structures.js";
import { Certificate } from "../../src/x509/certificate.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import type { LoadedKey } from "../../src/tpm/keys/load-key.js";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";

// The owner's standard ECC SRK (TPMT_PUBLIC): restricted | decrypt | userWithAuth | …, attributes at bytes 4-7.
const SRK =
  "0023000b0003007200000006008000430010000300100020498fe5435e82869100e725cbca339bf33cf76e90a3883d70aef50218fb5f47ab" +
  "0020c118b77eb9dae4e6a2c5e695c20c165147cfe01263751e7d4580caf828a5a2a2";

function withAttributes(attributes: number): LoadedKey {
  const bytes = Buffer.from(SRK, "hex");
  bytes.writeUInt32BE(attributes, 4);
  return { public: decodePublicArea(bytes, "test key"), transient: false } as unknown as LoadedKey;
}

describe("checkSigningKey", () => {
  it("a storage key (restricted decrypt, the SRK at 0x81000001) is named restricted, not as lacking decrypt", () => {
    expect(() => checkSigningKey(withAttributes(0x00030072), true, "TPM key 0x81000001")).toThrow(
      expect.objectContaining({
        code: "PRIVATE_KEY_UNSUPPORTED",
        message: "TPM key 0x81000001: restricted TPM keys (attestation or storage keys) cannot sign arbitrary data",
      }),
    );
  });

  it("an ECC decryption key lacks the sign attribute (it has decrypt)", () => {
    expect(() => checkSigningKey(withAttributes(0x00020072), true, "k")).toThrow(
      expect.objectContaining({ message: "k: this ECC NIST P-256 TPM key has no sign attribute" }),
    );
  });

  it("an ECC signing key passes", () => {
    expect(checkSigningKey(withAttributes(0x00040072), true, "k").asymmetricKeyType).toBe("ec");
  });
});

describe("checkCertificateMatches", () => {
  it("names a certificate of several name parts on one line (before: Node's subject, one part per line)", () => {
    const { dir, cleanup } = makeTempDir("raa-tpm-key-checks-");
    try {
      const ca = createCa(join(dir, "ca"), { name: "CA" });
      const leaf = issueLeaf(ca, dir, { name: "gw", subject: "/O=Example/OU=Edge/CN=gw-7" });
      const cert = new Certificate(new X509Certificate(leaf.certPem).raw);
      const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
      expect(() => checkCertificateMatches(cert, other, "TPM key file k.tss")).toThrow(
        "the certificate (O=Example, OU=Edge, CN=gw-7) does not belong to TPM key file k.tss",
      );
    } finally {
      cleanup();
    }
  });
});

describe("checkSigningKey: RSA attributes and userWithAuth", () => {
  const n = Buffer.from(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" }).n!, "base64url");
  const rsaKey = (attributes: number, session?: "policy" | "hmac"): LoadedKey => {
    const pub = { type: TPM_ALG.RSA, nameAlg: TPM_ALG.SHA256, objectAttributes: attributes, authPolicy: Buffer.alloc(0), parameters: { symmetric: { algorithm: TPM_ALG.NULL }, scheme: { scheme: TPM_ALG.NULL }, keyBits: 2048, exponent: 0 }, unique: n } as TpmtPublic;
    return { public: { bytes: Buffer.alloc(0), public: pub }, transient: false, session: session && { kind: session } } as unknown as LoadedKey;
  };
  const { userWithAuth, sign, decrypt } = TPMA_OBJECT;

  it("an RSA decryption key signs (raw RSA), an RSA key with neither attribute is named so", () => {
    expect(checkSigningKey(rsaKey(userWithAuth | decrypt), false, "k").asymmetricKeyType).toBe("rsa");
    expect(checkSigningKey(rsaKey(userWithAuth | sign), false, "k").asymmetricKeyType).toBe("rsa");
    expect(() => checkSigningKey(rsaKey(userWithAuth), false, "k")).toThrow(
      expect.objectContaining({ code: "PRIVATE_KEY_UNSUPPORTED", message: "k: this RSA-2048 TPM key has neither the sign nor the decrypt attribute" }),
    );
  });

  it("a key without userWithAuth needs a policy session: refused without one (hint by where the key came from), accepted with one", () => {
    for (const [fromHandle, hint] of [[true, /TSS2 file/], [false, /no policy statements/]] as const) {
      for (const session of [undefined, "hmac"] as const) {
        expect(() => checkSigningKey(rsaKey(sign, session), fromHandle, "k")).toThrow(
          expect.objectContaining({ code: "TPM_KEY_INVALID", message: "k: the key can only be used with a policy session, but no policy for it is known", hint: expect.stringMatching(hint) }),
        );
      }
    }
    expect(checkSigningKey(rsaKey(sign, "policy"), false, "k").asymmetricKeyType).toBe("rsa");
  });
});

describe("checkFilePolicy", () => {
  const pcr = { command: "PolicyPCR" as const, pcrs: [{ hash: TPM_ALG.SHA256, pcrSelect: Buffer.from([0, 0, 1]) }], pcrDigest: Buffer.alloc(32, 3) };
  const fileWith = (policy: Tss2KeyFile["policy"], authPolicy: Buffer) =>
    ({ policy, public: { bytes: Buffer.alloc(0), public: { nameAlg: TPM_ALG.SHA256, authPolicy } } }) as unknown as Tss2KeyFile;

  it("statements that produce the key's authPolicy pass; others, or none for a key with one, are checked as such", () => {
    const digest = computePolicyDigest([pcr, { command: "PolicyAuthValue" }], "sha256");
    expect(() => checkFilePolicy(fileWith([pcr, { command: "PolicyAuthValue" }], digest), "k")).not.toThrow();
    expect(() => checkFilePolicy(fileWith([pcr], digest), "k")).toThrow(
      expect.objectContaining({ code: "TPM_KEY_INVALID", message: "k: the policy statements in the file do not produce the key's authPolicy" }),
    );
    // No statements: nothing to replay; such a key is used through userWithAuth or refused by checkSigningKey.
    expect(() => checkFilePolicy(fileWith([], digest), "k")).not.toThrow();
  });
});

describe("checkCertificateMatches: the key the certificate was issued for", () => {
  it("passes", () => {
    const { dir, cleanup } = makeTempDir("raa-tpm-key-checks-");
    try {
      const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "CA" }), dir, { name: "gw", keyType: "p256" });
      const cert = new Certificate(new X509Certificate(leaf.certPem).raw);
      expect(() => checkCertificateMatches(cert, cert.publicKey!, "k")).not.toThrow();
    } finally {
      cleanup();
    }
  });
});
