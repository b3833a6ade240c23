import { hash } from "node:crypto";
import { UsageError } from "../errors.js";
import { isPlainObject, isText, wrongOption, type Kinds } from "../own-value.js";
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

const isHeader = (v: unknown) => isText(v) || (Array.isArray(v) && v.every(isText));
const isPair = (v: unknown) => Array.isArray(v) && v.length === 2 && v.every(isText);
/** An {@link HttpRequestToSign}'s fields, for `wrongOption` (own-value.ts): all are required. */
export const REQUEST_KINDS: Kinds = {
  method: "string", path: "string", query: [(q) => Array.isArray(q) && q.every(isPair), "an array of [name, value]"],
  headers: [(h) => isPlainObject(h) && Object.values(h).every(isHeader), "an object of strings (or arrays of them)"],
  body: [(b) => isText(b) || b instanceof Uint8Array, "a string or bytes"],
};
const REQUEST_KEYS = Object.keys(REQUEST_KINDS);

/** What is wrong with an {@link HttpRequestToSign} from plain JavaScript (`request.<field> must be …`), if anything. */
export function wrongRequest(request: unknown): string | undefined {
  const name = (field: string) => `request.${field}`;
  return wrongOption(request, REQUEST_KINDS, { what: "the request", name, required: REQUEST_KEYS });
}

/** The SigV4 canonical request, byte for byte. */
export function canonicalRequest(request: HttpRequestToSign, signed: ReadonlySet<string>): string {
  const wrong = wrongRequest(request) ?? (signed instanceof Set ? undefined : "signed must be a Set of header names");
  if (wrong) throw new UsageError("USAGE", `canonicalRequest: ${wrong}`);
  return canonicalRequestWith(request, canonicalHeaders(request.headers, signed));
}

/** {@link canonicalRequest} with the request's canonical headers already made (a signer needs them twice). */
export function canonicalRequestWith(request: HttpRequestToSign, headers: CanonicalHeaders): string {
  let headerLines = "";
  for (const [name, value] of headers) headerLines += `${name}:${value}\n`;
  return `${request.method.toUpperCase()}\n${canonicalUri(request.path)}\n${canonicalQuery(request.query)}\n${headerLines}\n${signedHeadersList(headers)}\n${payloadHash(request.body)}`;
}
