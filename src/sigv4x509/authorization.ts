import type { SigningAlgorithm } from "./types.js";
import { credentialScope } from "./scope.js";

export interface AuthorizationFields {
  algorithm: SigningAlgorithm;
  /** Leaf serial number in decimal. */
  serialNumber: string;
  /** `YYYYMMDD`. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  /** Lower-case hex. */
  signature: string;
}

export function authorizationHeader(
  algorithm: SigningAlgorithm,
  serial: string,
  date: Date,
  region: string,
  signedHeaders: string,
  signatureHex: string,
): string {
  return `${algorithm} Credential=${serial}/${credentialScope(date, region)}, SignedHeaders=${signedHeaders}, Signature=${signatureHex}`;
}

const ALGORITHMS: ReadonlySet<string> = new Set(["AWS4-X509-RSA-SHA256", "AWS4-X509-ECDSA-SHA256", "AWS4-X509-MLDSA"]);

/** Parses an `Authorization` header of the SigV4-X509 form; undefined when it is not one. */
export function parseAuthorizationHeader(value: string): AuthorizationFields | undefined {
  const m = /^(\S+) Credential=([^,\s]+), ?SignedHeaders=([^,\s]+), ?Signature=([0-9a-fA-F]+)$/.exec(value.trim());
  if (!m || !ALGORITHMS.has(m[1]!)) return undefined;
  const scope = m[2]!.split("/");
  if (scope.length !== 5 || scope[4] !== "aws4_request") return undefined;
  const [serialNumber, date, region, service] = scope as [string, string, string, string, string];
  return {
    algorithm: m[1] as SigningAlgorithm,
    serialNumber,
    date,
    region,
    service,
    signedHeaders: m[3]!.split(";"),
    signature: m[4]!.toLowerCase(),
  };
}
