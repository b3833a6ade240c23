/**
 * Proving that a token key belongs to the certificate without a signature where possible (the Go helper's test signature
 * before every real one is a second touch on a touch-always key): 1. the key's own public half decides; 2. a public-key
 * object with its CKA_ID that equals the certificate's key proves it, all of them differing disproves it; 3. otherwise
 * the first real signature is checked, and only several keys that nothing tells apart cost one test signature each.
 */
import type { Certificate } from "../../x509/certificate.js";
import type { DigestAlgorithm } from "../signer.js";
import { ownPublicKey, publicKeyObjects, type PrivateKeyObject, type TokenContext } from "../../pkcs11/objects.js";
import { signatureVerifies } from "../../encoding/signature-encoding.js";

type Proof =
  | { readonly result: "match"; readonly by: "the key's own public key" | "the public-key object with its CKA_ID" }
  | { readonly result: "mismatch" }
  | { readonly result: "unknown" };

/**
 * What the token says about the key, compared with the certificate; no signature. KeyObject.equals lets OpenSSL compare
 * the public components (EVP_PKEY_eq): exporting both keys as SPKI to compare the bytes cost ~20 times as much.
 */
export function proveWithoutSigning(context: TokenContext, key: PrivateKeyObject, certificate: Certificate): Proof {
  const certKey = certificate.publicKey;
  if (certKey === undefined) return { result: "unknown" };
  const own = ownPublicKey(context, key);
  if (own !== undefined) return own.equals(certKey) ? { result: "match", by: "the key's own public key" } : { result: "mismatch" };
  const objects = publicKeyObjects(context, key);
  if (objects.some((k) => k.equals(certKey))) return { result: "match", by: "the public-key object with its CKA_ID" };
  return objects.length > 0 ? { result: "mismatch" } : { result: "unknown" };
}

export function signatureMatches(certificate: Certificate, message: Uint8Array, digest: DigestAlgorithm, derSignature: Buffer): boolean {
  const key = certificate.publicKey;
  return key !== undefined && signatureVerifies(key, digest, message, derSignature);
}
