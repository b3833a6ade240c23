/**
 * BER-TLV as smart cards use it (ISO 7816-4 §5.2, SP 800-73-4 Part 2 §3): tags of one to three bytes written
 * as one number (0x7c, 0x5fc105), definite lengths of one to three bytes.
 */

export interface Tlv {
  readonly tag: number;
  readonly value: Buffer;
}

export function tlv(tag: number, ...value: Uint8Array[]): Buffer {
  const content = Buffer.concat(value);
  return Buffer.concat([tagBytes(tag), lengthBytes(content.length), content]);
}

function tagBytes(tag: number): Buffer {
  if (tag <= 0xff) return Buffer.from([tag]);
  if (tag <= 0xffff) return Buffer.from([tag >> 8, tag & 0xff]);
  return Buffer.from([tag >> 16, (tag >> 8) & 0xff, tag & 0xff]);
}

export function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length <= 0xff) return Buffer.from([0x81, length]);
  if (length <= 0xffff) return Buffer.from([0x82, length >> 8, length & 0xff]);
  throw new RangeError(`TLV length ${length} too large`);
}

/** Every TLV in `buf` in order; throws on a truncated or malformed element. */
export function parseTlvs(buf: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < buf.length) {
    let tag = buf[offset++]!;
    if ((tag & 0x1f) === 0x1f) {
      let next: number;
      do {
        if (offset >= buf.length) throw new Error("truncated BER tag");
        next = buf[offset++]!;
        tag = tag * 256 + next;
      } while (next & 0x80);
    }
    if (offset >= buf.length) throw new Error("truncated BER length");
    let length = buf[offset++]!;
    if (length & 0x80) {
      const n = length & 0x7f;
      if (n < 1 || n > 3 || offset + n > buf.length) throw new Error("bad BER length");
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + buf[offset++]!;
    }
    if (offset + length > buf.length) throw new Error("BER value longer than its container");
    out.push({ tag, value: buf.subarray(offset, offset + length) });
    offset += length;
  }
  return out;
}

export function findTlv(tlvs: readonly Tlv[], tag: number): Buffer | undefined {
  return tlvs.find((t) => t.tag === tag)?.value;
}
