import { createHash } from "node:crypto";
import { canonicalQuery, canonicalUri } from "./uri-encoding.js";
import type { HttpRequestToSign } from "./types.js";

/** Lower-cased header names mapped to their canonical values (repeated headers joined with `,`). */
export type CanonicalHeaders = ReadonlyMap<string, string>;

/**
 * Canonical header values: repeated values joined with `,`, line breaks turned into spaces, runs of
 * spaces/tabs collapsed, the ends trimmed — the same rule as the AWS SDKs and the Go helper.
 */
export function canonicalHeaders(headers: HttpRequestToSign["headers"], signed: ReadonlySet<string>): CanonicalHeaders {
  const joined = new Map<string, string[]>();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (signed.has(lower)) joined.set(lower, [...(joined.get(lower) ?? []), ...(typeof value === "string" ? [value] : value)]);
  }
  const result = new Map<string, string>();
  for (const name of [...joined.keys()].sort()) {
    const value = joined
      .get(name)!
      .join(",")
      .replace(/[\r\n]/g, " ")
      .replace(/[ \t]+/g, " ")
      .replace(/^ | $/g, "");
    result.set(name, value);
  }
  return result;
}

export function signedHeadersList(canonical: CanonicalHeaders): string {
  return [...canonical.keys()].join(";");
}

export function payloadHash(body: Uint8Array | string): string {
  return createHash("sha256").update(body).digest("hex");
}

/** The SigV4 canonical request, byte for byte. */
export function canonicalRequest(request: HttpRequestToSign, signed: ReadonlySet<string>): string {
  const headers = canonicalHeaders(request.headers, signed);
  return [
    request.method.toUpperCase(),
    canonicalUri(request.path),
    canonicalQuery(request.query),
    [...headers].map(([name, value]) => `${name}:${value}\n`).join(""),
    signedHeadersList(headers),
    payloadHash(request.body),
  ].join("\n");
}
