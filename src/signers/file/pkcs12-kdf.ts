import { createHash } from "node:crypto";
import { secretBytes, secretConcat } from "../../secrets/secret-bytes.js";

/** Hashes the PKCS#12 KDF and MAC may use, with their output (u) and block (v) sizes in bytes. */
export const PKCS12_HASHES = {
  sha1: { u: 20, v: 64 },
  sha224: { u: 28, v: 64 },
  sha256: { u: 32, v: 64 },
  sha384: { u: 48, v: 128 },
  sha512: { u: 64, v: 128 },
} as const;

export type Pkcs12Hash = keyof typeof PKCS12_HASHES;

/** The KDF's diversifier: what the derived bytes are for (RFC 7292 B.3). */
export const PKCS12_KEY_ID = { key: 1, iv: 2, mac: 3 } as const;

/** Iterations between two returns to the event loop (~20 ms of hashing): see pkcs12DeriveBytes. */
const ITERATIONS_PER_SLICE = 16_384;

/**
 * The PKCS#12 key derivation function of RFC 7292 appendix B.2, `password` already encoded by bmpPassword (or zero
 * bytes for "no password"). node:crypto has no such KDF; one hash per iteration costs ~1.3 µs and a file may ask for
 * 1,000,000 (MAX_PKCS12_KDF_ITERATIONS, ~1.3 s, three runs for a legacy bag), so the loop yields to the event loop and
 * an agent reading such a file keeps serving its other profiles. Files with OpenSSL's 2048 never wait.
 */
export async function pkcs12DeriveBytes(
  hash: Pkcs12Hash,
  password: Buffer,
  salt: Buffer,
  iterations: number,
  id: number,
  length: number,
): Promise<Buffer> {
  const { u, v } = PKCS12_HASHES[hash];
  const diversifier = Buffer.alloc(v, id);
  // `data` repeated to a whole number of v-byte blocks.
  const fill = (data: Buffer) => {
    const out = secretBytes(v * Math.ceil(data.length / v));
    for (let at = 0; at < out.length; at += data.length) out.set(data.subarray(0, out.length - at), at);
    return out;
  };
  // Every copy of the password, and every hash of the chain (hashing one on gives the key), is wiped.
  const repeated = fill(password);
  const input = secretConcat([fill(salt), repeated]);
  repeated.fill(0);
  const blocks = Math.ceil(length / u);
  const output = secretBytes(blocks * u);
  for (let i = 0; i < blocks; i++) {
    let a = createHash(hash).update(diversifier).update(input).digest();
    for (let r = 1; r < iterations; r++) {
      const next = createHash(hash).update(a).digest();
      a.fill(0);
      a = next;
      if (r % ITERATIONS_PER_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    a.copy(output, i * u);
    const b = i === blocks - 1 ? undefined : fill(a);
    a.fill(0);
    if (b === undefined) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I, where B is A repeated to v bytes.
    for (let j = 0; j < input.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = input[j + k]! + b[k]! + carry;
        input[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
    b.fill(0);
  }
  input.fill(0);
  output.fill(0, length);
  return output.subarray(0, length);
}

/**
 * RFC 7292's password encoding: UTF-16BE plus a two-byte NUL terminator, written from the UTF-8 bytes into one Buffer
 * the caller wipes (a JS string of the password could not be wiped). Bytes that are not UTF-8 (a surrogate's too)
 * are taken one each as U+0000–U+00FF, as OpenSSL does (OPENSSL_utf82uni), so a file it wrote with such a password
 * opens.
 */
export function bmpPassword(utf8: Buffer): Buffer {
  // A unit per byte at most: 4 bytes give a surrogate pair.
  const out = secretBytes(2 * utf8.length + 2);
  let o = 0;
  for (let i = 0; i < utf8.length; ) {
    const lead = utf8[i]!;
    const n = lead < 0x80 ? 1 : lead < 0xc0 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf8 ? 4 : 0;
    let c = n === 1 ? lead : lead & (0x7f >> n);
    for (let k = 1; k < n; k++) {
      const next = utf8[i + k];
      c = next !== undefined && (next & 0xc0) === 0x80 ? (c << 6) | (next & 0x3f) : -1;
      if (c < 0) break;
    }
    if (n === 0 || c < [0, 0, 0x80, 0x800, 0x10000][n]! || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
      for (let k = 0; k < utf8.length; k++) out.writeUInt16BE(utf8[k]!, 2 * k);
      out.fill(0, 2 * utf8.length);
      return out.subarray(0, 2 * utf8.length + 2);
    }
    if (c >= 0x10000) {
      out.writeUInt16BE(0xd800 + ((c - 0x10000) >> 10), o);
      c = 0xdc00 + ((c - 0x10000) & 0x3ff);
      o += 2;
    }
    out.writeUInt16BE(c, o);
    o += 2;
    i += n;
  }
  return out.subarray(0, o + 2);
}
