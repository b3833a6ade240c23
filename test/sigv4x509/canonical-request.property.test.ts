import { Sha256 } from "./sha256.js";
import { SignatureV4 } from "@smithy/signature-v4";
import { HttpRequest } from "@smithy/protocol-http";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalRequest, payloadHash } from "../../src/sigv4x509/canonical-request.js";

/**
 * Our canonical request must equal the AWS SDK's (@smithy/signature-v4) byte for byte on awkward inputs:
 * odd header spacing and tabs, repeated headers, repeated and unicode query parameters, unicode and
 * dot-segment paths, empty and binary bodies.
 */
const smithy = new SignatureV4({
  service: "rolesanywhere",
  region: "us-east-1",
  credentials: { accessKeyId: "unused", secretAccessKey: "unused" },
  sha256: Sha256,
});

// The canonicalisation steps are protected in smithy; we call them directly to compare like with like.
const internals = smithy as unknown as {
  createCanonicalRequest(request: HttpRequest, headers: Record<string, string>, payloadHash: string): string;
};
const { getCanonicalHeaders } = await import("@smithy/signature-v4");

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/).filter((s) => !s.startsWith("x-amzn-trace") && s !== "authorization" && s !== "user-agent" && !s.startsWith("proxy-") && !s.startsWith("sec-") && !["connection", "expect", "transfer-encoding", "content-length", "accept-encoding", "te", "upgrade", "keep-alive", "via", "host", "trailer", "referer", "cache-control", "www-authenticate", "x-forwarded-for"].includes(s));
const headerValue = fc
  .array(fc.constantFrom("a", "b", "Z", "0", " ", "  ", "\t", ",", ";", "=", "/", "é", "日", "-", ":"), { maxLength: 20 })
  .map((parts) => parts.join(""));
const queryText = fc.string({ unit: "grapheme", maxLength: 12 });
const pathSegment = fc.oneof(
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }).filter((s) => !s.includes("/")),
  fc.constantFrom(".", "..", "sessions", "a b", "ü", "%41", "~x_y.z"),
);

const requestArb = fc.record({
  method: fc.constantFrom("POST", "GET", "PUT"),
  path: fc.array(pathSegment, { maxLength: 5 }).chain((segs) =>
    fc.boolean().map((trailing) => `/${segs.join("/")}${trailing && segs.length ? "/" : ""}`),
  ),
  query: fc.array(fc.tuple(fc.oneof(queryText, fc.constantFrom("profileArn", "roleArn")), queryText), { maxLength: 5 }),
  headers: fc.array(fc.tuple(token, fc.array(headerValue, { minLength: 1, maxLength: 3 })), { maxLength: 6 }),
  body: fc.oneof(fc.constant(""), fc.string(), fc.uint8Array({ maxLength: 64 })),
});

describe("canonical request vs @smithy/signature-v4", () => {
  it("is identical on 500 generated requests", async () => {
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        // Header names are case-insensitive: spread the case and merge duplicates as an HTTP stack would.
        const ours: Record<string, string[]> = { host: ["rolesanywhere.us-east-1.amazonaws.com"] };
        for (const [name, values] of r.headers) {
          const key = Object.keys(ours).find((k) => k.toLowerCase() === name) ?? (compared % 2 ? name.toUpperCase() : name);
          ours[key] = [...(ours[key] ?? []), ...values];
        }
        const signed = new Set(Object.keys(ours).map((k) => k.toLowerCase()));
        const mine = canonicalRequest({ method: r.method, path: r.path, query: r.query, headers: ours, body: r.body }, signed);

        // smithy takes one string per header (a repeated header is comma-joined, as Node's http module does)
        // and a query map whose repeated keys are arrays.
        const smithyHeaders: Record<string, string> = {};
        for (const [k, v] of Object.entries(ours)) smithyHeaders[k] = v.join(",");
        const query: Record<string, string | string[]> = {};
        for (const [k, v] of r.query) {
          const prev = query[k];
          query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
        }
        const request = new HttpRequest({ method: r.method, path: r.path, query, headers: smithyHeaders, hostname: "rolesanywhere.us-east-1.amazonaws.com", body: r.body });
        const canonicalHeaders = getCanonicalHeaders(request);
        const theirs = internals.createCanonicalRequest(request, canonicalHeaders, payloadHash(r.body));
        compared++;
        expect(mine).toBe(theirs);
      }),
      { numRuns: 500, seed: 20261123 },
    );
    expect(compared).toBeGreaterThanOrEqual(500);
  });
});
