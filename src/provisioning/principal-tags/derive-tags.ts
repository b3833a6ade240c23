import type { CertificateNames, GeneralName } from "../../x509/names/certificate-names.js";
import type { NameAttribute } from "../../x509/names/decode-name.js";
import { MAX_SESSION_TAGS, sessionTagValueProblem } from "./session-tag-rules.js";
import { sourceIdentity, type SourceIdentity } from "./source-identity.js";
import { isPlainObject, isText, type Kind, type Kinds } from "../../own-value.js";
import { refuseWrongOptions } from "../../signers/options.js";

/** A session tag: use it in policies as `aws:PrincipalTag/<key>`. */
export interface PrincipalTag {
  /** `x509Subject/CN`, `x509SAN/DNS`, `x509SAN/Name/OU`, … */
  readonly key: string;
  readonly value: string;
  /** False for attribute names AWS does not document (the service may not map them). */
  readonly documented: boolean;
}

/** A value Roles Anywhere would leave out, with the reason. */
export interface DroppedTag {
  readonly key: string;
  readonly value: string | undefined;
  readonly reason: string;
}

export interface PrincipalTagReport {
  readonly tags: readonly PrincipalTag[];
  readonly dropped: readonly DroppedTag[];
  /** Parts of the certificate no tag comes from (unknown attribute types, further or other SAN entries). */
  readonly ignored: readonly string[];
  readonly sourceIdentity: SourceIdentity;
  /** Warnings about the whole set (too many tags). */
  readonly warnings: readonly string[];
}

/** Tags from plain JavaScript: what trust policies and the rendering read of them. */
export const TAGS: Kind = [
  (l) => Array.isArray(l) && l.every((t) => isPlainObject(t) && isText(t["key"]) && isText(t["value"])),
  "an array of { key, value } (strings)",
];
const isOptionalText = (v: unknown) => v === undefined || isText(v);
const isAttributes = (l: unknown) => Array.isArray(l) &&
  l.every((a) => isPlainObject(a) && isText(a["oid"]) && isOptionalText(a["name"]) && isOptionalText(a["value"]));
const ATTRIBUTES: Kind = [isAttributes, "an array of { oid, name, value }"];
const isGeneralName = (n: unknown) => isPlainObject(n) &&
  (n["type"] === "DirName" ? isAttributes(n["attributes"]) : n["type"] === "other" || isText(n["value"]));
/** {@link CertificateNames} from plain JavaScript. */
const NAMES_KINDS: Kinds = {
  names: {
    subject: ATTRIBUTES, issuer: ATTRIBUTES, serialHex: "string",
    subjectAltNames: [
      (l) => Array.isArray(l) && l.every(isGeneralName), 'an array of { type, value }, { type: "DirName", attributes }',
    ],
  },
};
const NAMES_REQUIRED = ["names", "names.subject", "names.issuer", "names.subjectAltNames", "names.serialHex"];

/**
 * The session tags Roles Anywhere derives from an end-entity certificate under a profile's default
 * attribute mapping (IAM Roles Anywhere User Guide, "Trust policy" and "Default mapping behavior"):
 * - `x509Subject/<attr>` and `x509Issuer/<attr>`: every supported RDN attribute of the subject and issuer;
 * - `x509SAN/DNS`, `x509SAN/URI`: the first SAN entry of each of these types;
 * - `x509SAN/Name/<attr>`: the RDN attributes of the first directoryName SAN entry, "parsed as with
 *   Subject and Issuer"; other SAN types (email, IP, otherName…) are not mapped;
 * - an attribute that occurs several times is one tag whose values are "separated with forward slashes (/)
 *   in the order they appear in the certificate" (this includes the members of a multi-valued RDN, which
 *   are taken in encoding order).
 */
export function derivePrincipalTags(names: CertificateNames): PrincipalTagReport {
  refuseWrongOptions("derivePrincipalTags", { names }, NAMES_KINDS, NAMES_REQUIRED);
  const collected = new Map<string, { values: (string | undefined)[]; documented: boolean }>();
  const ignored: string[] = [];
  const addName = (prefix: string, attributes: readonly NameAttribute[], where: string) => {
    for (const attr of attributes) {
      if (attr.name === undefined) {
        ignored.push(`${where} attribute ${attr.oid}: not a recognised attribute type`);
        continue;
      }
      const key = `${prefix}/${attr.name}`;
      const entry = collected.get(key) ?? { values: [], documented: attr.documented };
      entry.values.push(attr.value);
      collected.set(key, entry);
    }
  };
  addName("x509Subject", names.subject, "subject");
  addName("x509Issuer", names.issuer, "issuer");
  const seen = new Set<string>();
  for (const san of names.subjectAltNames) {
    if (san.type !== "DNS" && san.type !== "URI" && san.type !== "DirName") {
      ignored.push(`SAN ${sanLabel(san)}: Roles Anywhere maps only DNS, URI and directoryName entries`);
    } else if (seen.has(san.type)) {
      ignored.push(`SAN ${sanLabel(san)}: only the first ${san.type} entry is mapped`);
    } else {
      seen.add(san.type);
      if (san.type === "DirName") addName("x509SAN/Name", san.attributes, "SAN directoryName");
      else collected.set(`x509SAN/${san.type}`, { values: [san.value], documented: true });
    }
  }
  const tags: PrincipalTag[] = [];
  const dropped: DroppedTag[] = [];
  for (const [key, { values, documented }] of collected) {
    const value = values.some((v) => v === undefined) ? undefined : values.join("/");
    const problem = value === undefined ? "a value is not a character string" : sessionTagValueProblem(value);
    if (problem) dropped.push({ key, value, reason: problem });
    else tags.push({ key, value: value!, documented });
  }
  const warnings =
    tags.length > MAX_SESSION_TAGS
      ? [`${tags.length} tags: more than the ${MAX_SESSION_TAGS} session tags STS accepts; the session may be refused`]
      : [];
  const commonNames = names.subject.filter((a) => a.name === "CN" && a.value !== undefined).map((a) => a.value!);
  return { tags, dropped, ignored, sourceIdentity: sourceIdentity(commonNames, names.serialHex), warnings };
}

function sanLabel(san: GeneralName): string {
  if (san.type === "DirName") return `DirName:${san.attributes.map((a) => `${a.name ?? a.oid}=${a.value ?? "?"}`).join(",")}`;
  return san.type === "other" ? `[${san.tag & 0x1f}] entry` : `${san.type}:${san.value}`;
}
