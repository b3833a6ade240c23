import { ownValue } from "../../own-value.js";
/**
 * Names of X.500 attribute types as they appear in principal tag keys (`x509Subject/<name>`).
 *
 * AWS documents only C, O, OU, ST, L and CN by name (IAM Roles Anywhere User Guide, "Mapping identities to
 * your workloads": "x509Issuer ... followed by /C, /O, /OU, /ST, /L, and /CN"; "Trust policy" example tags).
 * The default mapping takes "all supported RDNs" without listing them, so other well-known attributes are
 * reported under their RFC 4514 / OpenSSL short names and flagged as undocumented.
 */
export interface AttributeName {
  readonly name: string;
  /** True when AWS's documentation shows this tag name. */
  readonly documented: boolean;
}

/** By OID, with the long names RFC 4514 and OpenSSL also accept when users type a subject. */
const ATTRIBUTES: Readonly<Record<string, AttributeName & { readonly aliases?: readonly string[] }>> = {
  "2.5.4.3": { name: "CN", documented: true, aliases: ["commonName"] },
  "2.5.4.6": { name: "C", documented: true, aliases: ["countryName"] },
  "2.5.4.7": { name: "L", documented: true, aliases: ["localityName"] },
  "2.5.4.8": { name: "ST", documented: true, aliases: ["stateOrProvinceName"] },
  "2.5.4.10": { name: "O", documented: true, aliases: ["organizationName"] },
  "2.5.4.11": { name: "OU", documented: true, aliases: ["organizationalUnitName"] },
  "2.5.4.4": { name: "SN", documented: false, aliases: ["surname"] },
  "2.5.4.5": { name: "serialNumber", documented: false },
  "2.5.4.9": { name: "street", documented: false },
  "2.5.4.12": { name: "title", documented: false },
  "2.5.4.17": { name: "postalCode", documented: false },
  "2.5.4.42": { name: "GN", documented: false, aliases: ["givenName"] },
  "2.5.4.43": { name: "initials", documented: false },
  "2.5.4.46": { name: "dnQualifier", documented: false },
  "2.5.4.65": { name: "pseudonym", documented: false },
  "2.5.4.97": { name: "organizationIdentifier", documented: false },
  "0.9.2342.19200300.100.1.1": { name: "UID", documented: false, aliases: ["userId"] },
  "0.9.2342.19200300.100.1.25": { name: "DC", documented: false, aliases: ["domainComponent"] },
  "1.2.840.113549.1.9.1": { name: "emailAddress", documented: false, aliases: ["E"] },
};

export function attributeName(oid: string): AttributeName | undefined {
  return ownValue(ATTRIBUTES, oid);
}

/** Short or long name → OID, case-insensitive, for parsing subjects typed by users (`/CN=…/O=…`, RFC 4514). */
export function attributeOid(name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [oid, { name: short, aliases = [] }] of Object.entries(ATTRIBUTES)) {
    if ([short, ...aliases].some((n) => n.toLowerCase() === wanted)) return oid;
  }
  // X.660: the first arc is 0-2 and, under 0 and 1, the second at most 39 (0.40 would be encoded as 1.0).
  const dotted = /^([0-2])\.(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/.exec(name);
  return dotted && (dotted[1] === "2" || Number(dotted[2]) <= 39) ? name : undefined;
}
