/** decodeName: a Name's attributes as text, in certificate order. */
import { describe, expect, it } from "vitest";
import { readSingle, TAG } from "../../../src/encoding/der.js";
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
