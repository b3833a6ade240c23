/**
 * Proving that a private key on the token belongs to the certificate, once, when the signer is built
 * (the Go helper re-proves it with a test signature before every real one). The public key is compared
 * when the token exposes it; otherwise one test signature is verified against the certificate.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from "node:crypto";
import type { Certificate } from "../../x509/certificate.js";
import type { PrivateKeyObject } from "./objects.js";

export type Proof = "match" | "mismatch" | "unknown";

/** From the key's own attributes only (no signature): CKA_PUBLIC_KEY_INFO, or the RSA modulus and exponent. */
export function compareWithoutSigning(key: PrivateKeyObject, certificate: Certificate): Proof {
  const certKey = certificate.publicKey;
  if (certKey === undefined) return "unknown";
  if (key.publicKeyInfo) {
    try {
      return sameKey(createPublicKey({ key: key.publicKeyInfo, format: "der", type: "spki" }), certKey) ? "match" : "mismatch";
    } catch {
      /* malformed attribute: try the other ways */
    }
  }
  if (key.keyType === "RSA" && key.modulus && key.publicExponent) {
    const jwk = certKey.export({ format: "jwk" });
    return jwk.n === base64url(key.modulus) && jwk.e === base64url(key.publicExponent) ? "match" : "mismatch";
  }
  return "unknown";
}

/** A random message for the test signature, and the check of what the token returned. */
export function testMessage(): Buffer {
  return Buffer.concat([Buffer.from("roles-anywhere-agent key proof "), randomBytes(32)]);
}

export function verifiesAgainst(certificate: Certificate, message: Buffer, derSignature: Buffer): boolean {
  const key = certificate.publicKey;
  if (key === undefined) return false;
  try {
    return verify("sha256", message, key, derSignature);
  } catch {
    return false;
  }
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ format: "der", type: "spki" }).equals(b.export({ format: "der", type: "spki" }));
}

function base64url(bytes: Buffer): string {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start).toString("base64url");
}
