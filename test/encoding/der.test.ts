/**
 * The DER reader's boundaries, one by one. The differential fuzzer finds them by chance; these fail on the exact
 * line (found by mutation testing: a mutant moving a bound by one survived the unit suite).
 */
import { describe, expect, it } from "vitest";
import {
  assertDerForm, children, decodeAlgorithmIdentifier, decodeSignedInteger, decodeOid, decodeSmallInteger, DerError, leadingChildren, malformedPrimitive,
  readElement, readSingle, unlessMalformed,
} from "../../src/encoding/der.js";

const hex = (text: string) => Buffer.from(text.replaceAll(" ", ""), "hex");
const element = (text: string) => readSingle(hex(text));

describe("readElement", () => {
  it("reads a two-byte element that ends the buffer, and one at an offset", () => {
    expect(readElement(hex("0500"))).toMatchObject({ tag: 0x05, content: Buffer.alloc(0) });
    expect(readElement(hex("ff 04 01 aa"), 1).content).toEqual(hex("aa"));
  });

  // Non-minimal long forms (81 01) are read as OpenSSL reads them (`openssl asn1parse` accepts 04 84 00 00 00 01 aa);
  // strict DER would refuse them. This pins today's leniency, it does not endorse it.
  it("reads long-form lengths of one to four bytes, minimal or not", () => {
    expect(readElement(hex("04 81 01 aa")).content).toEqual(hex("aa"));
    expect(readElement(hex("04 81 00")).raw).toEqual(hex("04 81 00"));
    expect(readElement(hex("04 84 00 00 00 01 aa")).content).toEqual(hex("aa"));
    expect(readElement(hex(`04 82 01 00 ${"00".repeat(256)}`)).content.length).toBe(256);
  });

  it.each([
    ["one byte", "04", "truncated DER header"],
    ["a multi-byte tag", "1f 00", "multi-byte DER tags"],
    ["an indefinite length", "30 80 00 00", "indefinite length"],
    ["a five-byte length", "04 85 00 00 00 00 01 aa", "a 5-byte length field"],
    ["a length field cut short", "04 82 01", "truncated DER length"],
    ["a NULL with content", "05 01 00", "a NULL with content"],
    ["content cut short", "04 02 aa", "longer than its container"],
  ])("refuses %s", (_, text, message) => {
    expect(() => readElement(hex(text))).toThrow(new RegExp(message));
    expect(() => readElement(hex(text))).toThrow(DerError);
  });
});

describe("readSingle and children", () => {
  it("refuses trailing bytes and a wrong tag", () => {
    expect(() => readSingle(hex("0400 00"))).toThrow("trailing data");
    expect(() => readSingle(hex("0400"), 0x30)).toThrow("expected DER tag 0x30, found 0x4");
  });

  it("lists the children up to max, and refuses more or a primitive", () => {
    const seq = element("30 06 02 01 01 02 01 02");
    expect(children(seq, 2).map((c) => c.content[0])).toEqual([1, 2]);
    expect(() => children(seq, 1)).toThrow("2 elements where at most 1 belong");
    expect(() => children(element("04 00"))).toThrow("DER tag 0x4 is not constructed");
  });

  it("leadingChildren reads the first n children and nothing after them (Go's parser stops there too)", () => {
    const seq = element("30 06 02 01 01 02 01 02");
    expect(leadingChildren(seq, 1).map((c) => c.content[0])).toEqual([1]);
    expect(leadingChildren(seq, 3).map((c) => c.content[0])).toEqual([1, 2]);
    expect(leadingChildren(element("30 04 02 01 01 ff"), 1).map((c) => c.content[0])).toEqual([1]); // ff is not read
    expect(() => leadingChildren(element("30 04 02 01 01 ff"), 2)).toThrow(DerError);
    expect(leadingChildren(element("30 00"), 2)).toEqual([]);
    expect(() => leadingChildren(element("04 00"), 1)).toThrow("DER tag 0x4 is not constructed");
  });

  it("unlessMalformed turns only a DerError into undefined", () => {
    expect(unlessMalformed(() => readSingle(hex("04")))).toBeUndefined();
    expect(() => unlessMalformed(() => { throw new TypeError("x"); })).toThrow(TypeError);
  });
});

describe("decodeOid", () => {
  it("splits the first byte into two arcs, below 80 and from 80 on", () => {
    expect(decodeOid(element("06 03 2a 86 48"))).toBe("1.2.840");
    expect(decodeOid(element("06 01 27"))).toBe("0.39");
    expect(decodeOid(element("06 01 4f"))).toBe("1.39");
    expect(decodeOid(element("06 01 50"))).toBe("2.0");
    expect(decodeOid(element("06 02 88 37"))).toBe("2.999");
  });

  it("reads an arc beyond 2^53 exactly (2.25.<UUID>)", () => {
    const arc = 2n ** 127n + 5n;
    const bytes: number[] = [];
    for (let v = arc; v > 0n; v >>= 7n) bytes.unshift(Number(v & 0x7fn) | (bytes.length === 0 ? 0 : 0x80));
    const der = Buffer.from([0x06, bytes.length + 1, 0x69, ...bytes]);
    expect(decodeOid(readSingle(der))).toBe(`2.25.${arc}`);
  });

  it.each([
    ["empty", "06 00", "empty OID"],
    ["a leading 0x80", "06 02 80 01", "leading 0x80"],
    ["an arc of 21 bytes", `06 16 2a ${"81".repeat(20)}01`, "OID arc too large"],
    ["a last byte with its top bit", "06 02 2a 81", "truncated OID"],
  ])("refuses %s", (_, text, message) => {
    expect(() => decodeOid(element(text))).toThrow(message);
  });

  it("accepts an arc of 20 bytes", () => {
    expect(decodeOid(element(`06 15 2a ${"81".repeat(19)}01`))).toMatch(/^1\.2\.\d+$/);
  });
});

describe("decodeSmallInteger", () => {
  it("reads 0, 0x80 (with its zero byte) and 2^53 - 1", () => {
    expect(decodeSmallInteger(element("02 01 00"))).toBe(0);
    expect(decodeSmallInteger(element("02 02 00 80"))).toBe(128);
    expect(decodeSmallInteger(element("02 07 1f ff ff ff ff ff ff"))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    ["empty", "02 00", "negative or empty"],
    ["negative", "02 01 80", "negative or empty"],
    ["a needless leading zero", "02 02 00 7f", "leading zero"],
    ["2^53", "02 07 20 00 00 00 00 00 00", "too large"],
  ])("refuses %s", (_, text, message) => {
    expect(() => decodeSmallInteger(element(text))).toThrow(message);
  });
});

describe("decodeAlgorithmIdentifier and malformedPrimitive", () => {
  it("reads the OID with or without parameters, and refuses a third element", () => {
    const bare = decodeAlgorithmIdentifier(element("30 05 06 03 2a 86 48"));
    expect(bare).toMatchObject({ oid: "1.2.840", parameters: undefined });
    expect(decodeAlgorithmIdentifier(element("30 07 06 03 2a 86 48 05 00")).parameters?.tag).toBe(0x05);
    expect(() => decodeAlgorithmIdentifier(element("30 09 06 03 2a 86 48 05 00 05 00"))).toThrow("at most 2");
    expect(() => decodeAlgorithmIdentifier(element("30 07 06 03 2a 86 48 02 00"))).toThrow(
      "AlgorithmIdentifier parameters that are an empty or non-minimal INTEGER",
    );
  });

  it.each([
    ["02 00", "an empty or non-minimal INTEGER"],
    ["02 02 00 7f", "an empty or non-minimal INTEGER"],
    ["02 02 ff 80", "an empty or non-minimal INTEGER"],
    ["0a 02 00 01", "an empty or non-minimal INTEGER"],
    ["01 02 00 00", "a BOOLEAN that is not one byte"],
    ["01 00", "a BOOLEAN that is not one byte"],
    ["03 00", "a BIT STRING without its unused-bits count"],
    ["03 02 08 00", "a BIT STRING without its unused-bits count"],
    ["06 02 2a 81", "a malformed OID"],
    ["1e 03 00 41 00", "a truncated string"],
    ["1c 02 00 00", "a truncated string"],
    ["21 00", "a constructed form of a primitive type"],
    ["22 00", "a constructed form of a primitive type"],
    ["25 00", "a constructed form of a primitive type"],
    ["26 00", "a constructed form of a primitive type"],
    ["2a 00", "a constructed form of a primitive type"],
  ])("malformedPrimitive(%s): %s", (text, problem) => {
    expect(malformedPrimitive(element(text))).toBe(problem);
  });

  it.each(["02 01 00", "02 02 00 80", "02 02 ff 7f", "02 01 ff", "01 01 ff", "03 01 00", "03 02 07 80", "06 01 2a",
    "1e 02 00 41", "1c 04 00 00 00 41", "05 00", "30 00", "04 00"])("malformedPrimitive(%s): well formed", (text) => {
    expect(malformedPrimitive(element(text))).toBeUndefined();
  });
});

describe("assertDerForm", () => {
  it.each([
    ["30 04 02 02 00 7f", "an empty or non-minimal INTEGER"],
    ["30 09 30 03 02 01 00 02 02 ff 80", "an empty or non-minimal INTEGER"],
    ["30 04 03 02 07 81", "a BIT STRING whose unused bits are not zero"],
    ["30 04 03 02 01 01", "a BIT STRING whose unused bits are not zero"],
    ["30 05 03 03 01 00 ff", "a BIT STRING whose unused bits are not zero"],
    ["30 03 03 01 07", "a BIT STRING whose unused bits are not zero"],
    ["30 03 03 01 01", "a BIT STRING whose unused bits are not zero"],
    ["30 04 03 02 08 00", "a BIT STRING without its unused-bits count"],
    ["30 02 03 00", "a BIT STRING without its unused-bits count"],
  ])("refuses %s: %s", (text, problem) => {
    expect(() => assertDerForm(element(text))).toThrow(new DerError(problem, "form"));
  });

  it.each(["30 03 02 01 00", "30 04 02 02 00 80", "30 04 02 02 ff 7f", "30 03 02 01 ff", "30 04 04 02 00 7f",
    "30 03 03 01 00", "30 04 03 02 07 80", "30 04 03 02 01 fe", "30 04 03 02 00 ff", "30 05 03 03 01 ff fe",
    // A BOOLEAN FALSE; an OID (decodeOid reads it where it is used: this walk does not, even one cut short); a
    // multi-byte tag, which ends its container's walk.
    "30 03 01 01 00", "30 04 06 02 2a 81",
    "30 03 1f 01 00"])(
    "takes %s", (text) => {
      expect(() => assertDerForm(element(text))).not.toThrow();
    },
  );
});

it("decodeSignedInteger: no bytes are 0, 80 is -128, 00 80 is 128", () => {
  expect([Buffer.alloc(0), hex("80"), hex("0080")].map((b) => decodeSignedInteger(b))).toEqual([0n, -128n, 128n]);
});

describe("DerError's kind", () => {
  const kind = (read: () => unknown) => {
    try {
      read();
    } catch (e) {
      return e instanceof DerError ? e.kind : e;
    }
    return "none";
  };

  // "value" is what Certificate says Go's parser refuses in valid DER; bytes that are not the structure have none.
  it("is form for an encoding DER forbids (what Certificate names as is), none for malformed bytes", () => {
    for (const text of ["30 80 00 00", "30 85 00 00 00 00 00", "05 01 00"]) expect(kind(() => readElement(hex(text)))).toBe("form");
    for (const text of ["30 81 00", "10 00", "11 00", "2c 00", "01 01 01", "01 02 ff ff", "02 02 00 01", "03 02 01 01", "03 01 08", "18 0d 32 30 32 36 30 31 30 31 30 30 30 30 5a"]) {
      expect(kind(() => assertDerForm(readSingle(hex(text)))), text).toBe("form");
    }
    for (const text of ["30", "1f 00", "30 81", "30 02 00", "30 03 02 01 00 00"]) expect(kind(() => readSingle(hex(text)))).toBe(undefined);
    expect(kind(() => assertDerForm(readSingle(hex("30 02 30 05"))))).toBe(undefined);
    expect(kind(() => decodeOid(element("06 02 80 01")))).toBe(undefined);
  });
});

describe("assertDerForm on times", () => {
  /** A SEQUENCE of one UTCTime (17) or GeneralizedTime (18). */
  const time = (tag: number, text: string) => readSingle(Buffer.concat([Buffer.from([0x30, text.length + 2, tag, text.length]), Buffer.from(text)]));

  it.each([
    [0x17, "260101000000+0000"], [0x17, "260101000000-0000"], [0x17, "2601010000+0000"], [0x18, "20260101000000+0000"],
    [0x18, "202601010000Z"], [0x18, "202601010000+0100"], [0x18, "202601010000-0100"], [0x18, "20260101000000.50Z"],
    [0x18, "20260101000000.5+0100"], [0x18, "20260101000000.5-0130"], [0x18, "20260101000000.0Z"],
    // RFC 5280 §4.1.2.5.2: no fraction at all (DER allows .5; Go refuses it; OpenSSL refuses .Z itself).
    [0x18, "20260101000000.5Z"], [0x18, "20260101000000.05Z"], [0x18, "20260101000000.Z"],
  ])("refuses tag %i %s", (tag, text) => {
    expect(() => assertDerForm(time(tag, text))).toThrow(new DerError("a UTCTime or GeneralizedTime not in DER form", "form"));
  });

  // Go reads a UTCTime without seconds and an offset; OpenSSL refuses the malformed ones itself.
  it.each([
    [0x17, "260101000000Z"], [0x17, "2601010000Z"], [0x17, "260101000000+0100"], [0x17, "260101000000-0001"],
    [0x17, "260101000000.0Z"], [0x17, "260101000000"], [0x18, "20260101000000Z"], [0x18, "20260101000000-0130"],
    [0x18, "20260101000000"],
    [0x18, "2026010100Z"], [0x18, "20260101000000+1000"], [0x04, "20260101000000+0000"],
    // RFC 5280's switch from UTCTime to GeneralizedTime in 2050, and a leap second (OpenSSL judges those itself).
    [0x17, "491231235959Z"], [0x17, "500101000000Z"], [0x18, "20500101000000Z"], [0x18, "20491231235960Z"],
    [0x17, "161231235960Z"], [0x17, "491231235960Z"],
  ])("leaves tag %i %s", (tag, text) => {
    expect(() => assertDerForm(time(tag, text))).not.toThrow();
  });
});
