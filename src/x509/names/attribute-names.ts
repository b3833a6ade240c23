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

const DOCUMENTED: Readonly<Record<string, string>> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
};

const UNDOCUMENTED: Readonly<Record<string, string>> = {
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.9": "street",
  "2.5.4.12": "title",
  "2.5.4.17": "postalCode",
  "2.5.4.42": "GN",
  "2.5.4.43": "initials",
  "2.5.4.46": "dnQualifier",
  "2.5.4.65": "pseudonym",
  "2.5.4.97": "organizationIdentifier",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "emailAddress",
};

export function attributeName(oid: string): AttributeName | undefined {
  const documented = ownValue(DOCUMENTED, oid);
  if (documented !== undefined) return { name: documented, documented: true };
  const other = ownValue(UNDOCUMENTED, oid);
  return other === undefined ? undefined : { name: other, documented: false };
}

/** Short name → OID, case-insensitive, for parsing subjects typed by users (`/CN=…/O=…`, RFC 4514). */
export function attributeOid(name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const table of [DOCUMENTED, UNDOCUMENTED, ALIASES]) {
    for (const [oid, short] of Object.entries(table)) if (short.toLowerCase() === wanted) return oid;
  }
  return /^\d+(\.\d+)+$/.test(name) ? name : undefined;
}

/** Long names RFC 4514 and OpenSSL also accept. */
const ALIASES: Readonly<Record<string, string>> = {
  "2.5.4.3": "commonName",
  "2.5.4.6": "countryName",
  "2.5.4.7": "localityName",
  "2.5.4.8": "stateOrProvinceName",
  "2.5.4.10": "organizationName",
  "2.5.4.11": "organizationalUnitName",
  "2.5.4.4": "surname",
  "2.5.4.42": "givenName",
  "0.9.2342.19200300.100.1.25": "domainComponent",
  "0.9.2342.19200300.100.1.1": "userId",
  "1.2.840.113549.1.9.1": "E",
};
