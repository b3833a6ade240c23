/**
 * Property tests for the local endpoint's request verifier on requests that start out correctly signed
 * (so the checks after the signature — certificate path, ARNs, parameters — see hostile input too):
 * mutations of the wire request, and correctly signed requests with arbitrary parameter values.
 */
import fc from "fast-check";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyCreateSessionRequest, type CreateSessionPolicy } from "../../src/local-endpoint/verify-request.js";
import { wireRequest } from "../../src/local-endpoint/wire-request.js";
import { Certificate } from "../../src/x509/certificate.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { identity, signedCreateSession, type Identity, type OutgoingRequest } from "../local-endpoint/support.js";
import { mutationOf, parsesOrAgentError, printTallies, runs } from "./fuzz-support.js";

const { dir, cleanup } = makeTempDir("raa-fuzz-le-");
const URL_ = "http://127.0.0.1:9911";
// The signing time, fixed for the whole file: taken once the certificates exist (openssl makes them valid from
// the second it issues them, which on a loaded machine can be seconds after this module was loaded).
let date: Date;
let policy: CreateSessionPolicy;
let id: Identity;
let valid: OutgoingRequest;

beforeAll(async () => {
  const root = createCa(dir, { name: "Fuzz Root" });
  const inter = createCa(dir, { name: "Fuzz Intermediate", parent: root });
  const leaf = issueLeaf(inter, dir, { name: "fuzz-leaf", keyType: "p256" });
  id = identity(leaf, [inter.certPem]);
  date = new Date(Math.ceil(Date.now() / 1000) * 1000);
  policy = { region: "us-east-1", trustAnchors: [new Certificate(new X509Certificate(readFileSync(root.certPath)).raw)], config: undefined };
  valid = await signedCreateSession(URL_, id, { date });
});
afterAll(() => {
  cleanup();
  printTallies("local-endpoint");
});

const verify = (r: OutgoingRequest, body: Buffer | string = r.body) =>
  verifyCreateSessionRequest(wireRequest(r.method, r.target, Object.entries(r.headers).flat(), Buffer.from(body)), policy, date);

describe("local endpoint: CreateSession requests derived from a correctly signed one", () => {
  it("the signed request verifies", async () => {
    expect(await parsesOrAgentError("local endpoint: signed fixture", () => verify(valid))).toBe(true);
  });

  it("mutated header values, target or body", async () => {
    const names = Object.keys(valid.headers);
    const mutated = fc.oneof(
      fc.constantFrom(...names).chain((name) =>
        mutationOf(Buffer.from(valid.headers[name]!, "latin1")).map((b) => ({ ...valid, headers: { ...valid.headers, [name]: b.toString("latin1").replace(/[\r\n]/g, "") } })),
      ),
      mutationOf(Buffer.from(valid.target)).map((b) => ({ ...valid, target: b.toString("latin1") })),
      mutationOf(Buffer.from(valid.body)).map((b) => ({ ...valid, body: b.toString("latin1") })),
    );
    await fc.assert(fc.asyncProperty(mutated, async (r) => void (await parsesOrAgentError("local endpoint: mutated signed request", () => verify(r)))), { numRuns: runs(800) });
  });

  it("correctly signed requests with arbitrary parameters and ARNs", async () => {
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.integer({ min: -10, max: 50_000 }), fc.string({ maxLength: 80 }));
    const arn = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom("arn:aws:rolesanywhere:us-east-1:111122223333:profile/p", "arn:aws:iam::111122223333:role/r", "arn:aws:rolesanywhere:eu-west-1:111122223333:trust-anchor/t", "arn:aws-cn:iam::1:role/x"),
    );
    const params = fc.record(
      { durationSeconds: value, roleSessionName: value, sessionName: value, extra: value },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(params, fc.record({ profileArn: arn, roleArn: arn, trustAnchorArn: arn }, { requiredKeys: [] }), fc.boolean(), async (body, arns, arnsInBody) => {
        const r = await signedCreateSession(URL_, id, { date, body, arns, arnsInBody });
        await parsesOrAgentError("local endpoint: signed request, arbitrary parameters", () => verify(r));
      }),
      { numRuns: runs(500) },
    );
  });
});

describe("local endpoint: deeply nested DER in the certificate headers", () => {
  it("X-Amz-X509 and X-Amz-X509-Chain holding SEQUENCEs nested 10 000 deep are refused with a ServiceError", async () => {
    let deep: Buffer = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 10_000; i++) {
      const n = deep.length;
      deep = Buffer.concat([Buffer.from(n < 0x80 ? [0x30, n] : n < 0x100 ? [0x30, 0x81, n] : [0x30, 0x82, n >> 8, n & 0xff]), deep]);
    }
    const b64 = deep.toString("base64");
    for (const header of ["x-amz-x509", "x-amz-x509-chain"]) {
      const name = Object.keys(valid.headers).find((h) => h.toLowerCase() === header) ?? header;
      const hostile = { ...valid, headers: { ...valid.headers, [name]: b64 } };
      expect(await parsesOrAgentError(`local endpoint: deep DER in ${header}`, () => verify(hostile)), header).toBe(false);
    }
  });
});
