/** The SigV4-X509 building blocks as the library exports them, called from plain JavaScript with bad values. */
import { describe, expect, it } from "vitest";
import * as library from "../../src/index.js";

const date = new Date("2026-01-01T00:00:00Z");
const request = { method: "GET", path: "/", query: [], headers: { host: "h" }, body: "" };

describe("sigv4x509 entries from plain JavaScript: a USAGE error naming the function, never a TypeError", () => {
  it.each<[string, unknown[], string]>([
    ["signingAlgorithmFor", [null], "keyType must be"],
    ["signingAlgorithmFor", ["DSA"], "keyType must be"],
    ["uriEncode", [null], "text must be a string"],
    ["uriEncode", [5], "text must be a string"],
    ["canonicalUri", [5], "path must be a string"],
    ["canonicalQuery", [null], "query must be an array of [name, value]"],
    ["canonicalQuery", [[null]], "query must be an array of [name, value]"],
    ["canonicalQuery", [[["a", 1]]], "query must be an array of [name, value]"],
    ["canonicalHeaders", [null, new Set()], "headers must be an object of strings"],
    ["canonicalHeaders", [{ host: "h" }, ["host"]], "signed must be a Set of header names"],
    ["signedHeadersList", [null], "canonical must be a Map"],
    ["payloadHash", [null], "body must be a string or bytes"],
    ["canonicalRequestWith", [null, new Map()], "request must be an object"],
    ["canonicalRequestWith", [{ method: "GET" }, new Map()], "request.path must be a string"],
    ["canonicalRequestWith", [request, undefined], "headers must be a Map"],
    ["amzDate", [null], "date must be a valid Date"],
    ["amzDate", [new Date(Number.NaN)], "date must be a valid Date"],
    ["shortDate", [5], "date must be a valid Date"],
    ["credentialScope", [date, null], "region must be a string"],
    ["credentialScope", [date, "r", 5], "service must be a string"],
    ["parseAmzDate", [null], "text must be a string"],
    ["stringToSign", ["A", null, "r", "c"], "date must be a valid Date"],
    ["stringToSign", ["A", date, "r"], "canonicalRequest must be a string"],
    ["authorizationHeader", ["A", "1", null, "r", "h", "s"], "date must be a valid Date"],
    ["authorizationHeader", ["A", "1", date, "r", "h"], "signatureHex must be a string"],
    ["parseAuthorizationHeader", [null], "value must be a string"],
  ])("%s(%j)", (name, args, message) => {
    const f = (library as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
    const error = { code: "USAGE", message: expect.stringContaining(`${name}: ${message}`) };
    expect(() => f(...args)).toThrow(expect.objectContaining(error));
  });

  it("good values: the same answers as before", () => {
    expect(library.signingAlgorithmFor("ML-DSA-65")).toBe("AWS4-X509-MLDSA");
    expect(library.uriEncode("a b*")).toBe("a%20b%2A");
    expect(library.credentialScope(date, "us-east-1")).toBe("20260101/us-east-1/rolesanywhere/aws4_request");
    expect(library.stringToSign("A", date, "r", "c", "s")).toMatch(
      /^A\n20260101T000000Z\n20260101\/r\/s\/aws4_request\n/,
    );
    const headers = library.canonicalHeaders({ Host: " h " }, new Set(["host"]));
    expect(library.canonicalRequestWith(request, headers)).toBe(library.canonicalRequest(request, new Set(["host"])));
    expect(library.parseAmzDate("20260101T000000Z")).toEqual(date);
    expect(library.parseAuthorizationHeader("x")).toBeUndefined();
  });
});

describe("the library's sigv4x509 exports", () => {
  it("leave out the package's own argument check (wrongRequest: documented nowhere, used only inside sigv4x509)", () => {
    expect(library).not.toHaveProperty("wrongRequest");
  });
});
