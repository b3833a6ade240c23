/**
 * The local endpoint's `rateLimit` (`--rate-limit N`): at most N CreateSession requests in any one second,
 * the rest answered as the service throttles (HTTP 429 ThrottlingException, Retry-After), which our client reads
 * as THROTTLED and retries after the Retry-After.
 */
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { RateLimit, retryAfterSeconds } from "../../src/local-endpoint/rate-limit.js";
import { startLocalEndpoint, type LocalEndpoint } from "../../src/local-endpoint/server.js";
import { createSession } from "../../src/rolesanywhere/create-session.js";
import { createSigner } from "../../src/signers/factory.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { ARNS, identity, send, signedCreateSession } from "./support.js";

describe("RateLimit (sliding one-second window)", () => {
  it("admits N per second, tells the others how long until a slot frees up, and does not count refusals", () => {
    let now = 10_000;
    const limit = new RateLimit(3, () => now);
    expect([limit.take(), limit.take(), limit.take()]).toEqual([1, 2, 3].map(() => ({ admitted: true, at: 10_000 })));
    now += 400;
    expect(limit.take()).toEqual({ admitted: false, retryAfterMs: 600 });
    now += 599;
    expect(limit.take()).toEqual({ admitted: false, retryAfterMs: 1 });
    now += 1; // the first three leave the window together
    expect([limit.take(), limit.take(), limit.take(), limit.take()].map((d) => d.admitted)).toEqual([true, true, true, false]);
  });

  it("property: whatever the arrival times, no one-second window ever holds more than N admitted requests", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 }), (n, gaps) => {
        let now = 0;
        const limit = new RateLimit(n, () => now);
        const admitted: number[] = [];
        for (const gap of gaps) {
          now += gap;
          const d = limit.take();
          if (d.admitted) admitted.push(now);
          else {
            expect(d.retryAfterMs).toBeGreaterThan(0);
            expect(d.retryAfterMs).toBeLessThanOrEqual(1000);
          }
        }
        for (let i = n; i < admitted.length; i++) expect(admitted[i]! - admitted[i - n]!).toBeGreaterThanOrEqual(1000);
      }),
    );
  });

  it("refuses a limit that is not a whole number from 1 to 100000", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 100_001]) expect(() => new RateLimit(bad, Date.now)).toThrow(expect.objectContaining({ code: "USAGE" }));
  });

  it("Retry-After is in whole seconds, rounded up, at least 1", () => {
    expect([1, 999, 1000, 1001, 0].map(retryAfterSeconds)).toEqual([1, 1, 1, 2, 1]);
  });
});

describe("local endpoint with rateLimit", () => {
  const { dir, cleanup } = makeTempDir("raa-local-rate-");
  const ca = createCa(join(dir, "ca"), { name: "Rate CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "rate-device", keyType: "p256" });
  let endpoint: LocalEndpoint;
  beforeAll(async () => {
    endpoint = await startLocalEndpoint({ trustAnchors: ca.certPem, rateLimit: 2 });
  });
  afterAll(async () => {
    await endpoint?.close();
    cleanup();
  });

  it("answers CreateSession requests above the rate as the service does: 429 ThrottlingException, Retry-After, Rate exceeded", async () => {
    const device = identity(leaf);
    const requests = await Promise.all(Array.from({ length: 5 }, () => signedCreateSession(endpoint.url, device)));
    const answers = await Promise.all(requests.map((r) => send(endpoint.url, r)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, 201, 429, 429, 429]);
    for (const a of answers.filter((a) => a.status === 429)) {
      expect(a.headers["x-amzn-errortype"]).toBe("ThrottlingException");
      expect(a.headers["retry-after"]).toBe("1");
      expect(a.headers["content-type"]).toBe("application/json");
      expect(a.json()).toEqual({ message: "Rate exceeded" });
    }
    const throttled = endpoint.requests.filter((r) => r.status === 429);
    expect(throttled).toHaveLength(3);
    // An issued session's log line says when the limiter admitted it, on its own clock (the log's time is later).
    for (const r of endpoint.requests.filter((r) => r.status === 201)) {
      expect(r.reason).toMatch(/ to certificate serial \d+; admitted at \d+(\.\d+)? ms on the rate limit's monotonic clock$/);
    }
    expect(throttled[0]!.reason).toMatch(/^Rate exceeded \(more than 2 CreateSession requests in one second; Retry-After: 1\)$/);
  });

  it("throttles before it verifies anything, and leaves STS alone", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const bad = await signedCreateSession(endpoint.url, identity(leaf), { region: "eu-west-1" });
    const first = await Promise.all([0, 1, 2].map(() => send(endpoint.url, bad)));
    expect(first.map((a) => a.status).sort()).toEqual([403, 403, 429]); // two verified (and refused), one throttled
    const sts = await send(endpoint.url, { method: "POST", target: "/", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "Action=GetCallerIdentity&Version=2011-06-15" });
    expect(sts.status).not.toBe(429);
  });

  it("our CreateSession client reads it as THROTTLED and gets through by waiting for the Retry-After", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const params = {
      trustAnchorArn: parseTrustAnchorArn(ARNS.trustAnchorArn),
      profileArn: parseProfileArn(ARNS.profileArn),
      roleArn: parseRoleArn(ARNS.roleArn),
      durationSeconds: 900,
    };
    const signer = await createSigner({ certificate: leaf.certPath, privateKey: leaf.keyPath });
    try {
      const sleeps: number[] = [];
      const sleep = async (ms: number) => {
        sleeps.push(ms);
        await new Promise((resolve) => setTimeout(resolve, ms));
      };
      const before = endpoint.requests.length;
      const calls = Array.from({ length: 3 }, () => createSession(signer, params, { endpoint: endpoint.url, env: {}, maxAttempts: 3, sleep }));
      const results = await Promise.allSettled(calls);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
      expect(endpoint.requests.slice(before).map((r) => r.status).sort()).toEqual([201, 201, 201, 429]);
      expect(sleeps).toHaveLength(1);
      expect(sleeps[0]).toBeGreaterThanOrEqual(1000); // Retry-After: 1, then full jitter over as long again
      expect(sleeps[0]).toBeLessThan(2000);

      // A caller that allows one attempt gets the throttling error, in the service's words.
      await Promise.all([0, 1].map(() => createSession(signer, params, { endpoint: endpoint.url, env: {}, maxAttempts: 1 }).catch(() => {})));
      const error = await createSession(signer, params, { endpoint: endpoint.url, env: {}, maxAttempts: 1 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "THROTTLED", status: 429, serviceCode: "ThrottlingException", retryAfterMs: 1000 });
      expect((error as Error).message).toContain("HTTP 429 ThrottlingException: Rate exceeded");
    } finally {
      await signer.close();
    }
  });
});
