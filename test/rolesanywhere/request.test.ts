import { createHash, verify as cryptoVerify, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AgentError } from "../../src/errors.js";
import { parseEndpointUrl, regionalEndpointUrl, resolveEndpoint } from "../../src/rolesanywhere/endpoint.js";
import { PARTITIONS } from "../../src/rolesanywhere/partitions.js";
import { resolveSessionRegion } from "../../src/rolesanywhere/region.js";
import { buildCreateSessionRequest } from "../../src/rolesanywhere/request.js";
import { createSession } from "../../src/rolesanywhere/create-session.js";
import { createSignedCreateSessionRequest } from "../../src/rolesanywhere/signed-request.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { KeyFileSigner, PROFILE, ROLE, sessionParams, TRUST_ANCHOR } from "./support.js";

const { dir, cleanup } = makeTempDir("raa-request-");
afterAll(cleanup);

describe("buildCreateSessionRequest", () => {
  const endpoint = parseEndpointUrl("https://rolesanywhere.us-east-1.amazonaws.com");
  const params = { trustAnchorArn: TRUST_ANCHOR, profileArn: PROFILE, roleArn: ROLE, durationSeconds: 3600 };

  it("sends the ARNs in the query, sorted and QueryEscape'd, and the duration in compact JSON", () => {
    const r = buildCreateSessionRequest(endpoint, params);
    expect(r.method).toBe("POST");
    expect(r.path).toBe("/sessions");
    expect(r.queryString).toBe(
      "profileArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A000000000000%3Aprofile%2F0a1b2c3d-1111-2222-3333-444455556666" +
        "&roleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Ftest-role" +
        "&trustAnchorArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A000000000000%3Atrust-anchor%2F4f3b3a2e-1111-2222-3333-444455556666",
    );
    expect(r.url).toBe(`https://rolesanywhere.us-east-1.amazonaws.com/sessions?${r.queryString}`);
    expect(r.body).toBe('{"durationSeconds":3600}');
    expect(r.headers).toEqual({ "Content-Type": "application/json", Host: "rolesanywhere.us-east-1.amazonaws.com" });
  });

  it("puts roleSessionName after durationSeconds, only when non-empty", () => {
    expect(buildCreateSessionRequest(endpoint, { ...params, durationSeconds: 900, roleSessionName: "edge-01" }).body).toBe(
      '{"durationSeconds":900,"roleSessionName":"edge-01"}',
    );
    expect(buildCreateSessionRequest(endpoint, { ...params, roleSessionName: "" }).body).toBe('{"durationSeconds":3600}');
  });

  it("escapes spaces as %20 and every reserved character, like the canonical query", () => {
    const r = buildCreateSessionRequest(endpoint, { ...params, roleArn: "arn:aws:iam::000000000000:role/a b+c~d_e.f-g*h" });
    expect(r.queryString).toContain("&roleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fa%20b%2Bc~d_e.f-g%2Ah&");
    expect(r.query.map(([k]) => k)).toEqual(["profileArn", "roleArn", "trustAnchorArn"]);
  });

  it("keeps the endpoint's path prefix and port", () => {
    const r = buildCreateSessionRequest(parseEndpointUrl("http://127.0.0.1:8080/ra/v1/"), params);
    expect(r.path).toBe("/ra/v1/sessions");
    expect(r.headers["Host"]).toBe("127.0.0.1:8080");
    expect(r.url.startsWith("http://127.0.0.1:8080/ra/v1/sessions?profileArn=")).toBe(true);
  });

  it.each([899, 43_201, 3600.5, Number.NaN])("refuses a duration of %s seconds", (durationSeconds) => {
    expect(() => buildCreateSessionRequest(endpoint, { ...params, durationSeconds })).toThrow(/^durationSeconds must be a whole number from 900 to 43200 \(got/);
  });
});

describe.each([
  ["p256", "AWS4-X509-ECDSA-SHA256"],
  ["rsa2048", "AWS4-X509-RSA-SHA256"],
] as const)("createSignedCreateSessionRequest with a %s key", (keyType, algorithm) => {
  const ca = createCa(join(dir, keyType), { name: `Request CA ${keyType}` });
  const inter = createCa(join(dir, keyType), { name: `Request Intermediate ${keyType}`, parent: ca });
  // Valid since 2025: the tests sign with fixed dates in 2026.
  const leaf = issueLeaf(inter, join(dir, keyType), { name: `leaf-${keyType}`, keyType, notBefore: new Date("2025-01-01T00:00:00Z") });
  const signer = new KeyFileSigner(leaf.keyPath, leaf.certPem, [inter.certPem]);

  it("signs host, content type, date and certificates, and node:crypto verifies the signature", async () => {
    const date = new Date("2026-11-23T10:20:30Z");
    const signed = await createSignedCreateSessionRequest(signer, sessionParams({ roleSessionName: "s1" }), {
      endpoint: "https://gw.example:8443/prefix",
      env: {},
      date,
    });
    expect(signed.method).toBe("POST");
    expect(signed.url.startsWith("https://gw.example:8443/prefix/sessions?profileArn=")).toBe(true);
    expect(signed.body).toBe('{"durationSeconds":3600,"roleSessionName":"s1"}');
    expect(signed.headers["Host"]).toBe("gw.example:8443");
    expect(signed.headers["X-Amz-Date"]).toBe("20261123T102030Z");
    expect(signed.headers["X-Amz-X509"]).toBe(new X509Certificate(leaf.certPem).raw.toString("base64"));
    expect(signed.headers["X-Amz-X509-Chain"]).toBe(new X509Certificate(inter.certPem).raw.toString("base64"));

    const auth = signed.headers["Authorization"]!;
    expect(auth).toBe(
      `${algorithm} Credential=${leaf.serialDecimal}/20261123/us-east-1/rolesanywhere/aws4_request, ` +
        `SignedHeaders=content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain, Signature=${auth.split("Signature=")[1]}`,
    );

    // The canonical request signs the real path (prefix included) and the wire query.
    const lines = signed.canonicalRequest.split("\n");
    expect(lines[0]).toBe("POST");
    expect(lines[1]).toBe("/prefix/sessions");
    expect(lines[2]).toBe(signed.url.split("?")[1]);
    expect(lines.at(-1)).toBe(createHash("sha256").update(signed.body).digest("hex"));
    expect(signed.stringToSign).toBe(
      [algorithm, "20261123T102030Z", "20261123/us-east-1/rolesanywhere/aws4_request", createHash("sha256").update(signed.canonicalRequest).digest("hex")].join("\n"),
    );
    const signature = Buffer.from(auth.split("Signature=")[1]!, "hex");
    const publicKey = new X509Certificate(leaf.certPem).publicKey;
    expect(cryptoVerify("sha256", Buffer.from(signed.stringToSign), publicKey, signature)).toBe(true);
    expect(cryptoVerify("sha256", Buffer.from(signed.stringToSign.replace("us-east-1", "us-east-2")), publicKey, signature)).toBe(false);
  });

  it("signs for the real region of a FIPS pseudo-region", async () => {
    const signed = await createSignedCreateSessionRequest(signer, sessionParams({ region: "us-east-1-fips" }), { env: {}, date: new Date("2026-01-02T03:04:05Z") });
    expect(signed.url.startsWith("https://rolesanywhere-fips.us-east-1.amazonaws.com/sessions?")).toBe(true);
    expect(signed.headers["Authorization"]).toContain("/20260102/us-east-1/rolesanywhere/aws4_request");
  });
});

describe("a signer without a certificate", () => {
  it("is CERTIFICATE_MISSING, before anything is signed", async () => {
    const ca = createCa(join(dir, "nocert"), { name: "No Cert CA" });
    const leaf = issueLeaf(ca, join(dir, "nocert"), { name: "leaf" });
    const signer = new KeyFileSigner(leaf.keyPath, undefined);
    const error = await createSignedCreateSessionRequest(signer, sessionParams(), { env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentError);
    expect(error).toMatchObject({ code: "CERTIFICATE_MISSING", message: "unable to find certificate", category: "input" });
    expect((error as AgentError).hint).toContain("--certificate");
    expect(signer.signCalls).toBe(0);
  });
});

describe("arguments from plain JavaScript", () => {
  it("are a USAGE error naming the argument and what it must be, not a TypeError, for both entry points", async () => {
    const ca = createCa(join(dir, "js"), { name: "JS CA" });
    const leaf = issueLeaf(ca, join(dir, "js"), { name: "leaf" });
    const signer = new KeyFileSigner(leaf.keyPath, leaf.certPem);
    const params = sessionParams();
    const cases: [unknown[], string][] = [
      [[null, params], "the signer must be an object"],
      [[{}, params], "signer.certificate must be a function"],
      [[{ ...signer, certificate: () => Promise.resolve(undefined) }, params], "signer.certificateChain must be a function"],
      [[signer, null], "the session parameters must be an object"],
      [[signer, { profileArn: PROFILE, roleArn: ROLE, durationSeconds: 3600 }], "trustAnchorArn must be a string"],
      [[signer, { ...params, trustAnchorArn: 5 }], "trustAnchorArn must be a string"],
      [[signer, { ...params, durationSeconds: "3600" }], "durationSeconds must be a number"],
      [[signer, params, null], "the options must be an object"],
      [[signer, params, { endpoint: 5 }], "endpoint must be a string"],
      [[signer, params, { env: "PATH=/bin" }], "env must be an object of strings (like process.env)"],
      [[signer, params, { env: { AWS_MAX_ATTEMPTS: 5 } }], "env must be an object of strings (like process.env)"],
      [[signer, params, { date: "yesterday" }], "date must be a valid Date"],
      [[signer, params, { date: new Date("never") }], "date must be a valid Date"],
      [[signer, params, { maxAttempts: "3" }], "maxAttempts must be a number"],
      [[signer, params, { timeoutMs: -1 }], "timeoutMs must be a whole number from 1 to 3600000 (got -1)"],
      [[signer, params, { maxAttempts: 11 }], "maxAttempts must be a whole number from 1 to 10 (got 11)"],
    ];
    for (const [args, message] of cases) {
      for (const call of [createSignedCreateSessionRequest, createSession] as ((...a: unknown[]) => Promise<unknown>)[]) {
        if (call === createSession && message.startsWith("date")) continue;
        const error = await call(...args).catch((e: unknown) => e);
        expect(error, `${call.name} ${message}`).toBeInstanceOf(AgentError);
        expect(error).toMatchObject({ code: "USAGE", message });
      }
    }
    expect(signer.signCalls).toBe(0);
  });

  it("are a USAGE error for the exported building blocks too (endpoint, region, request)", () => {
    const endpoint = parseEndpointUrl("https://h.example");
    const calls: [() => unknown, string][] = [
      [() => buildCreateSessionRequest(endpoint, null as never), "the session parameters must be an object"],
      [() => buildCreateSessionRequest(endpoint, { ...sessionParams(), roleArn: undefined } as never), "roleArn must be a string"],
      [() => resolveSessionRegion({ trustAnchorArn: TRUST_ANCHOR } as never), "profileArn must be a string"],
      [() => resolveSessionRegion({ ...sessionParams(), region: 5 } as never), "region must be a string"],
      [() => resolveEndpoint(null as never), "where must be an object"],
      [() => resolveEndpoint({ region: "us-east-1" }, null as never), "the settings must be an object"],
      [() => resolveEndpoint({ region: "us-east-1" }, { env: { AWS_ENDPOINT_URL: 5 } } as never), "env must be an object of strings"],
      [() => regionalEndpointUrl(PARTITIONS[0]!, "us-east-1", null as never), "flags must be an object"],
      [() => regionalEndpointUrl(PARTITIONS[0]!, "us-east-1", { fips: "yes" } as never), "flags.fips must be a boolean"],
    ];
    for (const [call, message] of calls) expect(call, message).toThrow(expect.objectContaining({ code: "USAGE", message: expect.stringContaining(message) }));
  });
});
