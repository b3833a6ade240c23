import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeOid, readSingle, TAG } from "../../src/encoding/der.js";
import { derFromBer, derOid, derTlv, derUnsignedInteger } from "../../src/encoding/der-writer.js";
import { withoutLeadingZeros } from "../../src/encoding/bytes.js";
import { encode, u16, u32 } from "../../src/tpm/wire/codec.js";

describe("DER writer", () => {
  it("writes minimal definite lengths", () => {
    const header = (n: number) => derTlv(0x04, Buffer.alloc(n)).subarray(0, -n || undefined).toString("hex");
    expect(header(0)).toBe("0400");
    expect(header(0x7f)).toBe("047f");
    expect(header(0x80)).toBe("048180");
    expect(header(0xff)).toBe("0481ff");
    expect(header(0x100)).toBe("04820100");
    expect(header(0x10000)).toBe("0483010000");
  });

  it("writes elements the reader reads back, whatever their size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70_000 }), (n) => {
        const content = Buffer.alloc(n, 0xab);
        const el = readSingle(derTlv(TAG.OCTET_STRING, content), TAG.OCTET_STRING);
        expect(el.content.equals(content)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it("writes OIDs the reader decodes to the same dotted form", () => {
    for (const oid of ["1.2.840.10045.3.1.7", "2.16.840.1.101.3.4.3.17", "0.9.2342.19200300.100.1.25", "2.23.133.10.1.3"]) {
      expect(decodeOid(readSingle(derOid(oid)))).toBe(oid);
    }
    expect(derOid("1.2.840.10045.3.1.7").toString("hex")).toBe("06082a8648ce3d030107");
  });

  it("reads OID arcs beyond 2^53 exactly (2.25.<UUID>), and refuses an arc of more than 20 bytes", () => {
    // Before: 'OID arc too large' for any arc above 2^46, so a certificate naming a UUID attribute could not be read.
    const uuid = 329800735698586629295641978511506172918n;
    const arc = (n: bigint): number[] => {
      const out = [Number(n & 0x7fn)];
      for (let v = n >> 7n; v > 0n; v >>= 7n) out.unshift(Number(v & 0x7fn) | 0x80);
      return out;
    };
    const oid = (...bytes: number[]) => decodeOid(readSingle(Buffer.from([TAG.OID, bytes.length, ...bytes])));
    expect(oid(0x69, ...arc(uuid))).toBe(`2.25.${uuid}`);
    expect(oid(...arc(2n ** 60n + 80n))).toBe(`2.${2n ** 60n}`);
    expect(oid(0x2a, ...arc(2n ** 53n + 1n))).toBe(`1.2.${2n ** 53n + 1n}`);
    expect(() => oid(0x2a, ...arc(2n ** 140n))).toThrow("OID arc too large");
  });

  it("writes unsigned INTEGERs with no leading zeros and a sign octet where the top bit is set", () => {
    expect(derUnsignedInteger(Buffer.from([0, 0, 0x7f])).toString("hex")).toBe("02017f");
    expect(derUnsignedInteger(Buffer.from([0x81, 0, 0, 1])).toString("hex")).toBe("02050081000001");
    expect(derUnsignedInteger(Buffer.from([0, 0])).toString("hex")).toBe("020100");
    expect(derUnsignedInteger(Buffer.alloc(0)).toString("hex")).toBe("020100");
  });
});

describe("byte helpers", () => {
  it("writes big-endian u16 and u32 and strips leading zeros down to one byte", () => {
    expect(encode(u16, 0x000b).toString("hex")).toBe("000b");
    expect(encode(u32, 0x81000001).toString("hex")).toBe("81000001");
    expect(() => encode(u16, 0x10000)).toThrow(RangeError);
    expect(withoutLeadingZeros(Buffer.from([0, 0, 1, 0])).toString("hex")).toBe("0100");
    expect(withoutLeadingZeros(Buffer.from([0, 0])).toString("hex")).toBe("00");
  });
});

describe("derFromBer, bound by bound (found by mutation testing)", () => {
  const hex = (text: string) => Buffer.from(text.replaceAll(" ", ""), "hex");
  const nested = (levels: number) =>
    Buffer.concat([Buffer.from("3080".repeat(levels), "hex"), Buffer.alloc(2 * levels)]);

  it("joins OCTET STRING pieces, refuses a piece of another type, keeps what follows", () => {
    expect(derFromBer(hex("24 80 04 01 aa 04 01 bb 00 00 ff"))).toEqual(hex("04 02 aa bb ff"));
    expect(() => derFromBer(hex("24 80 02 01 01 00 00"))).toThrow("a piece of an OCTET STRING that is not one");
    expect(() => derFromBer(hex("04 80 00 00"))).toThrow("an indefinite length on a primitive element");
  });

  it("reads 33 levels of nesting and 10,000 elements, not one more", () => {
    expect(derFromBer(nested(33)).length).toBe(2 * 33);
    expect(() => derFromBer(nested(34))).toThrow("BER nested more than 32 deep");
    const nulls = (n: number) => Buffer.concat([hex("30 80"), Buffer.alloc(2 * n, hex("05 00")), hex("00 00")]);
    expect(derFromBer(nulls(9_999)).length).toBe(4 + 2 * 9_999);
    expect(() => derFromBer(nulls(10_000))).toThrow("more than 10,000 elements");
  });
});
