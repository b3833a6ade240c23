/**
 * Distinguished names rendered the way Go's `pkix.Name.String()` does, because the Go helper's
 * `read-certificate-data` listing shows subjects and issuers that way and scripts compare them.
 * Go first folds the known attributes into fixed fields (C, ST, L, STREET, POSTALCODE, O, OU, CN,
 * SERIALNUMBER: several values of one type become one multi-valued RDN, only the last CN survives), puts
 * the other attributes in front, and prints the sequence last-to-first with RFC 4514-style escaping.
 */
import type { AttributeTypeAndValue } from "@peculiar/asn1-x509";
import { readElement } from "../../encoding/der.js";
import { derTlv } from "../../encoding/der-writer.js";
import { escapeUnprintable, InputError } from "../../errors.js";
import { attributeName } from "./attribute-names.js";
import { PRINTABLE_STRING, STRING_TAG } from "./directory-string.js";

// Go's fixed fields in its order (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER): our short names, upper-cased.
const FIELD_ORDER = ["2.5.4.6", "2.5.4.8", "2.5.4.7", "2.5.4.9", "2.5.4.17", "2.5.4.10", "2.5.4.11", "2.5.4.3", "2.5.4.5"];
const FIELD_NAMES = new Map(FIELD_ORDER.map((oid) => [oid, attributeName(oid)!.name.toUpperCase()]));

type Rdn = { oid: string; value: string; nonString?: Buffer }[];

/** `what` names the certificate when it cannot be read (OpenSSL reads some that @peculiar/asn1-x509 refuses). */
export async function goSubjectAndIssuer(der: Uint8Array, what = "the certificate"): Promise<{ subject: string; issuer: string }> {
  const [{ AsnConvert }, { Certificate }] = await Promise.all([import("@peculiar/asn1-schema"), import("@peculiar/asn1-x509")]);
  let tbs: InstanceType<typeof Certificate>["tbsCertificate"];
  try {
    tbs = AsnConvert.parse(der, Certificate).tbsCertificate;
  } catch (cause) {
    throw new InputError("CERTIFICATE_INVALID", `could not read the names of ${what}: it does not follow X.509's structure (RFC 5280)`, {
      hint: "the certificate was written by another tool: write it to the token again",
      cause,
    });
  }
  const asDer = (value: AttributeTypeAndValue["value"]) => Buffer.from(AsnConvert.serialize(value));
  return { subject: goNameString(tbs.subject.map((rdn) => [...rdn]), asDer), issuer: goNameString(tbs.issuer.map((rdn) => [...rdn]), asDer) };
}

/** `der` gives a value's DER as it stands. Go's strings are not a UniversalString (current Go reads it as it is). */
function goNameString(rdns: readonly (readonly AttributeTypeAndValue[])[], der: (value: AttributeTypeAndValue["value"]) => Buffer): string {
  const values = new Map<string, string[]>();
  const others: Rdn[] = [];
  for (const atv of rdns.flat()) {
    const v = atv.value;
    // Go drops a BMPString's terminating 00 00; @peculiar reads a NumericString as anyValue.
    const numeric = v.anyValue && readElement(Buffer.from(v.anyValue));
    const strings = [v.printableString, v.utf8String, v.ia5String, v.teletexString, v.bmpString?.replace(/\0$/, ""),
      numeric && numeric.tag === 0x12 ? numeric.content.toString("latin1") : undefined];
    const text = strings.find((s) => s !== undefined);
    if (FIELD_NAMES.has(atv.type)) {
      if (text !== undefined) values.set(atv.type, atv.type === "2.5.4.3" ? [text] : [...(values.get(atv.type) ?? []), text]);
    } else {
      others.push([{ oid: atv.type, value: text ?? "", ...(text === undefined ? { nonString: der(v) } : {}) }]);
    }
  }
  const sequence: Rdn[] = [...others];
  for (const oid of FIELD_ORDER) {
    const list = values.get(oid);
    if (list && list.length > 0) sequence.push(list.map((value) => ({ oid, value })));
  }
  return sequence
    .reverse()
    .map((rdn) => rdn.map(formatAttribute).join("+"))
    .join(",");
}

function formatAttribute(attr: Rdn[number]): string {
  const name = FIELD_NAMES.get(attr.oid);
  if (name === undefined) {
    // Go re-marshals unknown attributes and prints them as #hex of their DER.
    const der = attr.nonString ?? marshalGoString(attr.value);
    return `${attr.oid}=#${der.toString("hex")}`;
  }
  // `,+"\<>;` anywhere, a space first or last, `#` first: escaped with a backslash. Unlike Go, control and bidi
  // characters as \hh UTF-8 bytes (RFC 4514): a hostile name's line break forged a line of the listing.
  const escaped = attr.value.replace(/[,+"\\<>;]|^[ #]| $/g, "\\$&");
  const hex = (c: string) => Buffer.from(c).toString("hex").replace(/../g, "\\$&");
  return `${name}=${escapeUnprintable(escaped, hex)}`;
}

/** asn1.Marshal of a Go string: PrintableString when every character allows it, else UTF8String. */
function marshalGoString(value: string): Buffer {
  return derTlv(PRINTABLE_STRING.test(value) ? STRING_TAG.PRINTABLE : STRING_TAG.UTF8, Buffer.from(value, "utf8"));
}
