/**
 * Declarative TPM 2.0 marshalling: a structure is a list of named fields, each with a codec; one generic
 * writer/reader pair handles every structure and command. All integers are big-endian, nothing is padded.
 */

/** A structure on the wire was malformed (truncated, trailing bytes, unknown selector, oversized list). */
export class TpmWireError extends Error {
  override readonly name = "TpmWireError";
}

export class Writer {
  #buf = Buffer.alloc(256);
  #len = 0;

  #put(n: number, write: (buf: Buffer, offset: number) => void): this {
    if (this.#len + n > this.#buf.length) {
      const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.#len + n));
      this.#buf.copy(next, 0, 0, this.#len);
      this.#buf = next;
    }
    write(this.#buf, this.#len);
    this.#len += n;
    return this;
  }

  u8(v: number): this {
    return this.#put(1, (b, o) => b.writeUInt8(v, o));
  }

  u16(v: number): this {
    return this.#put(2, (b, o) => b.writeUInt16BE(v, o));
  }

  u32(v: number): this {
    return this.#put(4, (b, o) => b.writeUInt32BE(v >>> 0, o));
  }

  bytes(v: Uint8Array): this {
    return this.#put(v.length, (b, o) => b.set(v, o));
  }

  /** A copy of what was written; the internal buffer is wiped (it may have held a password). */
  finish(): Buffer {
    const out = Buffer.from(this.#buf.subarray(0, this.#len));
    this.#buf.fill(0);
    return out;
  }
}

export class Reader {
  readonly #buf: Buffer;
  #pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  /** Moves past the next `n` bytes and returns where they start. */
  #advance(n: number, what: string): number {
    if (n > this.remaining) throw new TpmWireError(`truncated ${what}: need ${n} bytes, ${this.remaining} left`);
    this.#pos += n;
    return this.#pos - n;
  }

  u8(): number {
    return this.#buf[this.#advance(1, "UINT8")]!;
  }

  u16(): number {
    return this.#buf.readUInt16BE(this.#advance(2, "UINT16"));
  }

  u32(): number {
    return this.#buf.readUInt32BE(this.#advance(4, "UINT32"));
  }

  /** A copy of the next `n` bytes. */
  bytes(n: number, what = "buffer"): Buffer {
    const p = this.#advance(n, what);
    return Buffer.from(this.#buf.subarray(p, p + n));
  }

  end(what: string): void {
    if (this.remaining !== 0) throw new TpmWireError(`${this.remaining} unexpected trailing bytes after ${what}`);
  }
}

export interface Codec<T> {
  write(w: Writer, value: T): void;
  read(r: Reader): T;
  /** A TPM2B: parameter encryption applies to its data when it is a command's or response's first parameter. */
  readonly sized?: boolean;
}

export type ValueOf<C> = C extends Codec<infer T> ? T : never;

export const u8: Codec<number> = { write: (w, v) => void w.u8(v), read: (r) => r.u8() };
export const u16: Codec<number> = { write: (w, v) => void w.u16(v), read: (r) => r.u16() };
export const u32: Codec<number> = { write: (w, v) => void w.u32(v), read: (r) => r.u32() };

/** TPM2B with raw content: UINT16 size, then the bytes. */
export const tpm2b: Codec<Buffer> = {
  sized: true,
  write(w, v) {
    if (v.length > 0xffff) throw new TpmWireError(`TPM2B of ${v.length} bytes is too large`);
    w.u16(v.length).bytes(v);
  },
  read: (r) => r.bytes(r.u16(), "TPM2B"),
};

/** A TPM2B that carries a marshalled structure (TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE, TPM2B_ECC_POINT…). */
export function sized<T>(inner: Codec<T>): Codec<T> {
  return {
    sized: true,
    write: (w, v) => tpm2b.write(w, encode(inner, v)),
    read: (r) => decode(inner, r.bytes(r.u16(), "sized structure"), "sized structure"),
  };
}

/** TPML_xxx: UINT32 count, then that many elements. */
export function list<T>(element: Codec<T>, maxCount = 1024): Codec<T[]> {
  return {
    write(w, v) {
      w.u32(v.length);
      for (const e of v) element.write(w, e);
    },
    read(r) {
      const n = r.u32();
      if (n > maxCount) throw new TpmWireError(`list of ${n} elements exceeds ${maxCount}`);
      return Array.from({ length: n }, () => element.read(r));
    },
  };
}

export type Fields = Record<string, Codec<any>>;
export type StructValue<F extends Fields> = { [K in keyof F]: ValueOf<F[K]> };

/** A structure: the fields in declaration order. */
export function struct<F extends Fields>(fields: F): Codec<StructValue<F>> {
  const entries = Object.entries(fields);
  return {
    write(w, v) {
      for (const [name, codec] of entries) codec.write(w, (v as Record<string, unknown>)[name]);
    },
    read: (r) => Object.fromEntries(entries.map(([name, codec]) => [name, codec.read(r)])) as StructValue<F>,
  };
}

export const empty = struct({});

/** The same codec for several selectors of a variant. */
export function each<const A extends readonly number[], C extends Codec<any>>(codec: C, ...selectors: A): { [T in A[number]]: C } {
  return Object.fromEntries(selectors.map((t) => [t, codec])) as { [T in A[number]]: C };
}

type VariantValue<K extends string, V extends Record<number, Codec<any>>> = {
  [T in keyof V & number]: { [P in K]: T } & ValueOf<V[T]>;
}[keyof V & number];

/**
 * A tagged union (TPMT_xxx with its TPMU_xxx): a selector (UINT16 unless given), then the fields chosen by it.
 * The selector appears in the value under `tagName`, so TypeScript narrows on it; unknown selectors are rejected.
 */
export function variant<K extends string, V extends Record<number, Codec<any>>>(
  what: string,
  tagName: K,
  variants: V,
  tag: Codec<number> = u16,
): Codec<VariantValue<K, V>> {
  const pick = (t: number): Codec<any> => {
    const c = (variants as Record<number, Codec<any>>)[t];
    if (!c) throw new TpmWireError(`unsupported ${what} selector 0x${t.toString(16).padStart(4, "0")}`);
    return c;
  };
  return {
    write(w, v) {
      const t = (v as Record<string, number>)[tagName]!;
      tag.write(w, t);
      pick(t).write(w, v);
    },
    read(r) {
      const t = tag.read(r);
      const value = pick(t).read(r) as Record<string, unknown>;
      return { [tagName]: t, ...value } as VariantValue<K, V>;
    },
  };
}

export function encode<T>(codec: Codec<T>, value: T): Buffer {
  const w = new Writer();
  codec.write(w, value);
  return w.finish();
}

/** Decodes a whole buffer; trailing bytes are an error. */
export function decode<T>(codec: Codec<T>, bytes: Uint8Array, what: string): T {
  const r = new Reader(bytes);
  const v = codec.read(r);
  r.end(what);
  return v;
}
