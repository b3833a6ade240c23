/**
 * A minimal, allocation-free DER reader: just enough to recognise key and certificate structures and to
 * read PBES2 parameters on the credential_process hot path without loading a full ASN.1 library.
 * Every function throws {@link DerError} on malformed input; callers turn that into a user-facing error.
 */

export class DerError extends Error {
  /**
   * "form": a value DER encodes otherwise (BER's lengths, padding), which OpenSSL may read; "value": valid DER that a
   * parser (Go's) refuses; "limit": more than this reader takes ({@link children}' bound); none: not the structure
   * expected.
   */
  constructor(message: string, readonly kind?: "form" | "value" | "limit") {
    super(message);
  }
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** `[0]` constructed (EXPLICIT tagging). */
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
  /** `[0]` primitive (IMPLICIT OCTET STRING, as in CMS encryptedContent). */
  CONTEXT_0_PRIMITIVE: 0x80,
} as const;

/** One tag-length-value element; `content` is a view into the original buffer. */
export interface DerElement {
  readonly tag: number;
  readonly content: Buffer;
  /** The whole element (header and content). */
  readonly raw: Buffer;
}

export function readElement(buf: Buffer, offset = 0): DerElement {
  if (offset + 2 > buf.length) throw new DerError("truncated DER header");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte DER tags are not supported");
  let length = buf[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0) throw new DerError("an indefinite length (BER, not DER)", "form");
    if (n > 4) throw new DerError(`a ${n}-byte length field (more than 4)`, "form");
    if (offset + 2 + n > buf.length) throw new DerError("truncated DER length");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[offset + 2 + i]!;
    header += n;
  }
  // A NULL with content is malformed wherever it is (OpenSSL refuses it even where it reads no parameters).
  if (tag === TAG.NULL && length !== 0) throw new DerError("a NULL with content", "form");
  const end = offset + header + length;
  if (end > buf.length) throw new DerError("DER element longer than its container");
  return { tag, content: buf.subarray(offset + header, end), raw: buf.subarray(offset, end) };
}

/** Reads a whole buffer as exactly one element (trailing bytes are an error). */
export function readSingle(buf: Buffer, expectedTag?: number): DerElement {
  const el = readElement(buf, 0);
  if (el.raw.length !== buf.length) throw new DerError("trailing data after DER element");
  if (expectedTag !== undefined) expectTag(el, expectedTag);
  return el;
}

/**
 * The elements inside a constructed element (SEQUENCE, SET, [n] EXPLICIT); more than `max` is malformed, and reading
 * stops there. Unless told, the bound is the reader's own limit, not a rule of DER: a 16 MiB file holds 8 million
 * NULLs, a gigabyte of elements, and no structure we read needs 10,000 (Go's parser has no such bound).
 */
export function children(el: DerElement, max?: number): DerElement[] {
  if ((el.tag & 0x20) === 0) throw new DerError(`DER tag 0x${el.tag.toString(16)} is not constructed`);
  const out: DerElement[] = [];
  for (let offset = 0; offset < el.content.length; offset += out.at(-1)!.raw.length) {
    out.push(readElement(el.content, offset));
    if (max === undefined && out.length > 10_000) throw new DerError("more than 10,000 elements in one list", "limit");
    if (max !== undefined && out.length > max) throw new DerError(`${out.length} elements where at most ${max} belong`);
  }
  return out;
}

/** The first `n` elements inside a constructed element, reading no further: what follows them may be anything. */
export function leadingChildren(el: DerElement, n: number): DerElement[] {
  if ((el.tag & 0x20) === 0) throw new DerError(`DER tag 0x${el.tag.toString(16)} is not constructed`);
  const out: DerElement[] = [];
  for (let at = 0; out.length < n && at < el.content.length; at += out.at(-1)!.raw.length) out.push(readElement(el.content, at));
  return out;
}

/**
 * Throws unless every length in `el`, and inside its constructed elements, has DER's minimal form (X.690 §10.1) and
 * every SEQUENCE and SET is constructed (§8.9.1, §8.11.1), no other universal type (a string: §10.2), every
 * BOOLEAN is 00 or FF (§11.1), every INTEGER minimal (§8.3.2), every BIT STRING's unused bits (at most 7) zero
 * (§11.2.1) and no time in a form that Go's parser refuses too ({@link nonDerTime}). Other primitive contents are not
 * read; memory grows with depth.
 */
export function assertDerForm(el: DerElement): void {
  const open: { content: Buffer; at: number }[] = [];
  for (let e: DerElement | undefined = el; e !== undefined; ) {
    assertMinimalLength(e);
    if (e.tag === 0x10 || e.tag === 0x11) throw new DerError("a SEQUENCE or SET in primitive form", "form");
    if ((e.tag & 0xe0) === 0x20 && e.tag !== 0x30 && e.tag !== 0x31) {
      throw new DerError("a string in constructed form", "form");
    }
    if (e.tag === 0x01 && !(e.content.length === 1 && (e.content[0] === 0 || e.content[0] === 0xff))) {
      throw new DerError("a BOOLEAN that is neither 00 nor FF", "form");
    }
    const problem = e.tag === TAG.INTEGER || e.tag === TAG.BIT_STRING ? malformedPrimitive(e) : undefined;
    if (problem !== undefined) throw new DerError(problem, "form");
    // With no byte after the count, the count itself is the last byte: so 03 01 07 is refused too, as Go does.
    if (e.tag === TAG.BIT_STRING && (e.content.at(-1)! & ((1 << e.content[0]!) - 1)) !== 0) {
      throw new DerError("a BIT STRING whose unused bits are not zero", "form");
    }
    if ((e.tag === 0x17 || e.tag === 0x18) && nonDerTime(e)) {
      throw new DerError("a UTCTime or GeneralizedTime not in DER form", "form");
    }
    if (e.tag & 0x20) open.push({ content: e.content, at: 0 });
    // The next element: in the innermost container not done. A multi-byte tag (valid DER that this reader does not
    // read: OpenSSL takes it as ANY) ends its container's walk.
    for (e = undefined; e === undefined && open.length > 0; ) {
      const top = open.at(-1)!;
      if (top.at >= top.content.length || (top.content[top.at]! & 0x1f) === 0x1f) {
        open.pop();
      } else {
        e = readElement(top.content, top.at);
        top.at += e.raw.length;
      }
    }
  }
}

/** Throws unless the element's length has DER's minimal form (X.690 §10.1); what it holds is not read. */
export function assertMinimalLength(e: DerElement): void {
  let header = 2;
  if (e.content.length >= 0x80) for (let v = e.content.length; v > 0; v = Math.floor(v / 256)) header++;
  if (e.raw.length - e.content.length !== header) throw new DerError("a non-minimal length (BER, not DER)", "form");
}

/**
 * A UTCTime or GeneralizedTime that DER forbids (X.690 §11.7, §11.8) or RFC 5280 does (§4.1.2.5.2: no fraction) and
 * Go's parser refuses: UTC as a ±0000 offset, a GeneralizedTime without seconds or with a fraction. Not what DER
 * alone forbids (a UTCTime without seconds, an offset); OpenSSL judges the rest.
 */
function nonDerTime({ tag, content }: DerElement): boolean {
  const text = content.toString("latin1");
  const sign = text.at(-5);
  if ((sign === "+" || sign === "-") && text.endsWith("0000")) return true;
  return tag === 0x18 && (["Z", "+", "-"].includes(text.charAt(12)) || text.includes("."));
}

/** An INTEGER's content bytes as the signed (two's complement) integer they encode; 0 for none. */
export function decodeSignedInteger(bytes: Uint8Array): bigint {
  return BigInt.asIntN(bytes.length * 8, BigInt(`0x${Buffer.from(bytes).toString("hex") || "0"}`));
}

/** `read()`, or undefined when it finds the DER malformed. */
export function unlessMalformed<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
}

export function expectTag(el: DerElement | undefined, tag: number): DerElement {
  if (el === undefined) throw new DerError(`missing DER element (tag 0x${tag.toString(16)})`);
  if (el.tag !== tag) throw new DerError(`expected DER tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  return el;
}

export function decodeOid(el: DerElement | undefined): string {
  const bytes = expectTag(el, TAG.OID).content;
  if (bytes.length === 0) throw new DerError("empty OID");
  const arcs: (number | bigint)[] = [];
  // Arcs beyond 2^53 are BigInts (2.25.<a 128-bit UUID> is a real OID); 20 bytes of 7 bits hold 140 bits.
  let value: number | bigint = 0;
  let length = 0;
  for (const byte of bytes) {
    if (length === 0 && byte === 0x80) throw new DerError("an OID arc with a leading 0x80 (not minimal)");
    if (++length > 20) throw new DerError("OID arc too large");
    const low = byte & 0x7f;
    value = typeof value === "number" && value < 2 ** 45 ? value * 128 + low : BigInt(value) * 128n + BigInt(low);
    if ((byte & 0x80) !== 0) continue;
    if (arcs.length > 0) arcs.push(value);
    else if (value < 80) arcs.push(Math.floor(Number(value) / 40), Number(value) % 40);
    else arcs.push(2, typeof value === "number" ? value - 80 : value - 80n);
    value = 0;
    length = 0;
  }
  if ((bytes[bytes.length - 1]! & 0x80) !== 0) throw new DerError("truncated OID");
  return arcs.join(".");
}

/** A non-negative INTEGER that fits in a JS number (iteration counts, versions, scrypt parameters). */
export function decodeSmallInteger(el: DerElement | undefined): number {
  const bytes = expectTag(el, TAG.INTEGER).content;
  if (bytes.length === 0 || (bytes[0]! & 0x80) !== 0) throw new DerError("negative or empty INTEGER");
  if (bytes[0] === 0 && bytes.length > 1 && bytes[1]! < 0x80) throw new DerError("an INTEGER with a leading zero byte");
  let value = 0;
  for (const byte of bytes) {
    value = value * 256 + byte;
    if (value > Number.MAX_SAFE_INTEGER) throw new DerError("INTEGER too large");
  }
  return value;
}

/** An AlgorithmIdentifier: `SEQUENCE { algorithm OID, parameters ANY OPTIONAL }`. */
export interface AlgorithmIdentifier {
  readonly oid: string;
  readonly parameters: DerElement | undefined;
}

export function decodeAlgorithmIdentifier(el: DerElement | undefined): AlgorithmIdentifier {
  const [oid, parameters] = children(expectTag(el, TAG.SEQUENCE), 2);
  const problem = parameters === undefined ? undefined : malformedPrimitive(parameters);
  if (problem !== undefined) throw new DerError(`AlgorithmIdentifier parameters that are ${problem}`);
  return { oid: decodeOid(oid), parameters };
}

/**
 * What OpenSSL's decoder refuses in an element of a universal type, even as parameters it never reads (a PRF's,
 * a MAC digest's): found by the differential fuzzer. Undefined when the element is well formed.
 */
export function malformedPrimitive(el: DerElement): string | undefined {
  const c = el.content;
  const integer = c.length === 0 || (c.length > 1 && (c[0] === 0 ? c[1]! < 0x80 : c[0] === 0xff && c[1]! >= 0x80));
  if ((el.tag === TAG.INTEGER || el.tag === 0x0a) && integer) return "an empty or non-minimal INTEGER";
  if (el.tag === TAG.BOOLEAN && c.length !== 1) return "a BOOLEAN that is not one byte";
  if (el.tag === TAG.BIT_STRING && (c.length === 0 || c[0]! > 7)) return "a BIT STRING without its unused-bits count";
  if (el.tag === TAG.OID && unlessMalformed(() => decodeOid(el)) === undefined) return "a malformed OID";
  if ((el.tag === 0x1e && c.length % 2 !== 0) || (el.tag === 0x1c && c.length % 4 !== 0)) return "a truncated string";
  if ([0x21, 0x22, 0x25, 0x26, 0x2a].includes(el.tag)) return "a constructed form of a primitive type";
  return undefined;
}
