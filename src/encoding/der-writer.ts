/** DER writing: tag-length-value with a definite, minimal length, and the few primitives built on it. */
import { TAG } from "./der.js";
import { withoutLeadingZeros } from "./bytes.js";

/** Tag, length (short form below 128, else 0x80|k followed by k big-endian bytes) and content. */
export function derTlv(tag: number, content: Uint8Array): Buffer {
  const lengthBytes: number[] = [];
  for (let v = content.length; v > 0; v = Math.floor(v / 256)) lengthBytes.unshift(v % 256);
  const header = content.length < 0x80 ? [tag, content.length] : [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  return Buffer.concat([Buffer.from(header), content]);
}

export function derSequence(...parts: Uint8Array[]): Buffer {
  return derTlv(TAG.SEQUENCE, Buffer.concat(parts));
}

/** BIT STRING with no unused bits (signatures, public keys). */
export function derBitString(bytes: Uint8Array): Buffer {
  return derTlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), bytes]));
}

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
 * A non-negative INTEGER from big-endian magnitude bytes (of any length, leading zeros allowed): leading zeros
 * dropped, one 0x00 put back when the top bit is set.
 */
export function derUnsignedInteger(magnitude: Uint8Array): Buffer {
  const body = magnitude.length === 0 ? Buffer.from([0]) : withoutLeadingZeros(magnitude);
  return derTlv(TAG.INTEGER, body[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body);
}
