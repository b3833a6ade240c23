/**
 * Exact values of the SigV4-X509 building blocks. The property test compares our canonical request with the AWS
 * SDK's using our own payloadHash on both sides, and the signing test checks a signature over our own string to
 * sign: neither notices a wrong hash, an unanchored pattern or a dropped character. Found by mutation testing.
 */
import { describe, expect, it } from "vitest";
import * as library from "../../src/index.js";
import { parseAuthorizationHeader } from "../../src/sigv4x509/authorization.js";
import { canonicalHeaders, canonicalRequest, payloadHash } from "../../src/sigv4x509/canonical-request.js";
import { parseAmzDate } from "../../src/sigv4x509/scope.js";
import { stringToSign } from "../../src/sigv4x509/string-to-sign.js";
import { signingAlgorithmFor } from "../../src/sigv4x509/types.js";
import { canonicalUri, uriEncode } from "../../src/sigv4x509/uri-encoding.js";

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

describe("payloadHash and stringToSign", () => {
  it("are the lower-case hex SHA-256 of the body and of the canonical request", () => {
    expect(payloadHash("")).toBe(EMPTY_SHA256);
    expect(payloadHash(Buffer.from("abc"))).toBe(ABC_SHA256);
    const date = new Date("2026-01-02T03:04:05Z");
    expect(stringToSign("AWS4-X509-RSA-SHA256", date, "eu-west-1", "abc")).toBe(
      `AWS4-X509-RSA-SHA256\n20260102T030405Z\n20260102/eu-west-1/rolesanywhere/aws4_request\n${ABC_SHA256}`,
    );
  });

  it("the canonical request ends with the body's hash", () => {
    const request = { method: "post", path: "/sessions", query: [], headers: { Host: "h" }, body: "abc" };
    expect(canonicalRequest(request, new Set(["host"]))).toBe(`POST\n/sessions\n\nhost:h\n\nhost\n${ABC_SHA256}`);
  });
});

describe("canonicalHeaders", () => {
  it("keeps only the signed headers", () => {
    const headers = canonicalHeaders({ Host: "h", "X-Other": "o" }, new Set(["host"]));
    expect([...headers]).toEqual([["host", "h"]]);
  });

  it("turns each line break into a space before collapsing runs", () => {
    const headers = canonicalHeaders({ a: "x\ny", b: "x\r\ny", c: "x\t\ty " }, new Set(["a", "b", "c"]));
    expect([...headers]).toEqual([["a", "x y"], ["b", "x y"], ["c", "x y"]]);
  });

  it("refuses a header array holding a non-string, and a query pair that is not a pair", () => {
    const signed = new Set(["host"]);
    expect(() => library.canonicalHeaders({ host: ["h", 5] } as never, signed)).toThrow("headers must be an object");
    expect(() => library.canonicalQuery([["a", "b", "c"]] as never)).toThrow("query must be an array of [name, value]");
  });

  it("canonicalRequest names itself in its USAGE error", () => {
    expect(() => canonicalRequest(null as never, new Set())).toThrow(/^canonicalRequest: the request must be/);
    expect(() => canonicalRequest(null as never, new Set())).toThrow(expect.objectContaining({ code: "USAGE" }));
  });
});

describe("uriEncode and canonicalUri", () => {
  it("encode the five characters encodeURIComponent leaves, each on its own", () => {
    expect(["!", "'", "(", ")", "*"].map(uriEncode)).toEqual(["%21", "%27", "%28", "%29", "%2A"]);
  });

  it("add no leading slash to a path without one", () => {
    expect(canonicalUri("a/./b/")).toBe("a/b/");
    expect(canonicalUri("/a//b")).toBe("/a/b");
  });

  it("canonicalize an empty path as / (SigV4: \"If the absolute path is empty, use a forward slash\"), also through the library", () => {
    expect(["", ".", "a/..", "/"].map(canonicalUri)).toEqual(["/", "/", "/", "/"]);
    expect(library.canonicalUri("")).toBe("/");
  });

  it("sign a request whose path is empty as SigV4 does: its canonical URI is /", async () => {
    const request = { method: "GET", path: "", query: [], headers: { Host: "h" }, body: "" };
    const input = {
      algorithm: "AWS4-X509-ECDSA-SHA256", leaf: { der: Buffer.from([1]), serialDecimal: "1" }, chain: [],
      region: "us-east-1", date: new Date(0), sign: async () => Buffer.from([1]),
    } as const;
    expect((await library.signX509Request(request, input)).canonicalRequest.split("\n")[1]).toBe("/");
  });
});

describe("signingAlgorithmFor", () => {
  it("names the algorithm of each key family, also as the library exports it", () => {
    expect(signingAlgorithmFor("RSA")).toBe("AWS4-X509-RSA-SHA256");
    expect(signingAlgorithmFor("EC")).toBe("AWS4-X509-ECDSA-SHA256");
    expect(signingAlgorithmFor("ML-DSA-44")).toBe("AWS4-X509-MLDSA");
    expect(library.signingAlgorithmFor("RSA")).toBe("AWS4-X509-RSA-SHA256");
    expect(library.signingAlgorithmFor("EC")).toBe("AWS4-X509-ECDSA-SHA256");
  });
});

describe("parseAmzDate", () => {
  it("is undefined, not a TypeError, for text that is not a date, and for a day that does not exist", () => {
    expect(parseAmzDate("yesterday")).toBeUndefined();
    expect(parseAmzDate("20260230T000000Z")).toBeUndefined();
    expect(parseAmzDate("20260228T235959Z")).toEqual(new Date("2026-02-28T23:59:59Z"));
  });
});

describe("parseAuthorizationHeader", () => {
  const scope = "20260101/us-east-1/rolesanywhere/aws4_request";
  const good = `AWS4-X509-ECDSA-SHA256 Credential=42/${scope}, SignedHeaders=host;x-amz-date, Signature=AbCd01`;

  it("reads every field, the signature in lower case", () => {
    expect(parseAuthorizationHeader(good)).toEqual({
      algorithm: "AWS4-X509-ECDSA-SHA256", serialNumber: "42", date: "20260101", region: "us-east-1",
      service: "rolesanywhere", signedHeaders: ["host", "x-amz-date"], signature: "abcd01",
    });
  });

  it("accepts surrounding white space and commas without a space", () => {
    expect(parseAuthorizationHeader(` ${good}\t`)?.signature).toBe("abcd01");
    expect(parseAuthorizationHeader(good.replaceAll(", ", ","))?.signature).toBe("abcd01");
  });

  it.each([
    ["text before it", `x ${good}`],
    ["text after the signature", `${good}zz`],
    ["a scope of four parts", good.replace("/rolesanywhere/", "/")],
    ["a scope of six parts", good.replace("aws4_request", "aws4_request/x")],
    ["a scope not ending in aws4_request", good.replace("aws4_request", "aws4_reques")],
    ["an unknown algorithm", good.replace("ECDSA", "DSA")],
  ])("is undefined for %s", (_, value) => {
    expect(parseAuthorizationHeader(value)).toBeUndefined();
  });

  it("knows the three algorithms", () => {
    for (const algorithm of ["AWS4-X509-RSA-SHA256", "AWS4-X509-ECDSA-SHA256", "AWS4-X509-MLDSA"]) {
      expect(parseAuthorizationHeader(good.replace("AWS4-X509-ECDSA-SHA256", algorithm))?.algorithm).toBe(algorithm);
    }
  });
});
