/**
 * What a reader leaves in memory: every Buffer it made (Buffer.from, alloc…), every typed-array copy (asn1js's
 * `slice`, @peculiar's `new Uint8Array(n).set(…)`) and, when asked, every input the ASN.1 parser read in place
 * (`copyInput: false`); or every string it made of a Buffer. For the wiping tests: none may still hold a secret.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { vi } from "vitest";

/** How many of the copies made while `read` ran still hold `secret` once it is done, and its result. */
export async function copiesHolding<T>(secret: Buffer, read: () => Promise<T>, { asn1Inputs = false } = {}): Promise<{ result: T; left: number }> {
  mapCallersSourceNow();
  const made: Uint8Array[] = [];
  const typed = Object.getPrototypeOf(Uint8Array.prototype) as { slice: (...a: unknown[]) => Uint8Array; set: (...a: unknown[]) => void };
  const { slice, set } = typed;
  typed.slice = function (this: Uint8Array, ...a: unknown[]) {
    const copy = slice.apply(this, a);
    made.push(copy);
    return copy;
  };
  typed.set = function (this: Uint8Array, ...a: unknown[]) {
    set.apply(this, a);
    made.push(this);
  };
  const spies = watchBufferMakers(["alloc", "allocUnsafe", "allocUnsafeSlow", "from"], made);
  const parse = AsnConvert.parse.bind(AsnConvert);
  const parsed = asn1Inputs
    ? vi.spyOn(AsnConvert, "parse").mockImplementation(((data: ArrayBuffer | ArrayBufferView, ...rest: unknown[]) => {
        made.push(ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data));
        return (parse as (...a: unknown[]) => unknown)(data, ...rest);
      }) as never)
    : undefined;
  let result: T;
  try {
    result = await read();
  } finally {
    Object.assign(typed, { slice, set });
    spies.forEach((spy) => spy.mockRestore());
    parsed?.mockRestore();
  }
  const holds = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).indexOf(secret) >= 0;
  return { result, left: made.filter(holds).length };
}

/** Every string made of a Buffer (toString and its latin1, utf8 and ascii slices) while `run` ran, and its result. */
export async function stringsMadeBy<T>(run: () => Promise<T>): Promise<{ result: T; strings: string[] }> {
  mapCallersSourceNow();
  const strings: string[] = [];
  const spies = (["latin1Slice", "utf8Slice", "asciiSlice", "toString"] as const).map((method) => {
    const original = Buffer.prototype[method] as (...a: unknown[]) => string;
    return vi.spyOn(Buffer.prototype, method).mockImplementation(function (this: Buffer, ...a: unknown[]) {
      const text = original.apply(this, a);
      strings.push(text);
      return text;
    });
  });
  try {
    return { result: await run(), strings };
  } finally {
    spies.forEach((spy) => spy.mockRestore());
  }
}

/** Every buffer Buffer.from/alloc/allocUnsafe made while `fn` ran (its result or error with them). */
export async function buffersMadeBy<T>(fn: () => T | Promise<T>): Promise<{ made: Buffer[]; result?: T; error?: unknown }> {
  const made: Buffer[] = [];
  const spies = watchBufferMakers(["alloc", "allocUnsafe", "from"], made);
  try {
    return { made, result: await fn() };
  } catch (error) {
    return { made, error };
  } finally {
    spies.forEach((spy) => spy.mockRestore());
  }
}

/**
 * Vitest maps the first stack that shows a test file through that file's source map, which holds the file's source
 * and so any secret it writes as a literal. Mapping the callers' stack before the watch keeps that copy out of it.
 */
function mapCallersSourceNow(): void {
  void new Error("maps the calling test files' source now").stack;
}

/** Spies on Buffer's makers `methods`, pushing each Buffer made onto `made`; restore them with mockRestore(). */
function watchBufferMakers(methods: readonly ("alloc" | "allocUnsafe" | "allocUnsafeSlow" | "from")[], made: Uint8Array[]) {
  return methods.map((method) => {
    const original = Buffer[method] as (...a: unknown[]) => Buffer;
    return vi.spyOn(Buffer, method).mockImplementation(((...a: unknown[]) => {
      const buffer = original.apply(Buffer, a);
      made.push(buffer);
      return buffer;
    }) as never);
  });
}
