/**
 * The TPM wire codec read from a hostile or broken TPM (a response is outside input: a proxy, a swapped device,
 * a buggy firmware) and written with secrets in it. Each case here is one a mutant of src/tpm/wire/codec.ts
 * survived before (npm run mutate -- src/tpm/wire/codec.ts).
 */
import { describe, expect, it, vi } from "vitest";
import {
  decode, encode, list, Reader, sized, struct, tpm2b, TpmWireError, u16, u8, variant, Writer,
} from "../../src/tpm/wire/codec.js";
import * as commands from "../../src/tpm/wire/commands.js";
import { TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE } from "../../src/tpm/wire/structures.js";

const wireError = (message: string) => expect.objectContaining({ name: "TpmWireError", message });

describe("Reader on a response cut short", () => {
  it("refuses each integer it cannot read whole, naming it (never undefined or Node's RangeError)", () => {
    expect(() => new Reader(Buffer.alloc(0)).u8()).toThrow(wireError("truncated UINT8: need 1 bytes, 0 left"));
    expect(() => new Reader(Buffer.alloc(1)).u16()).toThrow(wireError("truncated UINT16: need 2 bytes, 1 left"));
    expect(() => new Reader(Buffer.alloc(3)).u32()).toThrow(wireError("truncated UINT32: need 4 bytes, 3 left"));
    expect(new Reader(Buffer.from([7])).u8()).toBe(7);
  });

  it("refuses a TPM2B whose size runs past the end, instead of reading the bytes that are there", () => {
    const cut = Buffer.from([0x00, 0x05, 1, 2, 3]);
    expect(() => decode(tpm2b, cut, "outPublic")).toThrow(TpmWireError);
    expect(() => decode(tpm2b, cut, "outPublic")).toThrow(wireError("truncated TPM2B: need 5 bytes, 3 left"));
    expect(decode(tpm2b, Buffer.from([0x00, 0x03, 1, 2, 3]), "outPublic")).toEqual(Buffer.from([1, 2, 3]));
  });

  it("refuses a sized structure whose inner bytes are too many or too few for it", () => {
    const pair = sized(struct({ a: u16, b: u8 }));
    expect(decode(pair, Buffer.from([0x00, 0x03, 0x12, 0x34, 0x56]), "x")).toEqual({ a: 0x1234, b: 0x56 });
    expect(() => decode(pair, Buffer.from([0x00, 0x04, 0x12, 0x34, 0x56, 0x78]), "x"))
      .toThrow(wireError("1 unexpected trailing bytes after sized structure"));
    expect(() => decode(pair, Buffer.from([0x00, 0x02, 0x12, 0x34]), "x"))
      .toThrow(wireError("truncated UINT8: need 1 bytes, 0 left"));
    expect(() => decode(pair, Buffer.from([0x00, 0x09, 0x12]), "x"))
      .toThrow(wireError("truncated sized structure: need 9 bytes, 1 left"));
  });
});

describe("bounds a hostile TPM cannot move", () => {
  it("a TPML count over its maximum is refused before any element is read; the maximum itself is read", () => {
    const three = list(u8, 3);
    expect(decode(three, Buffer.from([0, 0, 0, 3, 1, 2, 3]), "l")).toEqual([1, 2, 3]);
    expect(() => decode(three, Buffer.from([0, 0, 0, 4, 1, 2, 3, 4]), "l"))
      .toThrow(wireError("list of 4 elements exceeds 3"));
    // 2^32 - 1 elements announced in 4 bytes: refused at once, not read one by one until the bytes run out.
    expect(() => decode(list(u8), Buffer.from([0xff, 0xff, 0xff, 0xff]), "l"))
      .toThrow(wireError("list of 4294967295 elements exceeds 1024"));
  });

  it("a selector the codec does not know is refused when read and when written", () => {
    const scheme = variant("signature scheme", "sigAlg", { 0x18: struct({ hash: u16 }) });
    expect(decode(scheme, Buffer.from([0x00, 0x18, 0x00, 0x0b]), "s")).toEqual({ sigAlg: 0x18, hash: 0x0b });
    const unknown = wireError("unsupported signature scheme selector 0x0014");
    expect(() => decode(scheme, Buffer.from([0x00, 0x14, 0x00, 0x0b]), "s")).toThrow(unknown);
    expect(() => encode(scheme, { sigAlg: 0x14 as 0x18, hash: 0x0b })).toThrow(unknown);
  });

  it("a TPM2B of more than 65,535 bytes is refused when written (its size field would wrap); 65,535 is written", () => {
    expect(() => encode(tpm2b, Buffer.alloc(0x10000))).toThrow(wireError("TPM2B of 65536 bytes is too large"));
    expect(encode(tpm2b, Buffer.alloc(0xffff)).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xff]));
  });
});

describe("Writer", () => {
  it("grows past its first 256 bytes, in one large write and in many small ones, keeping every byte", () => {
    const big = Buffer.from(Array.from({ length: 700 }, (_, i) => i & 0xff));
    expect(new Writer().u8(9).bytes(big).finish()).toEqual(Buffer.concat([Buffer.from([9]), big]));
    const w = new Writer();
    for (let i = 0; i < 300; i++) w.u16(i);
    const out = w.finish();
    expect(out).toHaveLength(600);
    expect(out.readUInt16BE(598)).toBe(299);
  });

  it("wipes its own buffer when finished: a command's bytes may hold a password", () => {
    const fill = vi.spyOn(Buffer.prototype, "fill");
    try {
      const out = new Writer().bytes(Buffer.from("key-password")).finish();
      expect(out.toString()).toBe("key-password");
      const wiped = fill.mock.contexts.find((b) => b.length === 256) as Buffer | undefined;
      expect(fill.mock.calls.some(([value]) => value === 0)).toBe(true);
      expect(wiped?.equals(Buffer.alloc(256))).toBe(true);
    } finally {
      fill.mockRestore();
    }
  });
});

describe("sized first parameters (parameter encryption applies only to them)", () => {
  it("TPM2B codecs say they are sized; plain integers and structures do not", () => {
    expect([tpm2b.sized, TPM2B_PUBLIC.sized, TPM2B_SENSITIVE_CREATE.sized]).toEqual([true, true, true]);
    expect([u16.sized, struct({ a: u8 }).sized]).toEqual([undefined, undefined]);
  });

  it("Create's and CreatePrimary's key password (inSensitive) and Load's private part can be encrypted", () => {
    for (const c of [commands.Create, commands.CreatePrimary, commands.Load, commands.Sign, commands.PolicyPCR]) {
      expect([c.name, c.firstParamIsSized]).toEqual([c.name, true]);
    }
    for (const c of [commands.Startup, commands.FlushContext, commands.EvictControl, commands.ReadPublic]) {
      expect([c.name, c.firstParamIsSized]).toEqual([c.name, false]);
    }
    const responses = [commands.Create, commands.ReadPublic, commands.Sign, commands.ReadClock];
    expect(responses.map((c) => c.firstResponseParamIsSized)).toEqual([true, true, false, false]);
  });
});
