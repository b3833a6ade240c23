import { percentDecoded } from "../rolesanywhere/proxy.js";
import type { HttpRequestToSign } from "../sigv4x509/types.js";

/** An HTTP request exactly as it arrived: what a SigV4 verifier must rebuild the canonical request from. */
export interface WireRequest {
  readonly method: string;
  /** The path as sent, still percent-encoded, without the query. */
  readonly rawPath: string;
  /** The query string as sent, without `?` (may be empty). */
  readonly rawQuery: string;
  /** Lower-case header name → every value received for it, in order (never joined by the HTTP stack). */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly body: Buffer;
}

/** Builds a WireRequest from a raw request target (`/path?query`) and a raw header list. */
export function wireRequest(method: string, target: string, rawHeaders: readonly string[], body: Buffer): WireRequest {
  const q = target.indexOf("?");
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), rawHeaders[i + 1]!]);
  }
  return {
    method: method.toUpperCase(),
    rawPath: q < 0 ? target : target.slice(0, q),
    rawQuery: q < 0 ? "" : target.slice(q + 1),
    headers,
    body,
  };
}

/** One header's values joined with `,` (as SigV4 canonicalises them); undefined when absent. */
export function headerValue(request: WireRequest, name: string): string | undefined {
  return request.headers.get(name.toLowerCase())?.join(",");
}

/** The decoded query pairs (`+` is a space, as in form encoding: Go's url.Values sends spaces that way). */
export function queryPairs(rawQuery: string): [string, string][] {
  return [...new URLSearchParams(rawQuery)];
}

/** The request in the shape the SigV4 core signs, with every received header available for SignedHeaders. */
export function toRequestToSign(request: WireRequest): HttpRequestToSign {
  return {
    method: request.method,
    path: percentDecoded(request.rawPath), // the SigV4 core encodes it again
    query: queryPairs(request.rawQuery),
    headers: Object.fromEntries(request.headers),
    body: request.body,
  };
}
