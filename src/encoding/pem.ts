import { InputError } from "../errors.js";

/** One `-----BEGIN <label>-----` … `-----END <label>-----` block. */
export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
  /** RFC 1421 headers such as `Proc-Type` (legacy OpenSSL encryption); usually empty. */
  readonly headers: Readonly<Record<string, string>>;
}

const BEGIN = "-----BEGIN ";
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"; // RFC 4648 §4

/** One PEM block, base64 in 64-character lines (RFC 7468). */
export function encodePem(label: string, der: Uint8Array): string {
  return pemBuffer(label, der).toString("latin1");
}

/** {@link encodePem}'s text in a Buffer, so that a key's PEM can be wiped (a base64 string of it could not). */
export function pemBuffer(label: string, der: Uint8Array): Buffer {
  const [head, tail] = [`-----BEGIN ${label}-----\n`, `\n-----END ${label}-----\n`];
  const body = Math.ceil(der.length / 3) * 4;
  const out = Buffer.alloc(head.length + body + Math.max(0, Math.ceil(body / 64) - 1) + tail.length);
  let at = out.write(head, "latin1");
  for (let i = 0; i < der.length; i += 3) {
    if (i > 0 && i % 48 === 0) out[at++] = 0x0a; // 48 bytes: a 64-character line
    const n = (der[i]! << 16) | ((der[i + 1] ?? 0) << 8) | (der[i + 2] ?? 0);
    for (let j = 0; j < 4; j++) out[at++] = i + j - 1 < der.length ? ALPHABET.charCodeAt((n >> (18 - 6 * j)) & 63) : 0x3d; // "="
  }
  out.write(tail, at, "latin1");
  return out;
}

export function looksLikePem(bytes: Buffer): boolean {
  return indexOfText(bytes, BEGIN) >= 0; // not a latin1 string of a key file: that copy of the key could not be wiped
}

/**
 * Where `text` (latin1) is in `bytes` from `from`, or -1. V8's own search and fill, not Buffer's indexOf, includes and
 * fill: those are JavaScript functions of Node's that every cold run would compile again (~1 M instructions).
 */
export function indexOfText(bytes: Uint8Array, text: string, from = 0): number {
  for (let i = from; (i = indexOfByte(bytes, text.charCodeAt(0), i)) >= 0 && i <= bytes.length - text.length; i++) {
    let k = 1;
    while (k < text.length && bytes[i + k] === text.charCodeAt(k)) k++;
    if (k === text.length) return i;
  }
  return -1;
}
const indexOfByte = (bytes: Uint8Array, byte: number, from: number) => Uint8Array.prototype.indexOf.call(bytes, byte, from);
const zero = (bytes: Uint8Array) => void Uint8Array.prototype.fill.call(bytes, 0);

/** Zeroes the DER of the blocks holding a private key: decoded here, each is its reader's alone. */
export function wipeKeyBlocks(blocks: readonly PemBlock[]): void {
  for (const block of blocks) if (block.label.endsWith("PRIVATE KEY")) zero(block.der);
}

/**
 * A block as a message names it: `a PEM block labelled "X"`, or `otherwise` when the label (the file's own text)
 * is long or not printable.
 */
export function namePemBlock(label: string, otherwise: string): string {
  return /^[\x20-\x7e]{1,64}$/.test(label) ? `a PEM block labelled "${label}"` : otherwise;
}

/**
 * Every PEM block in `input` (a file's bytes, read as latin1, or text), in order. Text between blocks (comments,
 * `openssl x509 -text` dumps) is ignored, as Go's pem.Decode loop does. A block that is not terminated or whose body
 * is not base64 is an error naming `source`, rather than being silently skipped. A body is decoded from the bytes:
 * a key's base64 never becomes a JavaScript string, which could not be wiped.
 */
export function decodePemBlocks(input: Buffer | string, source: string): PemBlock[] {
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const blocks: PemBlock[] = [];
  try {
    for (const { label, from, to } of pemSpans(bytes, source)) blocks.push(decodeBody(bytes, from, to, label, source));
    return blocks;
  } catch (error) {
    wipeKeyBlocks(blocks); // a key decoded before the block refused: no caller gets it to wipe
    throw error;
  }
}

/**
 * The label of every PEM block in `bytes`, in order, with none of their bodies decoded: a file of 16 MiB holds 280,000
 * blocks, whose decoded copies took 190 MiB (a chain's cap is applied to these labels first). A block that is not
 * terminated is an error as in {@link decodePemBlocks}.
 */
export function pemLabels(bytes: Buffer, source: string): string[] {
  // One string for the usual label, not one copy per block kept in the list.
  return Array.from(pemSpans(bytes, source), ({ label }) => (label === "CERTIFICATE" ? "CERTIFICATE" : label));
}

/** Each block's label and the bounds of its body (`bytes[from, to)`), in order. */
function* pemSpans(bytes: Buffer, source: string): Generator<{ label: string; from: number; to: number }> {
  for (let cursor = 0; ; ) {
    const begin = indexOfText(bytes, BEGIN, cursor);
    if (begin < 0) return;
    const labelEnd = indexOfText(bytes, "-----", begin + BEGIN.length);
    const label = labelEnd < 0 ? "" : bytes.toString("latin1", begin + BEGIN.length, labelEnd);
    if (label === "" || label.includes("\r") || label.includes("\n")) {
      throw pemError(source, "a BEGIN line is malformed");
    }
    const endMarker = `-----END ${label}-----`;
    const end = indexOfText(bytes, endMarker, labelEnd + 5);
    if (end < 0) throw pemError(source, `${namePemBlock(label, "a PEM block")} has no END line`);
    yield { label, from: labelEnd + 5, to: end };
    cursor = end + endMarker.length;
  }
}

/** JavaScript's `\s` in latin1 (a "\r" before "\n" is whitespace to every test below). */
const isSpace = (c: number) => DIGITS[c] === SPACE;

/** The block whose body is `bytes[from, to)`: RFC 1421 headers first ("Name: value", up to a blank line), then base64. */
function decodeBody(bytes: Buffer, from: number, to: number, label: string, source: string): PemBlock {
  // Searched up to `to` only: the next "\n" of the file may be blocks away (a bundle on one line: 1.4 MB took 13 s)
  const lineEnd = (p: number) => {
    let n = p;
    while (n < to && bytes[n] !== 0x0a) n++;
    return n;
  };
  const blank = (p: number, q: number) => {
    while (p < q && isSpace(bytes[p]!)) p++;
    return p === q;
  };
  let p = from;
  while (p < to && blank(p, lineEnd(p))) p = lineEnd(p) + 1;
  const headers: Record<string, string> = {};
  if (isHeaderLine(bytes, p, to)) {
    for (let q = lineEnd(p); p < to && !blank(p, q); p = q + 1, q = lineEnd(p)) {
      const line = bytes.toString("latin1", p, q);
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
  }
  if ((headers["Proc-Type"] ?? "").includes("ENCRYPTED")) throw encryptedError(label, source);
  const der = decodeBase64(bytes, Math.min(p, to), to);
  if (der === undefined) {
    throw pemError(source, `${namePemBlock(label, "") ? `the ${label} block` : "a PEM block"} is not valid base64`);
  }
  return { label, der, headers };
}

/** `/^[A-Za-z-]+:/` at `p` (before `to`): a name of letters and `-`, then a colon. */
function isHeaderLine(bytes: Buffer, p: number, to: number): boolean {
  const start = p;
  const letter = (c: number) => ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x2d;
  while (p < to && letter(bytes[p]!)) p++;
  return p > start && p < to && bytes[p] === 0x3a;
}

/** Each byte's value as a base64 digit (RFC 4648 §4); SPACE for JavaScript's `\s` in latin1, PAD for `=`, else -1. */
const [SPACE, PAD] = [64, 65];
const DIGITS = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) DIGITS[ALPHABET.charCodeAt(i)] = i;
for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0]) DIGITS[c] = SPACE;
DIGITS[0x3d] = PAD;

/**
 * The base64 in `bytes[from, to)`, whitespace left out, decoded as Node does; undefined (nothing decoded kept) unless
 * it is whole groups of four of the alphabet, with at most two `=` at the end.
 */
function decodeBase64(bytes: Buffer, from: number, to: number): Buffer | undefined {
  const out = new Uint8Array(Math.ceil(((to - from) * 3) / 4)); // not Buffer.alloc: see indexOfText
  let [bits, digits, pad, length] = [0, 0, 0, 0];
  for (let p = from; p < to; p++) {
    const value = DIGITS[bytes[p]!]!;
    if (value === SPACE) continue;
    if (value === PAD) pad++;
    else if (value < 0 || pad > 0) return wiped(out);
    else if ((bits = (bits << 6) | value), ++digits % 4 === 0) {
      out[length++] = bits >> 16;
      out[length++] = bits >> 8;
      out[length++] = bits;
      bits = 0;
    }
  }
  if ((digits + pad) % 4 !== 0 || pad > 2) return wiped(out);
  if (pad === 2) out[length++] = bits >> 4;
  if (pad === 1) [out[length++], out[length++]] = [bits >> 10, bits >> 2];
  return Buffer.from(out.buffer, 0, length);
}

function wiped(buffer: Uint8Array): undefined {
  zero(buffer);
  return undefined;
}

/** What a key under legacy PEM encryption becomes to be read with its password (serve's TLS key takes none). */
export const LEGACY_PEM_ENCRYPTION_HINT = "convert it to encrypted PKCS#8: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW`";

/**
 * Legacy OpenSSL PEM encryption (`Proc-Type: 4,ENCRYPTED`, `DEK-Info:`) is refused on every block, here once for
 * all readers: read as clear, its body was garbage. On a key (openssl decrypts it under any key label) as the Go
 * helper refuses it; a certificate or a TPM key file is never encrypted this way.
 */
function encryptedError(label: string, source: string): InputError {
  if (label.endsWith("PRIVATE KEY") && label !== "TSS2 PRIVATE KEY") {
    const message = `${source} uses legacy OpenSSL PEM encryption, which is not supported`;
    return new InputError("PRIVATE_KEY_UNSUPPORTED", message, {
      hint: LEGACY_PEM_ENCRYPTION_HINT,
    });
  }
  const what = label === "CERTIFICATE" ? "certificates are never encrypted" : "this block is never encrypted";
  const message = `${source}: ${namePemBlock(label, "a PEM block")} is encrypted (Proc-Type: 4,ENCRYPTED)`;
  return new InputError("PEM_INVALID", `${message}, which is not supported`, {
    hint: `${what}: export it again without encryption`,
  });
}

function pemError(source: string, what: string): InputError {
  return new InputError("PEM_INVALID", `could not parse PEM data in ${source}: ${what}`, {
    hint: "the file may be truncated or edited; export it again",
  });
}
