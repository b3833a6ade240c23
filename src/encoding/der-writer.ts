/** DER writing: tag-length-value with a definite, minimal length, and the few primitives built on it. */
import { TAG } from "./der.js";
import { withoutLeadingZeros } from "./bytes.js";

/** The length octets: short form below 128, else 0x80|n followed by n big-endian bytes. */
export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derTlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

export function derSequence(...parts: Uint8Array[]): Buffer {
  return derTlv(TAG.SEQUENCE, Buffer.concat(parts));
}

/** BIT STRING with no unused bits (signatures, public keys). */
export function derBitString(bytes: Uint8Array): Buffer {
  return derTlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), bytes]));
}

/** OBJECT IDENTIFIER from its dotted-decimal form. */
export function derOid(oid: string): Buffer {
  const [first = 0, second = 0, ...rest] = oid.split(".").map(Number);
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return derTlv(TAG.OID, Buffer.from(bytes));
}

/**
 * The content octets of a non-negative INTEGER from big-endian magnitude bytes (of any length, leading zeros
 * allowed): leading zeros dropped, one 0x00 put back when the top bit is set.
 */
export function unsignedIntegerContent(magnitude: Uint8Array): Buffer {
  const body = magnitude.length === 0 ? Buffer.from([0]) : withoutLeadingZeros(magnitude);
  return body[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body;
}

export function derUnsignedInteger(magnitude: Uint8Array): Buffer {
  return derTlv(TAG.INTEGER, unsignedIntegerContent(magnitude));
}
