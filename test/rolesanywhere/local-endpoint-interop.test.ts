/**
 * The CreateSession client against the project's local endpoint, which verifies requests the way the
 * service does (an independent verifier: scope, date, serial, signature, certificate path).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../../src/local-endpoint/server.js";
import { createSession } from "../../src/rolesanywhere/create-session.js";
import type { CreateSessionOptions } from "../../src/rolesanywhere/types.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { KeyFileSigner, sessionParams } from "./support.js";
import { failure } from "../helpers/agent-error.js";

const { dir, cleanup } = makeTempDir("raa-interop-");
const root = createCa(dir, { name: "Interop Root CA" });
const intermediate = createCa(dir, { name: "Interop Issuing CA", parent: root });
const ecLeaf = issueLeaf(intermediate, dir, { name: "interop-ec", keyType: "p256" });
const rsaLeaf = issueLeaf(root, dir, { name: "interop-rsa", keyType: "rsa2048" });
const strangerCa = createCa(join(dir, "stranger"), { name: "Stranger CA" });
const strangerLeaf = issueLeaf(strangerCa, join(dir, "stranger"), { name: "stranger" });

let endpoint: LocalEndpoint;
beforeAll(async () => {
  endpoint = await startLocalEndpoint({ trustAnchors: root.certPath, port: 0 });
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

const options = (extra: Partial<CreateSessionOptions> = {}): CreateSessionOptions => ({
  endpoint: endpoint.url,
  env: {},
  sleep: async () => {},
  ...extra,
});

describe("createSession against the local endpoint", () => {
  it("an EC key under an intermediate (sent as X-Amz-X509-Chain) gets the credentials the endpoint issued", async () => {
    const signer = new KeyFileSigner(ecLeaf.keyPath, ecLeaf.certPem, [intermediate.certPem]);
    const result = await createSession(signer, sessionParams({ roleSessionName: "interop" }), options());
    const issued = endpoint.issued.at(-1)!;
    expect(result.credentials).toEqual(issued.credentials);
    expect(result).toMatchObject({ assumedRoleArn: issued.assumedRoleArn, assumedRoleId: issued.assumedRoleId, roleArn: issued.roleArn });
    expect(issued.roleSessionName).toBe("interop");
    expect(issued.certificateSerial).toBe(ecLeaf.serialDecimal);
    expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(endpoint.requests.at(-1)).toMatchObject({ operation: "CreateSession", status: 201 });
  });

  it("an RSA key issued by the trust anchor itself", async () => {
    const result = await createSession(new KeyFileSigner(rsaLeaf.keyPath, rsaLeaf.certPem), sessionParams(), options());
    expect(result.credentials.accessKeyId).toBe(endpoint.issued.at(-1)!.credentials.accessKeyId);
  });

  it("without the intermediate, the refusal carries the trust-anchor / --intermediates hint", async () => {
    const e = await failure(createSession(new KeyFileSigner(ecLeaf.keyPath, ecLeaf.certPem), sessionParams(), options()));
    expect(e.code).toBe("ACCESS_DENIED");
    expect(e.message).toContain("Untrusted signing certificate");
    expect(e.hint).toContain("--intermediates");
  });

  it("a certificate from another CA is refused, once", async () => {
    const before = endpoint.requests.length;
    const e = await failure(createSession(new KeyFileSigner(strangerLeaf.keyPath, strangerLeaf.certPem), sessionParams(), options()));
    expect(e.code).toBe("ACCESS_DENIED");
    expect(endpoint.requests.length - before).toBe(1);
  });

  it("a client clock ten minutes slow is refused, and the hint names the skew", async () => {
    const slow = () => new Date(Date.now() - 10 * 60_000);
    const signer = new KeyFileSigner(rsaLeaf.keyPath, rsaLeaf.certPem);
    const e = await failure(createSession(signer, sessionParams(), options({ now: slow })));
    expect(e.code).toBe("ACCESS_DENIED");
    expect(e.message).toContain("Signature expired");
    expect(e.hint).toMatch(/^the system clock is (9 min 5\d s|10 min( \d+ s)?) behind the endpoint's/);
  });

  it("an endpoint whose clock runs ten minutes ahead says so in its Date, and the hint names the skew", async () => {
    // Before: the Date header was Node's real time whatever `clock` said: no skew seen (clockSkewMs ~0).
    const clock = () => new Date(Date.now() + 10 * 60_000);
    const ahead = await startLocalEndpoint({ trustAnchors: root.certPath, port: 0, clock });
    try {
      const signer = new KeyFileSigner(rsaLeaf.keyPath, rsaLeaf.certPem);
      const e = await failure(createSession(signer, sessionParams(), options({ endpoint: ahead.url })));
      expect(e.message).toContain("Signature expired");
      expect(e.hint).toMatch(/^the system clock is (9 min 5\d s|10 min( \d+ s)?) behind the endpoint's/);
    } finally {
      await ahead.close();
    }
  });

  it("injected 503s are retried until the endpoint answers", async () => {
    endpoint.failNext(2, 503);
    const before = endpoint.requests.length;
    const result = await createSession(new KeyFileSigner(rsaLeaf.keyPath, rsaLeaf.certPem), sessionParams(), options({ maxAttempts: 3 }));
    expect(result.credentials.accessKeyId).toBe(endpoint.issued.at(-1)!.credentials.accessKeyId);
    expect(endpoint.requests.slice(before).map((r) => r.status)).toEqual([503, 503, 201]);
  });

  it("an injected 429 storm ends in THROTTLED", async () => {
    endpoint.failNext(2, 429);
    const e = await failure(createSession(new KeyFileSigner(rsaLeaf.keyPath, rsaLeaf.certPem), sessionParams(), options({ maxAttempts: 2 })));
    expect(e.code).toBe("THROTTLED");
  });
});
