import { children, decodeAlgorithmIdentifier, decodeOid, expectTag, readSingle, TAG, type DerElement } from "../encoding/der.js";

/** The raw DER elements of a certificate's TBSCertificate that provisioning reads or copies. */
export interface TbsFields {
  /** `[0] EXPLICIT Version`, when present. */
  readonly version: DerElement | undefined;
  readonly serial: DerElement;
  /** The TBS's signature AlgorithmIdentifier. */
  readonly signature: DerElement;
  readonly issuer: DerElement;
  readonly subject: DerElement;
  readonly subjectPublicKeyInfo: DerElement;
  /** `[3] EXPLICIT Extensions`, when present. */
  readonly extensions: DerElement | undefined;
}

const CONTEXT = { VERSION: 0xa0, EXTENSIONS: 0xa3 } as const;

/** Walks `Certificate ::= SEQUENCE { tbsCertificate, … }` (RFC 5280 §4.1); throws DerError when malformed. */
export function readTbsFields(der: Uint8Array): TbsFields {
  const [tbs] = children(readSingle(Buffer.from(der), TAG.SEQUENCE));
  const fields = children(expectTag(tbs, TAG.SEQUENCE));
  const version = fields[0]?.tag === CONTEXT.VERSION ? fields[0] : undefined;
  let i = version ? 1 : 0;
  const serial = expectTag(fields[i++], TAG.INTEGER);
  const signature = expectTag(fields[i++], TAG.SEQUENCE);
  const issuer = expectTag(fields[i++], TAG.SEQUENCE);
  i++; // validity
  const subject = expectTag(fields[i++], TAG.SEQUENCE);
  const subjectPublicKeyInfo = expectTag(fields[i++], TAG.SEQUENCE);
  const extensions = fields.slice(i).find((f) => f.tag === CONTEXT.EXTENSIONS);
  return { version, serial, signature, issuer, subject, subjectPublicKeyInfo, extensions };
}

/** `Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }`: the id, and the last element as the value. */
export function readExtensions(extensions: DerElement | undefined): { readonly oid: string; readonly value: DerElement | undefined }[] {
  if (!extensions) return [];
  const [list] = children(extensions);
  return children(expectTag(list, TAG.SEQUENCE)).map((extension) => {
    const parts = children(expectTag(extension, TAG.SEQUENCE));
    return { oid: decodeOid(parts[0]), value: parts[parts.length - 1] };
  });
}

/** A certificate's DER SubjectPublicKeyInfo and its algorithm OID; throws DerError when malformed. */
export function readSpki(der: Uint8Array): { der: Buffer; algorithmOid: string } {
  const spki = readTbsFields(der).subjectPublicKeyInfo;
  return { der: spki.raw, algorithmOid: decodeAlgorithmIdentifier(children(spki)[0]).oid };
}
