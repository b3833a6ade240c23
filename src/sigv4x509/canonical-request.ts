import { hash } from "node:crypto";
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
    if (!signed.has(lower)) continue;
    joined.set(lower, [...(joined.get(lower) ?? []), ...(typeof value === "string" ? [value] : value)]);
  }
  return new Map([...joined.keys()].sort().map((name) => [name, normalizedHeaderValue(joined.get(name)!.join(","))]));
}

/**
 * Line breaks to spaces, runs of spaces and tabs to one space, one space off each end. The patterns are compiled
 * only for a value they would change (each compilation costs on every cold run; our own values never need it).
 */
function normalizedHeaderValue(value: string): string {
  const plain = !["\r", "\n", "\t", "  "].some((c) => value.includes(c)) && !value.startsWith(" ") && !value.endsWith(" ");
  return plain ? value : value.replace(/[\r\n]/g, " ").replace(/[ \t]+/g, " ").replace(/^ | $/g, "");
}

export function signedHeadersList(canonical: CanonicalHeaders): string {
  return [...canonical.keys()].join(";");
}

export function payloadHash(body: Uint8Array | string): string {
  // One-shot: no Hash stream object (~4 KB of young-generation allocation on a cold run, the first time).
  return hash("sha256", body, "hex");
}

/** The SigV4 canonical request, byte for byte. */
export function canonicalRequest(request: HttpRequestToSign, signed: ReadonlySet<string>): string {
  return canonicalRequestWith(request, canonicalHeaders(request.headers, signed));
}

/** {@link canonicalRequest} with the request's canonical headers already made (a signer needs them twice). */
export function canonicalRequestWith(request: HttpRequestToSign, headers: CanonicalHeaders): string {
  let headerLines = "";
  for (const [name, value] of headers) headerLines += `${name}:${value}\n`;
  return `${request.method.toUpperCase()}\n${canonicalUri(request.path)}\n${canonicalQuery(request.query)}\n${headerLines}\n${signedHeadersList(headers)}\n${payloadHash(request.body)}`;
}
