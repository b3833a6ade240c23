/**
 * Property tests for the text parsers that take outside data: PKCS#11 URIs (RFC 7512), ARNs, the agent's
 * JSON config, CreateSession responses (success bodies and error answers) and, for the local test
 * endpoint, incoming CreateSession requests. Each either parses or throws an AgentError.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parseArn, parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { parseConfig } from "../../src/config/parse-config.js";
import { parseLocalEndpointConfig } from "../../src/local-endpoint/config.js";
import { verifyCreateSessionRequest } from "../../src/local-endpoint/verify-request.js";
import { wireRequest } from "../../src/local-endpoint/wire-request.js";
import { errorFromResponse, parseCreateSessionResponse } from "../../src/rolesanywhere/response.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../../src/pkcs11/uri.js";
import { mutationOf, parsesOrAgentError, printTallies, randomBytes, runs } from "./fuzz-support.js";

afterAll(() => printTallies("text"));

const TA = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta-1";
const PA = "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/pr-1";
const RA = "arn:aws:iam::123456789012:role/Gateway";

/** Text mutations: the byte mutations of fuzz-support, read back as latin1 and as UTF-8 (with replacement characters). */
const textMutationOf = (valid: string) =>
  fc.tuple(mutationOf(Buffer.from(valid, "utf8")), fc.boolean()).map(([b, utf8]) => b.toString(utf8 ? "utf8" : "latin1"));

/** Strings made of the characters a parser cares about, so random inputs get past the first check. */
const alphabetString = (chars: string, maxLength = 120) => fc.array(fc.constantFrom(...chars.split("")), { maxLength }).map((a) => a.join(""));

describe("PKCS#11 URIs", () => {
  const VALID = [
    "pkcs11:token=gw;object=key;type=private?pin-value=123456&module-path=/usr/lib/softhsm/libsofthsm2.so",
    "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=0123456789abcdef;token=My%20Token;id=%01%02%03;slot-id=1",
    "pkcs11:library-version=2.40;library-manufacturer=OpenSC;slot-description=Yubikey;object=cert?pin-source=file:/etc/pin",
  ];
  const parse = (s: string) => {
    const uri = parsePkcs11Uri(s);
    formatPkcs11Uri(uri); // what read-certificate-data prints back
  };
  it("valid URIs parse", async () => {
    for (const s of VALID) expect(await parsesOrAgentError("PKCS#11 URI: fixtures", () => parse(s)), s).toBe(true);
  });
  it("mutated valid URIs", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...VALID).chain(textMutationOf), async (s) => void (await parsesOrAgentError("PKCS#11 URI: mutated", () => parse(s)))), { numRuns: runs(1500) });
  });
  it("random strings over the URI alphabet", async () => {
    const arb = alphabetString("pkcs11:;?&=%0123456789abcdefABCDEF-_./ tokenobjectidslpinvaluemodule\u00e9\u0000");
    await fc.assert(fc.asyncProperty(arb.map((s) => `pkcs11:${s}`), async (s) => void (await parsesOrAgentError("PKCS#11 URI: random", () => parse(s)))), { numRuns: runs(1500) });
  });
  it("arbitrary unicode", async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: "binary", maxLength: 80 }).map((s) => `pkcs11:${s}`), async (s) => void (await parsesOrAgentError("PKCS#11 URI: unicode", () => parse(s)))), { numRuns: runs(500) });
  });
});

describe("ARNs", () => {
  const parsers = [parseArn, parseTrustAnchorArn, parseProfileArn, parseRoleArn] as const;
  const all = (s: string) => {
    let ok = false;
    for (const p of parsers) {
      try {
        p(s);
        ok = true;
      } catch (e) {
        if (!(e instanceof Error) || !("code" in e)) throw e;
      }
    }
    if (!ok) parseArn(s); // throws the AgentError for the tally
  };
  it("mutated ARNs", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(TA, PA, RA).chain(textMutationOf), async (s) => void (await parsesOrAgentError("ARN: mutated", () => all(s)))), { numRuns: runs(1500) });
  });
  it("random strings over the ARN alphabet", async () => {
    const arb = alphabetString("arn:aws-cniolesyhr/1234567890.*_\u00e9", 80);
    await fc.assert(fc.asyncProperty(arb, async (s) => void (await parsesOrAgentError("ARN: random", () => all(`arn:${s}`)))), { numRuns: runs(1500) });
  });
});

describe("config files", () => {
  const valid = JSON.stringify({
    version: 1,
    profiles: {
      gw: {
        certificate: "certs/gw.pem",
        "private-key": "pkcs11:token=gw;object=key?module-path=/usr/lib/softhsm/libsofthsm2.so",
        "trust-anchor-arn": TA,
        "profile-arn": PA,
        "role-arn": RA,
        "session-duration": 900,
        "pkcs11-pin": "file:pin.txt",
        "role-session-name": "gw-1",
      },
      file: { certificate: "/c.pem", "private-key": "~/k.pem", "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": RA },
    },
  }, null, 1);
  const parse = (s: string) => parseConfig(s, "/etc/raa/config.json", "/home/u");
  it("the fixture parses", async () => {
    expect(await parsesOrAgentError("config: fixtures", () => parse(valid))).toBe(true);
  });
  it("mutated config text", async () => {
    await fc.assert(fc.asyncProperty(textMutationOf(valid), async (s) => void (await parsesOrAgentError("config: mutated text", () => parse(s)))), { numRuns: runs(1500) });
  });
  it("arbitrary JSON values in place of the config and of each setting", async () => {
    const base = JSON.parse(valid) as { profiles: { gw: Record<string, unknown> } };
    const keys = [...Object.keys(base.profiles.gw), "unknown-key", "__proto__", "constructor"];
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(...keys), fc.boolean(), async (v, key, whole) => {
        const doc = whole ? v : { ...base, profiles: { gw: { ...base.profiles.gw, [key]: v } } };
        await parsesOrAgentError("config: JSON values", () => parse(JSON.stringify(doc)));
      }),
      { numRuns: runs(1500) },
    );
  });
  it("local endpoint config (arbitrary JSON)", async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (v) => void (await parsesOrAgentError("local endpoint config: JSON values", () => parseLocalEndpointConfig(v)))), { numRuns: runs(800) });
  });
});

describe("CreateSession responses", () => {
  const context = { receivedAt: new Date("2026-01-01T00:00:00Z"), endpoint: "https://rolesanywhere.eu-west-1.amazonaws.com", region: "eu-west-1" };
  const good = JSON.stringify({
    credentialSet: [{
      assumedRoleUser: { arn: "arn:aws:sts::123456789012:assumed-role/Gateway/gw", assumedRoleId: "AROA:gw" },
      credentials: { accessKeyId: "ASIAFUZZ", expiration: "2026-01-01T01:00:00Z", secretAccessKey: "secret/key+", sessionToken: "token==" },
      packedPolicySize: 10, roleArn: RA, sourceIdentity: "CN=gw",
    }],
    subjectArn: "arn:aws:rolesanywhere:eu-west-1:123456789012:subject/s",
  });
  const respond = (status: number, body: Buffer | string, headers: Record<string, string | string[]> = {}) => ({ status, headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body) });
  const handle = (status: number, body: Buffer | string, headers: Record<string, string | string[]> = {}) => {
    const r = respond(status, body, headers);
    if (status >= 200 && status < 300) return parseCreateSessionResponse(r, context);
    const e = errorFromResponse(r, context);
    if (!(e instanceof Error) || typeof (e as { code?: unknown }).code !== "string") throw new Error("errorFromResponse did not return an AgentError");
    throw e;
  };
  it("the well-formed answer parses", async () => {
    expect(await parsesOrAgentError("CreateSession: fixtures", () => handle(201, good))).toBe(true);
  });
  it("mutated 201 bodies", async () => {
    await fc.assert(fc.asyncProperty(mutationOf(Buffer.from(good)), async (b) => void (await parsesOrAgentError("CreateSession: mutated 201 body", () => handle(201, b)))), { numRuns: runs(1500) });
  });
  it("arbitrary JSON at every level of the body", async () => {
    const base = JSON.parse(good) as { credentialSet: [{ credentials: Record<string, unknown> }] };
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom("body", "credentialSet", "credentials", "accessKeyId", "expiration", "sessionToken"), async (v, where) => {
        const doc = structuredClone(base) as Record<string, unknown> & typeof base;
        if (where === "body") return void (await parsesOrAgentError("CreateSession: JSON values", () => handle(201, JSON.stringify(v))));
        if (where === "credentialSet") doc.credentialSet = v as never;
        else if (where === "credentials") (doc.credentialSet[0] as Record<string, unknown>)["credentials"] = v;
        else doc.credentialSet[0].credentials[where] = v;
        await parsesOrAgentError("CreateSession: JSON values", () => handle(201, JSON.stringify(doc)));
      }),
      { numRuns: runs(1500) },
    );
  });
  it("error answers: any status, headers and body give an AgentError", async () => {
    const errorBody = fc.oneof(
      randomBytes(200),
      fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v))),
      fc.record({ message: fc.string(), __type: fc.string(), code: fc.string() }).map((v) => Buffer.from(JSON.stringify(v))),
    );
    // node:http gives these headers as strings (duplicates joined with ", " or dropped; only set-cookie is an array).
    const headers = fc.dictionary(
      fc.constantFrom("x-amzn-errortype", "x-amzn-requestid", "location", "date", "retry-after", "content-type"),
      fc.oneof(fc.string({ maxLength: 60 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }).map((a) => a.join(", "))),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 100, max: 599 }), errorBody, headers, async (status, body, h) => {
        const r = await parsesOrAgentError("CreateSession: error answers", () => handle(status, body, h));
        if (status < 200 || status >= 300) expect(r).toBe(false);
      }),
      { numRuns: runs(1500) },
    );
  });
});

describe("CreateSession error codes named after Object.prototype members (found by the property above)", () => {
  const context = { receivedAt: new Date("2026-01-01T00:00:00Z"), endpoint: "https://rolesanywhere.eu-west-1.amazonaws.com", region: "eu-west-1" };
  it.each(["toString", "constructor", "hasOwnProperty", "__proto__", "valueOf"])("__type %s gives SERVICE_ERROR, not a function as the error code", (type) => {
    for (const [status, headers, body] of [
      [400, {}, JSON.stringify({ __type: type, message: "m" })],
      [401, { "x-amzn-errortype": `${type}:http://internal` }, ""],
    ] as const) {
      const e = errorFromResponse({ status, headers, body: Buffer.from(body) }, context);
      expect(e.code).toBe(status === 400 ? "VALIDATION_FAILED" : "SERVICE_ERROR");
      expect(e.category).toBe("service");
    }
  });
});

describe("local endpoint: incoming CreateSession requests", () => {
  const policy = { region: "eu-west-1", trustAnchors: [], config: undefined };
  const now = new Date("2026-01-01T00:00:00Z");
  const hex = fc.array(fc.constantFrom(..."0123456789abcdef".split("")), { maxLength: 70 }).map((a) => a.join(""));
  const authorization = fc.oneof(
    fc.string({ maxLength: 120 }),
    fc.tuple(
      fc.constantFrom("AWS4-X509-RSA-SHA256", "AWS4-X509-ECDSA-SHA256", "AWS4-X509-MLDSA", "AWS4-HMAC-SHA256"),
      fc.string({ maxLength: 25 }),
      fc.constantFrom("20260101", "2026011", "99999999"),
      fc.constantFrom("eu-west-1", "us-east-1", ""),
      fc.constantFrom("rolesanywhere", "sts"),
      fc.constantFrom("host;x-amz-date;x-amz-x509", "content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain", "host", ";;"),
      hex,
    ).map(([alg, serial, d, region, svc, signed, sig]) => `${alg} Credential=${serial}/${d}/${region}/${svc}/aws4_request, SignedHeaders=${signed}, Signature=${sig}`),
  );
  const request = fc.record({
    target: fc.oneof(fc.constant("/sessions"), fc.string({ maxLength: 40 }).map((s) => `/sessions?${s}`), fc.string({ maxLength: 30 })),
    authorization,
    date: fc.constantFrom("20260101T000000Z", "20260101T000000", "garbage", "20251231T235959Z"),
    x509: fc.oneof(fc.base64String({ maxLength: 200 }), fc.string({ maxLength: 40 })),
    chain: fc.option(fc.string({ maxLength: 60 })),
    body: fc.oneof(randomBytes(120), fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)))),
  });
  it("random requests are refused with an AgentError (ServiceError)", async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers = ["Host", "localhost", "Authorization", r.authorization, "X-Amz-Date", r.date, "X-Amz-X509", r.x509, ...(r.chain === null ? [] : ["X-Amz-X509-Chain", r.chain])];
        const ok = await parsesOrAgentError("local endpoint: CreateSession requests", () => verifyCreateSessionRequest(wireRequest("POST", r.target, headers, r.body), policy, now));
        expect(ok).toBe(false); // nothing random can be signed by a trusted key (there is none)
      }),
      { numRuns: runs(1500) },
    );
  });
});
