/**
 * Byte formats around a token signature: the DigestInfo a raw CKM_RSA_PKCS signature needs, and the
 * conversion of CKM_ECDSA's raw r‖s output to the DER SEQUENCE { r, s } that SigV4-X509 expects.
 */
import type { DigestAlgorithm } from "../signers/signer.js";

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
  const r = integerBounds(raw, 0, half);
  const s = integerBounds(raw, half, raw.length);
  const body = 2 + r.length + 2 + s.length + (r.length > 0x7f ? 1 : 0) + (s.length > 0x7f ? 1 : 0);
  const out = Buffer.allocUnsafe(1 + lengthSize(body) + body);
  let at = 0;
  out[at++] = 0x30;
  at = writeLength(out, at, body);
  for (const part of [r, s]) {
    out[at++] = 0x02;
    at = writeLength(out, at, part.length);
    if (part.pad) out[at++] = 0;
    out.set(raw.subarray(part.start, part.end), at);
    at += part.end - part.start;
  }
  return out;
}

/** An unsigned big-endian integer without its leading zeros, plus a 0x00 when its top bit is set. */
function integerBounds(raw: Uint8Array, start: number, end: number): { start: number; end: number; pad: boolean; length: number } {
  while (start < end - 1 && raw[start] === 0) start++;
  const pad = (raw[start]! & 0x80) !== 0;
  return { start, end, pad, length: end - start + (pad ? 1 : 0) };
}

function lengthSize(length: number): number {
  return length < 0x80 ? 1 : length < 0x100 ? 2 : 3;
}

function writeLength(out: Buffer, at: number, length: number): number {
  if (length < 0x80) {
    out[at++] = length;
  } else if (length < 0x100) {
    out[at++] = 0x81;
    out[at++] = length;
  } else {
    out[at++] = 0x82;
    out[at++] = length >> 8;
    out[at++] = length & 0xff;
  }
  return at;
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
