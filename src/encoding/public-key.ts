/** node:crypto public keys from raw components: an RSA modulus and exponent, EC affine coordinates. */
import { createPublicKey, type KeyObject } from "node:crypto";
import { NAMED_CURVES, type CurveName } from "./signature-encoding.js";
import { withoutLeadingZeros } from "./bytes.js";

/** From big-endian magnitudes (leading zeros allowed). */
export function rsaPublicKey(modulus: Uint8Array, exponent: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "RSA", n: withoutLeadingZeros(modulus).toString("base64url"), e: withoutLeadingZeros(exponent).toString("base64url") }, format: "jwk" });
}

/** From the coordinates, which may be shorter than the field (leading zeros dropped). */
export function ecPublicKey(curve: CurveName, x: Uint8Array, y: Uint8Array): KeyObject {
  const size = NAMED_CURVES[curve].fieldBytes;
  return createPublicKey({ key: { kty: "EC", crv: curve, x: padded(x, size), y: padded(y, size) }, format: "jwk" });
}

function padded(bytes: Uint8Array, size: number): string {
  return (bytes.length >= size ? Buffer.from(bytes) : Buffer.concat([Buffer.alloc(size - bytes.length), bytes])).toString("base64url");
}
