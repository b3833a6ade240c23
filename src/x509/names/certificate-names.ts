import { InputError } from "../../errors.js";
import { children, decodeSignedInteger, DerError, expectTag, readSingle, TAG, type DerElement } from "../../encoding/der.js";
import { decodeName, type NameAttribute } from "./decode-name.js";
import { readExtensions, readTbsFields } from "../tbs-fields.js";

/** A SubjectAlternativeName entry; `directoryName` entries carry their attributes. */
export type GeneralName =
  | { readonly type: "DNS" | "URI" | "email" | "IP"; readonly value: string }
  | { readonly type: "DirName"; readonly attributes: readonly NameAttribute[] }
  | { readonly type: "other"; readonly tag: number };

/** What principal tags and the source identity are derived from. */
export interface CertificateNames {
  readonly subject: readonly NameAttribute[];
  readonly issuer: readonly NameAttribute[];
  /** SubjectAlternativeName entries in certificate order (empty when the extension is absent). */
  readonly subjectAltNames: readonly GeneralName[];
  /** Serial number in lower-case hex without leading zeros; a negative one keeps its sign, as in Certificate. */
  readonly serialHex: string;
}

const SUBJECT_ALT_NAME = "2.5.29.17";

export function readCertificateNames(der: Uint8Array): CertificateNames {
  try {
    const tbs = readTbsFields(der);
    return {
      subject: decodeName(tbs.subject),
      issuer: decodeName(tbs.issuer),
      subjectAltNames: readSubjectAltNames(tbs.extensions),
      serialHex: decodeSignedInteger(tbs.serial.content).toString(16),
    };
  } catch (cause) {
    if (!(cause instanceof DerError || cause instanceof TypeError)) throw cause;
    throw new InputError("CERTIFICATE_INVALID", `could not read the names of the certificate: ${cause.message}`, { cause });
  }
}

function readSubjectAltNames(extensions: DerElement | undefined): GeneralName[] {
  const san = readExtensions(extensions).find((extension) => extension.oid === SUBJECT_ALT_NAME);
  return san ? children(readSingle(expectTag(san.value, TAG.OCTET_STRING).content, TAG.SEQUENCE)).map(decodeGeneralName) : [];
}

/** GeneralName CHOICE tags (RFC 5280 §4.2.1.6), IMPLICIT except directoryName (a CHOICE, so EXPLICIT). */
const GENERAL_NAME = { EMAIL: 0x81, DNS: 0x82, DIRECTORY: 0xa4, URI: 0x86, IP: 0x87 } as const;
/** The IA5String choices, by tag. */
const TEXT_NAMES = new Map<number, "DNS" | "URI" | "email">([
  [GENERAL_NAME.DNS, "DNS"],
  [GENERAL_NAME.URI, "URI"],
  [GENERAL_NAME.EMAIL, "email"],
]);

function decodeGeneralName(el: DerElement): GeneralName {
  const textType = TEXT_NAMES.get(el.tag);
  if (textType !== undefined) return { type: textType, value: el.content.toString("latin1") };
  if (el.tag === GENERAL_NAME.IP) return { type: "IP", value: formatIp(el.content) };
  if (el.tag !== GENERAL_NAME.DIRECTORY) return { type: "other", tag: el.tag };
  const [name] = children(el);
  return { type: "DirName", attributes: decodeName(expectTag(name, TAG.SEQUENCE)) };
}

function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join(".");
  if (bytes.length === 16) return Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(2 * i).toString(16)).join(":");
  return bytes.toString("hex");
}
