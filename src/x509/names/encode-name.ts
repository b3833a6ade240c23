import type * as X509 from "@peculiar/asn1-x509";
import type { AsnConvert as AsnConvertType } from "@peculiar/asn1-schema";
import { children, decodeOid, readSingle, TAG, unlessMalformed } from "../../encoding/der.js";
import { UsageError } from "../../errors.js";
import { attributeName } from "./attribute-names.js";
import { PRINTABLE_STRING } from "./directory-string.js";
import type { SubjectAttribute, SubjectRdns } from "./parse-subject.js";

/** The modules the encoder needs, imported by the caller (they are heavy). */
export interface Asn1Modules {
  readonly x509: typeof X509;
  readonly AsnConvert: typeof AsnConvertType;
}

// RFC 5280 Appendix A: these are PrintableString; emailAddress and domainComponent are IA5String.
const PRINTABLE_TYPES = new Set(["2.5.4.6", "2.5.4.5", "2.5.4.46"]);
const IA5_TYPES = new Set(["1.2.840.113549.1.9.1", "0.9.2342.19200300.100.1.25"]);

/**
 * Encodes a subject as an X.509 Name: UTF8String for directory strings (RFC 5280 §4.1.2.6: "MUST use
 * UTF8String" for new names), PrintableString or IA5String where the attribute's syntax requires it, and
 * the members of a multi-valued RDN in DER SET OF order. `option`: how errors name the subject.
 */
export function encodeName(rdns: SubjectRdns, { x509, AsnConvert }: Asn1Modules, option: string): X509.Name {
  const encoded = rdns.map((rdn) => {
    const atvs = rdn.map((attr) =>
      new x509.AttributeTypeAndValue({ type: attr.oid, value: attributeValue(attr, x509, `invalid ${option}`) }));
    const withBytes = atvs.map((atv) => ({ atv, der: Buffer.from(AsnConvert.serialize(atv)) }));
    // The encoder writes some large arcs (2^49 up to 17 digits) wrongly: read each type back as principal-tags will.
    for (const { atv, der } of withBytes) {
      if (unlessMalformed(() => decodeOid(children(readSingle(der, TAG.SEQUENCE))[0])) !== atv.type) {
        throw new UsageError("USAGE", `invalid ${option}: the OID ${atv.type} cannot be encoded (an arc is too large)`);
      }
    }
    // X.690 §11.6 compares as octet strings, a shorter one padded with zero octets: Buffer.compare orders alike,
    // since one TLV is never a strict prefix of another (the length octets would differ).
    withBytes.sort((a, b) => Buffer.compare(a.der, b.der));
    return new x509.RelativeDistinguishedName(withBytes.map((w) => w.atv));
  });
  return new x509.Name(encoded);
}

function attributeValue(attr: SubjectAttribute, x509: typeof X509, invalid: string): X509.AttributeValue {
  const label = attributeName(attr.oid)?.name ?? attr.oid;
  if (attr.oid === "2.5.4.6" && !/^[A-Z]{2}$/.test(attr.value)) {
    throw new UsageError("USAGE", `${invalid}: C must be a two-letter upper-case country code, not "${attr.value}"`);
  }
  if (PRINTABLE_TYPES.has(attr.oid)) {
    if (!PRINTABLE_STRING.test(attr.value)) {
      const problem = "may only hold PrintableString characters (A-Z a-z 0-9 '()+,-./:=? and space)";
      throw new UsageError("USAGE", `${invalid}: ${label} ${problem}`);
    }
    return new x509.AttributeValue({ printableString: attr.value });
  }
  if (IA5_TYPES.has(attr.oid)) {
    if (!/^[\x00-\x7f]*$/.test(attr.value)) throw new UsageError("USAGE", `${invalid}: ${label} must be ASCII`);
    return new x509.AttributeValue({ ia5String: attr.value });
  }
  return new x509.AttributeValue({ utf8String: attr.value });
}
