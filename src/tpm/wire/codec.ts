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

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  u8(v: number): this {
    this.#reserve(1);
    this.#buf.writeUInt8(v, this.#len);
    this.#len += 1;
    return this;
  }

  u16(v: number): this {
    this.#reserve(2);
    this.#buf.writeUInt16BE(v, this.#len);
    this.#len += 2;
    return this;
  }

  u32(v: number): this {
    this.#reserve(4);
    this.#buf.writeUInt32BE(v >>> 0, this.#len);
    this.#len += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  get length(): number {
    return this.#len;
  }

  /** A copy of what was written; the internal buffer is wiped (it may have held a password). */
  finish(): Buffer {
    const out = Buffer.from(this.#buf.subarray(0, this.#len));
    this.#buf.fill(0);
    return out;
  }
}

export class Reader {
  #pos: number;
  readonly #end: number;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.#pos = start;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  get position(): number {
    return this.#pos;
  }

  #need(n: number, what: string): void {
    if (this.#pos + n > this.#end) throw new TpmWireError(`truncated ${what}: need ${n} bytes, ${this.remaining} left`);
  }

  u8(): number {
    this.#need(1, "UINT8");
    return this.buf[this.#pos++]!;
  }

  u16(): number {
    this.#need(2, "UINT16");
    const v = (this.buf[this.#pos]! << 8) | this.buf[this.#pos + 1]!;
    this.#pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4, "UINT32");
    const b = this.buf;
    const p = this.#pos;
    this.#pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** A copy of the next `n` bytes. */
  bytes(n: number, what = "buffer"): Buffer {
    this.#need(n, what);
    const out = Buffer.from(this.buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return out;
  }

  /** A reader over the next `n` bytes, advancing this one past them. */
  sub(n: number, what: string): Reader {
    this.#need(n, what);
    const r = new Reader(this.buf, this.#pos, this.#pos + n);
    this.#pos += n;
    return r;
  }

  /** Throws unless everything was consumed. */
  end(what: string): void {
    if (this.remaining !== 0) throw new TpmWireError(`${this.remaining} unexpected trailing bytes after ${what}`);
  }
}

export interface Codec<T> {
  readonly kind: string;
  write(w: Writer, value: T): void;
  read(r: Reader): T;
}

export type ValueOf<C> = C extends Codec<infer T> ? T : never;

/** A codec for a TPM2B_xxx whose data is an opaque byte string (parameter encryption applies to it). */
export interface SizedBufferCodec extends Codec<Buffer> {
  readonly kind: "tpm2b";
}

export const u8: Codec<number> = { kind: "u8", write: (w, v) => void w.u8(v), read: (r) => r.u8() };
export const u16: Codec<number> = { kind: "u16", write: (w, v) => void w.u16(v), read: (r) => r.u16() };
export const u32: Codec<number> = { kind: "u32", write: (w, v) => void w.u32(v), read: (r) => r.u32() };

/** TPM2B with raw content: UINT16 size, then the bytes. */
export const tpm2b: SizedBufferCodec = {
  kind: "tpm2b",
  write(w, v) {
    if (v.length > 0xffff) throw new TpmWireError(`TPM2B of ${v.length} bytes is too large`);
    w.u16(v.length).bytes(v);
  },
  read(r) {
    return r.bytes(r.u16(), "TPM2B");
  },
};

/** A TPM2B that carries a marshalled structure (TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE, TPM2B_ECC_POINT…). */
export function sized<T>(inner: Codec<T>): Codec<T> {
  return {
    kind: "sized",
    write(w, v) {
      const body = new Writer();
      inner.write(body, v);
      tpm2b.write(w, body.finish());
    },
    read(r) {
      const body = r.sub(r.u16(), "sized structure");
      const v = inner.read(body);
      body.end("sized structure");
      return v;
    },
  };
}

/** TPML_xxx: UINT32 count, then that many elements. */
export function list<T>(element: Codec<T>, maxCount = 1024): Codec<T[]> {
  return {
    kind: "list",
    write(w, v) {
      w.u32(v.length);
      for (const e of v) element.write(w, e);
    },
    read(r) {
      const n = r.u32();
      if (n > maxCount) throw new TpmWireError(`list of ${n} elements exceeds ${maxCount}`);
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(element.read(r));
      return out;
    },
  };
}

export type Fields = Record<string, Codec<any>>;
export type StructValue<F extends Fields> = { [K in keyof F]: ValueOf<F[K]> };

export interface StructCodec<F extends Fields> extends Codec<StructValue<F>> {
  readonly kind: "struct";
  readonly fields: F;
}

/** A structure: the fields in declaration order. */
export function struct<F extends Fields>(fields: F): StructCodec<F> {
  const entries = Object.entries(fields);
  return {
    kind: "struct",
    fields,
    write(w, v) {
      for (const [name, codec] of entries) codec.write(w, (v as Record<string, unknown>)[name]);
    },
    read(r) {
      const out: Record<string, unknown> = {};
      for (const [name, codec] of entries) out[name] = codec.read(r);
      return out as StructValue<F>;
    },
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
    kind: "variant",
    write(w, v) {
      const t = (v as Record<string, number>)[tagName]!;
      const c = pick(t);
      tag.write(w, t);
      c.write(w, v);
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
