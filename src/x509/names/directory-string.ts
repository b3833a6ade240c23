import { DerError, type DerElement } from "../../encoding/der.js";

/** ASN.1 universal tags of the string types found in names and GeneralNames. */
export const STRING_TAG = {
  UTF8: 0x0c,
  NUMERIC: 0x12,
  PRINTABLE: 0x13,
  TELETEX: 0x14,
  IA5: 0x16,
  VISIBLE: 0x1a,
  UNIVERSAL: 0x1c,
  BMP: 0x1e,
} as const;

/** The PrintableString character set (X.680), also what Go's asn1.Marshal checks to choose PrintableString. */
export const PRINTABLE_STRING = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * The text of a DirectoryString (or IA5String, as used by emailAddress and DC) attribute value, or
 * undefined for a value that is not a character string. TeletexString is read as Latin-1, which is what
 * certificate producers put in it in practice.
 */
export function decodeDirectoryString(el: DerElement): string | undefined {
  const bytes = el.content;
  switch (el.tag) {
    case STRING_TAG.UTF8:
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    case STRING_TAG.NUMERIC:
    case STRING_TAG.PRINTABLE:
    case STRING_TAG.IA5:
    case STRING_TAG.VISIBLE:
    case STRING_TAG.TELETEX:
      return bytes.toString("latin1");
    case STRING_TAG.BMP:
      if (bytes.length % 2 !== 0) throw new DerError("BMPString of odd length");
      return Buffer.from(bytes).swap16().toString("utf16le");
    case STRING_TAG.UNIVERSAL:
      return decodeUtf32Be(bytes);
    default:
      return undefined;
  }
}

function decodeUtf32Be(bytes: Buffer): string {
  if (bytes.length % 4 !== 0) throw new DerError("UniversalString length not a multiple of 4");
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    const cp = bytes.readUInt32BE(i);
    if (cp > 0x10ffff) throw new DerError("UniversalString character out of range");
    out += String.fromCodePoint(cp);
  }
  return out;
}
