/** Byte formats around a signature, shared by every signer back-end. */
import { verify, type KeyObject } from "node:crypto";
import { InputError } from "../errors.js";
import { ownValue } from "../own-value.js";
import { derOid, derSequence, derUnsignedInteger } from "./der-writer.js";

export type DigestAlgorithm = "SHA256" | "SHA384" | "SHA512";

export const NODE_HASH_NAME: Readonly<Record<DigestAlgorithm, "sha256" | "sha384" | "sha512">> = {
  SHA256: "sha256",
  SHA384: "sha384",
  SHA512: "sha512",
};

/** node:crypto's name of `digest`, checked: a caller in plain JavaScript may pass anything ("sha256", "MD5"). */
export function nodeHashName(digest: DigestAlgorithm): "sha256" | "sha384" | "sha512" {
  const name = ownValue(NODE_HASH_NAME, digest);
  if (name === undefined) {
    const hint = "use SHA256, SHA384 or SHA512";
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `digest ${String(digest)} is not supported`, { hint });
  }
  return name;
}

/** Whether `signature` (DER for ECDSA) over `message` verifies with `key`; false, not an error, for a malformed one. */
export function signatureVerifies(key: KeyObject, digest: DigestAlgorithm, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(NODE_HASH_NAME[digest], message, key, signature);
  } catch {
    return false;
  }
}

/** DER DigestInfo { AlgorithmIdentifier { hashOid, NULL }, OCTET STRING <digest> } without the digest (RFC 8017 §9.2 note 1). */
export const DIGEST_INFO_PREFIX: Readonly<Record<DigestAlgorithm, Buffer>> = {
  SHA256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  SHA384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  SHA512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};

/**
 * EMSA-PKCS1-v1_5 (RFC 8017 §9.2): 00 01 FF…FF 00 ‖ DigestInfo ‖ H, modulus-sized. Raw RSA decryption of
 * this block with the private key is exactly an RSASSA-PKCS1-v1_5 signature — how decrypt-only TPM RSA
 * keys (openssl_tpm2_engine's default) sign.
 */
export function emsaPkcs1v15(digest: Buffer, algorithm: DigestAlgorithm, modulusBytes: number): Buffer {
  const t = Buffer.concat([DIGEST_INFO_PREFIX[algorithm], digest]);
  const padding = modulusBytes - t.length - 3;
  if (padding < 8) throw new RangeError(`a ${modulusBytes * 8}-bit RSA key is too small for ${algorithm}`);
  return Buffer.concat([Buffer.from([0x00, 0x01]), Buffer.alloc(padding, 0xff), Buffer.from([0x00]), t]);
}

/** ECDSA (r, s) as big-endian magnitudes (possibly shorter than the curve size) → DER SEQUENCE { INTEGER r, INTEGER s }. */
export function ecdsaSignatureToDer(r: Uint8Array, s: Uint8Array): Buffer {
  return derSequence(derUnsignedInteger(r), derUnsignedInteger(s));
}

/** Converts an ECDSA signature from r‖s (two equal halves: PKCS#11, IEEE P1363) to DER. */
export function ecdsaRawToDer(raw: Uint8Array): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new RangeError(`an ECDSA signature in r||s form has an even, non-zero length, not ${raw.length}`);
  }
  const half = raw.length / 2;
  return ecdsaSignatureToDer(raw.subarray(0, half), raw.subarray(half));
}

export type CurveName = "P-256" | "P-384" | "P-521";

interface NamedCurve {
  readonly oid: string;
  readonly fieldBytes: number;
  /** OpenSSL's name (node:crypto createECDH, asymmetricKeyDetails.namedCurve). */
  readonly ecdhName: string;
  /** The hash of the curve's strength (SEC 1 / NIST SP 800-57 pairing), used for ECDSA unless a digest is asked for. */
  readonly digest: DigestAlgorithm;
}

export const NAMED_CURVES: Readonly<Record<CurveName, NamedCurve>> = {
  "P-256": { oid: "1.2.840.10045.3.1.7", fieldBytes: 32, ecdhName: "prime256v1", digest: "SHA256" },
  "P-384": { oid: "1.3.132.0.34", fieldBytes: 48, ecdhName: "secp384r1", digest: "SHA384" },
  "P-521": { oid: "1.3.132.0.35", fieldBytes: 66, ecdhName: "secp521r1", digest: "SHA512" },
};

/** The named curves by the DER of their OID, as CKA_EC_PARAMS and ECParameters hold it. */
export function curveFromEcParams(ecParams: Uint8Array | undefined): { name: CurveName; fieldBytes: number } | undefined {
  if (ecParams === undefined) return undefined;
  for (const [name, curve] of Object.entries(NAMED_CURVES) as [CurveName, NamedCurve][]) {
    if (derOid(curve.oid).equals(ecParams)) return { name, fieldBytes: curve.fieldBytes };
  }
  return undefined;
}
