import { signatureVerifies } from "../encoding/signature-encoding.js";
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
  RSA: verifySha256,
  EC: verifySha256,
  "ML-DSA-44": verifyMlDsa,
  "ML-DSA-65": verifyMlDsa,
  "ML-DSA-87": verifyMlDsa,
};

/** PKCS#1 v1.5 for an RSA key (not RSA-PSS: keyType is "RSA" only for rsaEncryption), DER ECDSA for an EC one. */
async function verifySha256(key: PublicKeyHolder, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return key.publicKey !== undefined && signatureVerifies(key.publicKey, "SHA256", data, signature);
}

async function verifyMlDsa(key: PublicKeyHolder, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const { verifyMlDsaWithCertificate } = await import("../signers/file/mldsa/verify.js");
  return verifyMlDsaWithCertificate(key.der, data, signature);
}
