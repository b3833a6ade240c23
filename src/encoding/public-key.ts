/** node:crypto public keys from raw components: an RSA modulus and exponent, EC affine coordinates. */
import { createPublicKey, type KeyObject } from "node:crypto";
import { NAMED_CURVES, type CurveName } from "./signature-encoding.js";
import { leftPadded, withoutLeadingZeros } from "./bytes.js";

/** From big-endian magnitudes (leading zeros allowed). */
export function rsaPublicKey(modulus: Uint8Array, exponent: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "RSA", n: withoutLeadingZeros(modulus).toString("base64url"), e: withoutLeadingZeros(exponent).toString("base64url") }, format: "jwk" });
}

/** From the coordinates, which may be shorter than the field (leading zeros dropped). */
export function ecPublicKey(curve: CurveName, x: Uint8Array, y: Uint8Array): KeyObject {
  const size = NAMED_CURVES[curve].fieldBytes;
  const jwk = { kty: "EC", crv: curve, x: leftPadded(x, size).toString("base64url"), y: leftPadded(y, size).toString("base64url") };
  return createPublicKey({ key: jwk, format: "jwk" });
}
