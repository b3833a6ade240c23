/**
 * Proving that a private key on the token belongs to the certificate, without spending a signature where
 * the token offers another way (the Go helper makes a test signature before every real one, which on a key
 * with touch policy "always" is a second touch). In order:
 * 1. the private key's own public half (CKA_PUBLIC_KEY_INFO, RSA modulus, EC point): authoritative;
 * 2. the public-key objects with the same CKA_ID (SoftHSM, OpenSC's PIV driver, ykcs11): one that equals the
 *    certificate's key proves it, and when all of them differ the key is not the certificate's;
 * 3. otherwise the proof is left to the signature the caller needs anyway: the first one is checked against
 *    the certificate before it leaves the signer. Only when several keys remain that nothing tells apart is
 *    one test signature made (open-signer.ts), once, when the signer is built.
 */
import { verify, type KeyObject } from "node:crypto";
import type { Certificate } from "../../x509/certificate.js";
import type { DigestAlgorithm } from "../signer.js";
import { ownPublicKey, publicKeyObjects, type PrivateKeyObject, type TokenContext } from "../../pkcs11/objects.js";
import { NODE_HASH_NAME } from "../../encoding/signature-encoding.js";

export type Proof =
  | { readonly result: "match"; readonly by: "the key's own public key" | "the public-key object with its CKA_ID" }
  | { readonly result: "mismatch" }
  | { readonly result: "unknown" };

/** What the token says about the key, compared with the certificate; no signature. */
export function proveWithoutSigning(context: TokenContext, key: PrivateKeyObject, certificate: Certificate): Proof {
  const certKey = certificate.publicKey;
  if (certKey === undefined) return { result: "unknown" };
  const own = ownPublicKey(context, key);
  if (own !== undefined) return sameKey(own, certKey) ? { result: "match", by: "the key's own public key" } : { result: "mismatch" };
  const objects = publicKeyObjects(context, key);
  if (objects.some((k) => sameKey(k, certKey))) return { result: "match", by: "the public-key object with its CKA_ID" };
  return objects.length > 0 ? { result: "mismatch" } : { result: "unknown" };
}

/** Whether a signature the token made over `message` verifies with the certificate's public key. */
export function signatureMatches(certificate: Certificate, message: Uint8Array, digest: DigestAlgorithm, derSignature: Buffer): boolean {
  const key = certificate.publicKey;
  if (key === undefined) return false;
  try {
    return verify(NODE_HASH_NAME[digest], message, key, derSignature);
  } catch {
    return false;
  }
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ format: "der", type: "spki" }).equals(b.export({ format: "der", type: "spki" }));
}
