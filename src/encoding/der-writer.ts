/** DER writing: tag-length-value with a definite, minimal length, and the few primitives built on it. */
import { DerError, TAG, readElement } from "./der.js";
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

/**
 * BER as DER (PKCS#12 files from NSS, e.g. Firefox: indefinite lengths, OCTET STRINGs in pieces): definite
 * lengths, each constructed OCTET STRING joined into one. Primitive contents are kept as they are (the DER inside
 * an OCTET STRING is not touched). The first element only; throws DerError when malformed, nested over 32 deep or
 * of more than 10,000 elements (asn1js's limit: a million tiny ones took seconds and a gigabyte).
 */
export function derFromBer(ber: Buffer): Buffer {
  const el = readBer(ber, 0, 0, { elements: 0 });
  const tlv = derTlv(el.tag, el.content);
  const der = Buffer.concat([tlv, ber.subarray(el.end)]); // what follows: for the caller to judge
  for (const copy of el.copy ? [tlv, el.content] : [tlv]) copy.fill(0);
  return der;
}

/** `copy`: `content` was made here (joined from parts), not a view of the input. */
type BerElement = { tag: number; content: Buffer; end: number; copy?: boolean };

function readBer(buf: Buffer, offset: number, depth: number, count: { elements: number }): BerElement {
  if (depth > 32) throw new DerError("BER nested more than 32 deep");
  if (++count.elements > 10_000) throw new DerError("more than 10,000 elements");
  if (offset + 2 > buf.length) throw new DerError("truncated DER header (BER without its end-of-contents?)");
  const tag = buf[offset]!;
  const joined = tag === (TAG.OCTET_STRING | 0x20);
  let body = buf;
  let at = offset + 2;
  let end: number | undefined;
  if (buf[offset + 1] !== 0x80) {
    const el = readElement(buf, offset);
    if ((tag & 0x20) === 0) return { tag, content: el.content, end: offset + el.raw.length };
    [body, at, end] = [el.content, 0, offset + el.raw.length];
  } else if ((tag & 0x20) === 0) throw new DerError("an indefinite length on a primitive element");
  const parts: Buffer[] = [];
  const copies: Buffer[] = []; // zeroed once joined, or refused: what is read may be a key (decrypted PKCS#12 bags)
  try {
    while (end !== undefined ? at < body.length : !(body[at] === 0 && body[at + 1] === 0)) {
      const child = readBer(body, at, depth + 1, count);
      if (child.copy) copies.push(child.content);
      if (joined && child.tag !== TAG.OCTET_STRING) throw new DerError("a piece of an OCTET STRING that is not one");
      parts.push(joined ? child.content : derTlv(child.tag, child.content));
      if (!joined) copies.push(parts.at(-1)!);
      at = child.end;
    }
    return { tag: joined ? TAG.OCTET_STRING : tag, content: Buffer.concat(parts), end: end ?? at + 2, copy: true };
  } finally {
    for (const copy of copies) copy.fill(0);
  }
}
