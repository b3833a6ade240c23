/** decodeName: a Name's attributes as text, in certificate order. */
import { describe, expect, it } from "vitest";
import { DerError, readSingle, TAG } from "../../../src/encoding/der.js";
import { derOid, derSequence, derTlv } from "../../../src/encoding/der-writer.js";
import { decodeName } from "../../../src/x509/names/decode-name.js";
import { STRING_TAG } from "../../../src/x509/names/directory-string.js";

const CN = "2.5.4.3";
/** A Name of one RDN per value: `SEQUENCE OF SET OF SEQUENCE { OID, string }`. */
const name = (...values: [tag: number, bytes: Buffer][]) =>
  readSingle(derSequence(...values.map(([tag, bytes]) => derTlv(TAG.SET, derSequence(derOid(CN), derTlv(tag, bytes))))));

describe("a value that starts with U+FEFF (EF BB BF in UTF-8, FE FF in a BMPString)", () => {
  it("keeps it: a character of the value, not a byte-order mark to drop", () => {
    const utf8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("device")]);
    const bmp = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from("device", "utf16le").swap16()]);
    const values = decodeName(name([STRING_TAG.UTF8, utf8], [STRING_TAG.BMP, bmp])).map((a) => a.value);
    // Before, the UTF8String lost it (TextDecoder drops a leading BOM unless told ignoreBOM): the name read here was
    // not the certificate's. The BMPString kept it already.
    expect(values).toEqual(["\ufeffdevice", "\ufeffdevice"]);
  });
});

describe("wide strings that do not decode are refused, not read as other text", () => {
  it("a UniversalString reads as UTF-32BE; a BMPString as UTF-16BE", () => {
    const universal = Buffer.from("0001f60000000041", "hex");
    const bmp = Buffer.from("d83dde000041", "hex");
    const values = decodeName(name([STRING_TAG.UNIVERSAL, universal], [STRING_TAG.BMP, bmp])).map((a) => a.value);
    expect(values).toEqual(["\u{1f600}A", "\u{1f600}A"]);
  });
  const UNIVERSAL = STRING_TAG.UNIVERSAL;
  it.each([
    ["a UniversalString of 6 bytes", UNIVERSAL, "000000410000", "UniversalString length not a multiple of 4"],
    ["a UniversalString character > U+10FFFF", UNIVERSAL, "0011000000000041", "UniversalString character out of range"],
    ["a BMPString of odd length", STRING_TAG.BMP, "004100", "BMPString of odd length"],
  ])("%s", (_, tag, hex, message) => {
    const read = () => decodeName(name([tag, Buffer.from(hex, "hex")]));
    expect(read).toThrow(DerError);
    expect(read).toThrow(message);
  });
});
