/** What makes a TPM key unfit for signing is named as it is (public areas read from swtpm with tpm2_readpublic). */
import { describe, expect, it } from "vitest";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { checkCertificateMatches, checkSigningKey } from "../../src/signers/tpm/key-checks.js";
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
