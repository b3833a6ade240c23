/**
 * Byte formats around a token signature: the DigestInfo a raw CKM_RSA_PKCS signature needs, and the
 * conversion of CKM_ECDSA's raw r‖s output to the DER SEQUENCE { r, s } that SigV4-X509 expects.
 */
import type { DigestAlgorithm } from "../signer.js";

/** DER DigestInfo { AlgorithmIdentifier { hashOid, NULL }, OCTET STRING <digest> } without the digest. */
export const DIGEST_INFO_PREFIX: Readonly<Record<DigestAlgorithm, Buffer>> = {
  SHA256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  SHA384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  SHA512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};

export const NODE_HASH_NAME: Readonly<Record<DigestAlgorithm, string>> = {
  SHA256: "sha256",
  SHA384: "sha384",
  SHA512: "sha512",
};

/** Converts an ECDSA signature from PKCS#11's r‖s (two equal halves) to DER. */
export function ecdsaRawToDer(raw: Uint8Array): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new RangeError(`an ECDSA signature in r||s form has an even, non-zero length, not ${raw.length}`);
  }
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

function derInteger(unsigned: Uint8Array): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const trimmed = unsigned.subarray(start);
  const needsPad = (trimmed[0]! & 0x80) !== 0;
  const content = needsPad ? Buffer.concat([Buffer.from([0]), trimmed]) : Buffer.from(trimmed);
  return Buffer.concat([Buffer.from([0x02]), derLength(content.length), content]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x100) return Buffer.from([0x81, length]);
  return Buffer.from([0x82, length >> 8, length & 0xff]);
}

/** Named curves by the DER of their OID, as CKA_EC_PARAMS holds them. */
const CURVES: Readonly<Record<string, { name: string; fieldBytes: number }>> = {
  "06082a8648ce3d030107": { name: "P-256", fieldBytes: 32 },
  "06052b81040022": { name: "P-384", fieldBytes: 48 },
  "06052b81040023": { name: "P-521", fieldBytes: 66 },
};

export function curveFromEcParams(ecParams: Uint8Array | undefined): { name: string; fieldBytes: number } | undefined {
  return ecParams === undefined ? undefined : CURVES[Buffer.from(ecParams).toString("hex")];
}
