import { constants, verify as cryptoVerify } from "node:crypto";
import type { Certificate, KeyType } from "../x509/certificate.js";

/** The signing certificate: verifiers that need the raw SPKI (ML-DSA) read it from `der`. */
type PublicKeyHolder = Pick<Certificate, "publicKey" | "der">;

/** Checks one signature over `data`; resolves false when it does not verify, never throws for a bad signature. */
export type SignatureVerifier = (key: PublicKeyHolder, data: Uint8Array, signature: Uint8Array) => Promise<boolean>;

export type SignatureVerifiers = Readonly<Partial<Record<KeyType, SignatureVerifier>>>;

/**
 * How each key family's SigV4-X509 signature is checked: RSA PKCS#1 v1.5 and ECDSA (DER) over SHA-256 of
 * the string to sign; ML-DSA-44/65/87 pure ML-DSA (empty context) over the string to sign itself, with the
 * key read from the certificate's SPKI (the ML-DSA module is loaded only when such a request arrives).
 */
export const DEFAULT_SIGNATURE_VERIFIERS: SignatureVerifiers = {
  RSA: async (key, data, signature) =>
    key.publicKey !== undefined &&
    cryptoVerify("sha256", data, { key: key.publicKey, padding: constants.RSA_PKCS1_PADDING }, signature),
  EC: async (key, data, signature) => {
    if (key.publicKey === undefined) return false;
    // OpenSSL throws on some malformed ECDSA encodings instead of returning false.
    try {
      return cryptoVerify("sha256", data, { key: key.publicKey, dsaEncoding: "der" }, signature);
    } catch {
      return false;
    }
  },
  "ML-DSA-44": verifyMlDsa,
  "ML-DSA-65": verifyMlDsa,
  "ML-DSA-87": verifyMlDsa,
};

async function verifyMlDsa(key: PublicKeyHolder, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const { verifyMlDsaWithCertificate } = await import("../signers/file/mldsa/verify.js");
  return verifyMlDsaWithCertificate(key.der, data, signature);
}
