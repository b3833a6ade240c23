import { createPrivateKey, sign as nodeSign, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAuthorizationHeader } from "../../src/sigv4x509/authorization.js";
import { parseAmzDate } from "../../src/sigv4x509/scope.js";
import { signX509Request } from "../../src/sigv4x509/sign-request.js";
import { canonicalRequest } from "../../src/sigv4x509/canonical-request.js";
import { canonicalQuery } from "../../src/sigv4x509/uri-encoding.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir();
afterAll(cleanup);
const ca = createCa(dir, { name: "Sign Test CA" });
const inter = createCa(dir, { name: "Sign Test Intermediate", parent: ca });

describe.each([
  ["rsa2048", "AWS4-X509-RSA-SHA256"],
  ["p256", "AWS4-X509-ECDSA-SHA256"],
  ["p384", "AWS4-X509-ECDSA-SHA256"],
] as const)("signX509Request with %s", (keyType, algorithm) => {
  const leaf = issueLeaf(inter, join(dir, keyType), { name: `leaf-${keyType}`, keyType });
  const key = createPrivateKey(readFileSync(leaf.keyPath));
  const cert = new X509Certificate(leaf.certPem);
  const date = new Date("2026-11-23T10:20:30Z");

  it("produces the documented headers and a signature that openssl verifies", async () => {
    const signed = await signX509Request(
      {
        method: "POST",
        path: "/sessions",
        query: [["trustAnchorArn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/t"]],
        headers: { Host: "rolesanywhere.us-east-1.amazonaws.com", "Content-Type": "application/json" },
        body: '{"durationSeconds":3600}',
      },
      {
        algorithm,
        leaf: { der: cert.raw, serialDecimal: leaf.serialDecimal },
        chain: [new X509Certificate(inter.certPem).raw],
        region: "us-east-1",
        date,
        sign: async (data) => nodeSign("sha256", data, key),
      },
    );
    expect(signed.headers["X-Amz-Date"]).toBe("20261123T102030Z");
    expect(parseAmzDate(signed.headers["X-Amz-Date"]!)?.toISOString()).toBe(date.toISOString());
    expect(signed.headers["X-Amz-X509"]).toBe(cert.raw.toString("base64"));
    expect(signed.headers["X-Amz-X509-Chain"]).toBe(new X509Certificate(inter.certPem).raw.toString("base64"));
    expect(signed.signedHeaders).toBe("content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain");
    expect(signed.stringToSign.split("\n").slice(0, 3)).toEqual([algorithm, "20261123T102030Z", "20261123/us-east-1/rolesanywhere/aws4_request"]);

    const auth = parseAuthorizationHeader(signed.headers["Authorization"]!);
    expect(auth).toMatchObject({ algorithm, serialNumber: leaf.serialDecimal, date: "20261123", region: "us-east-1", service: "rolesanywhere" });
    expect(signed.headers["Authorization"]).toMatch(/^AWS4-X509-\S+ Credential=\d+\/20261123\/us-east-1\/rolesanywhere\/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]+$/);

    // Independent verifier: openssl over the string to sign.
    const base = join(dir, keyType);
    writeFileSync(`${base}.sts`, signed.stringToSign);
    writeFileSync(`${base}.sig`, Buffer.from(auth!.signature, "hex"));
    writeFileSync(`${base}.pub`, cert.publicKey.export({ type: "spki", format: "pem" }));
    expect(openssl(["dgst", "-sha256", "-verify", `${base}.pub`, "-signature", `${base}.sig`, `${base}.sts`])).toContain("Verified OK");

    // A changed body no longer matches the signed canonical request.
    writeFileSync(`${base}.sts2`, signed.stringToSign.replace(/.$/, (c) => (c === "0" ? "1" : "0")));
    expect(() => openssl(["dgst", "-sha256", "-verify", `${base}.pub`, "-signature", `${base}.sig`, `${base}.sts2`])).toThrow();
  });
});

describe("signX509Request from plain JavaScript", () => {
  const request = { method: "POST", path: "/sessions", query: [], headers: { Host: "h.example" }, body: "{}" };
  const input = { algorithm: "AWS4-X509-ECDSA-SHA256", leaf: { der: new Uint8Array(1), serialDecimal: "1" }, chain: [],
    region: "us-east-1", date: new Date("2026-01-01T00:00:00Z"), sign: async () => new Uint8Array(1) };
  it.each([
    ["the request must be an object", null, input],
    ["request.query must be an array", { ...request, query: undefined }, input],
    ["request.headers must be an object of strings", { ...request, headers: { Host: 5 } }, input],
    ["request.body must be a string or bytes", { ...request, body: 5 }, input],
    ["the request must carry a Host header", { ...request, headers: {} }, input],
    ["the input must be an object", request, undefined],
    ["input.date must be a valid Date", request, { ...input, date: "yesterday" }],
    ["input.date must be a valid Date", request, { ...input, date: new Date(Number.NaN) }],
    ["input.leaf must be { der, serialDecimal }", request, { ...input, leaf: { der: "AAAA" } }],
    ["input.leaf must be { der, serialDecimal }", request, { ...input, leaf: { der: "AAAA", serialDecimal: "1" } }],
    ["input.leaf must be { der, serialDecimal }", request, { ...input, leaf: { der: new Uint8Array(1) } }],
    ["input.leaf must be { der, serialDecimal }", request, { ...input, leaf: { ...input.leaf, serialDecimal: 1 } }],
    ["input.chain must be an array", request, { ...input, chain: null }],
    ["input.sign must be a function", request, { ...input, sign: undefined }],
  ])("a USAGE error, not a TypeError: %s", async (message, req, inp) => {
    const error = { code: "USAGE", message: expect.stringContaining(message) };
    await expect(signX509Request(req as never, inp as never)).rejects.toMatchObject(error);
  });

  it("canonicalRequest: the same USAGE errors", () => {
    const signed = new Set(["host"]);
    expect(() => canonicalRequest(null as never, signed)).toThrow("canonicalRequest: the request must be an object");
    expect(() => canonicalRequest({ ...request, method: 5 } as never, signed)).toThrow("request.method must be a string");
    expect(() => canonicalRequest(request, ["host"] as never)).toThrow("signed must be a Set of header names");
  });
});

describe("text with no UTF-8 form", () => {
  // A lone surrogate has no UTF-8 bytes to percent-encode (encodeURIComponent throws URIError on it).
  it("a lone surrogate in the query or path to sign: a USAGE error, not a URIError", async () => {
    const request = { method: "POST", path: "/sessions", query: [], headers: { Host: "h.example" }, body: "{}" };
    const input = { algorithm: "AWS4-X509-ECDSA-SHA256", leaf: { der: new Uint8Array(1), serialDecimal: "1" }, chain: [],
      region: "us-east-1", date: new Date("2026-01-01T00:00:00Z"), sign: async () => new Uint8Array(1) } as const;
    const usage = { code: "USAGE", message: expect.stringContaining("a lone surrogate (U+D800), which has no UTF-8 form") };
    for (const req of [{ ...request, query: [["a", "x\ud800"]] }, { ...request, path: "/x\ud800" }]) {
      await expect(signX509Request(req as never, input)).rejects.toMatchObject(usage);
    }
    expect(() => canonicalQuery([["\ud800", "v"]])).toThrow(expect.objectContaining(usage));
    expect(canonicalQuery([["\ud83d\ude00", "v"]])).toBe("%F0%9F%98%80=v"); // a pair is one character
  });
});

describe("signX509Request: the headers it adds and signs", () => {
  const leaf = { der: Buffer.from("leaf"), serialDecimal: "7" };
  const input = { algorithm: "AWS4-X509-ECDSA-SHA256", leaf, chain: [],
    region: "us-east-1", date: new Date("2026-01-01T00:00:00Z"), sign: async () => new Uint8Array([0xab]) } as const;
  const request = { method: "POST", path: "/sessions", query: [], headers: { Host: "h.example" }, body: "{}" };

  it("no X-Amz-X509-Chain header without intermediates; with two, their base64 joined by a comma", async () => {
    const alone = await signX509Request(request, input);
    expect(alone.headers).not.toHaveProperty("X-Amz-X509-Chain");
    expect(alone.signedHeaders).toBe("host;x-amz-date;x-amz-x509");
    const chain = [Buffer.from("one"), Buffer.from("two")];
    const two = await signX509Request(request, { ...input, chain });
    expect(two.headers["X-Amz-X509-Chain"]).toBe("b25l,dHdv");
  });

  it("sends a repeated header as one comma-joined string", async () => {
    const signed = await signX509Request({ ...request, headers: { Host: "h.example", "X-A": ["1", "2"] } }, input);
    expect(signed.headers["X-A"]).toBe("1,2");
  });

  it("signs no header that changes in transit or is added after signing", async () => {
    const transport = ["Authorization", "User-Agent", "X-Amzn-Trace-Id", "Content-Length", "Connection", "Expect",
      "Transfer-Encoding", "Accept-Encoding"];
    const headers = Object.fromEntries([["Host", "h.example"], ...transport.map((name) => [name, "v"])]);
    const signed = await signX509Request({ ...request, headers }, input);
    expect(signed.signedHeaders).toBe("host;x-amz-date;x-amz-x509");
    expect(signed.headers["Authorization"]).toBe(
      "AWS4-X509-ECDSA-SHA256 Credential=7/20260101/us-east-1/rolesanywhere/aws4_request, " +
        "SignedHeaders=host;x-amz-date;x-amz-x509, Signature=ab",
    );
  });
});
