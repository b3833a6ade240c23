/**
 * What a PIV card computes in GENERAL AUTHENTICATE: ECDSA over the digest the host sends (no hashing on the
 * card) and the raw RSA private-key operation over the block the host has already padded. node:crypto has
 * neither as such, so ECDSA is done here from its definition, with k·G computed by node's ECDH.
 */
import { constants, createECDH, privateEncrypt, randomBytes, type KeyObject } from "node:crypto";
import { ecdsaRawToDer } from "../../../src/encoding/signature-encoding.js";

export type PivAlgorithm = "RSA-2048" | "P-256" | "P-384";

const CURVES = {
  "P-256": { ecdh: "prime256v1", bytes: 32, n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  "P-384": {
    ecdh: "secp384r1",
    bytes: 48,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
} as const;

/** Size in bytes of what GENERAL AUTHENTICATE takes for this algorithm (field size, or modulus size). */
export function challengeBytes(algorithm: PivAlgorithm): number {
  return algorithm === "RSA-2048" ? 256 : CURVES[algorithm].bytes;
}

/** DER ECDSA signature of `digest` (already the size of the field: hosts pad or truncate it). */
export function ecdsaSignDigest(key: KeyObject, curve: "P-256" | "P-384", digest: Buffer): Buffer {
  const { ecdh, bytes, n } = CURVES[curve];
  const d = toBigInt(Buffer.from(key.export({ format: "jwk" }).d!, "base64url"));
  const z = toBigInt(digest) % n;
  for (;;) {
    const k = toBigInt(randomBytes(bytes)) % n;
    if (k === 0n) continue;
    const exchange = createECDH(ecdh);
    exchange.setPrivateKey(toBytes(k, bytes));
    const point = exchange.getPublicKey();
    const r = toBigInt(point.subarray(1, 1 + bytes)) % n;
    if (r === 0n) continue;
    const s = (modInverse(k, n) * ((z + r * d) % n)) % n;
    if (s === 0n) continue;
    return ecdsaRawToDer(Buffer.concat([toBytes(r, bytes), toBytes(s, bytes)]));
  }
}

/** RSA without padding: the host sent a full PKCS#1 block. */
export function rsaRawPrivate(key: KeyObject, block: Buffer): Buffer {
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, block);
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

function toBytes(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(length * 2, "0"), "hex");
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return ((oldS % m) + m) % m;
}
