/**
 * The refresh engine's waits after a 501 and a 429, seen through CredentialCache on fake timers: lines whose mutation
 * (refusalOf's `=== 501`, its THROTTLED guard, the engine's `throttled` context, the ceiling's `Math.min` with
 * retryMaxMs) no unit test of credentials/ noticed.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CredentialCache } from "../../src/credentials/credential-cache.js";
import { checkRefreshPolicy, DEFAULT_REFRESH_POLICY, retryDelay } from "../../src/credentials/refresh-policy.js";
import type { AgentError } from "../../src/errors.js";
import { errorFromResponse } from "../../src/rolesanywhere/response.js";

const MIN = 60_000;
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const context = { receivedAt: new Date(T0), endpoint: "https://rolesanywhere.eu-west-1.amazonaws.com", region: "eu-west-1" };
const page = { "content-type": "text/html" };
const aws = (type: string) => ({ "content-type": "application/json", "x-amzn-requestid": "5e1f", "x-amzn-errortype": type });
const answer = (status: number, headers: Record<string, string>, body: string) =>
  errorFromResponse({ status, headers, body: Buffer.from(body) }, context);

/** When a cache whose every CreateSession fails with `error` calls it, over `forMs` of fake time (random 0.5). */
async function callTimes(error: AgentError, forMs: number): Promise<number[]> {
  const at: number[] = [];
  const cache = new CredentialCache({
    fetch: async () => {
      at.push(Date.now() - T0);
      throw error;
    },
    random: () => 0.5,
  });
  cache.start();
  await vi.advanceTimersByTimeAsync(forMs);
  cache.stop();
  return at;
}
const gaps = (at: number[]) => at.slice(1).map((t, i) => t - at[i]!);

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => void vi.useRealTimers());

describe("a 501 (Not Implemented) from something in front of the service", () => {
  it("waits as a proxy's refusal does (ceiling 5 min), where a 502 stays at the network pace (60 s)", async () => {
    const notImplemented = answer(501, page, "<html>Not Implemented</html>");
    expect(notImplemented).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 501 });
    const blocked = gaps(await callTimes(notImplemented, 60 * MIN));
    expect(blocked.slice(-3)).toEqual([150_000, 150_000, 150_000]); // half the 5-minute ceiling, jitter 0.5
    const badGateway = gaps(await callTimes(answer(502, page, "<html>Bad Gateway</html>"), 60 * MIN));
    expect(badGateway.slice(-3)).toEqual([30_000, 30_000, 30_000]);
  });
});

describe("a 429", () => {
  it("is retried under the 30 s throttling ceiling (15 s at jitter 0.5), not the 60 s one of other failures", async () => {
    const throttled = answer(429, aws("ThrottlingException"), '{"message":"Rate exceeded"}');
    expect(throttled).toMatchObject({ code: "THROTTLED", requestId: "5e1f" });
    const at = await callTimes(throttled, 10 * MIN);
    expect(gaps(at).slice(-3)).toEqual([15_000, 15_000, 15_000]);
    // Its request id does not make it the service's refusal (an hour's ceiling): about 40 calls in 10 minutes.
    expect(at.length).toBeGreaterThan(30);
  });

  it("so is a throttling error type sent with HTTP 400 (as AWS JSON services may): not a proxy's 4xx (5 min)", async () => {
    const throttled = answer(400, aws("ThrottlingException"), '{"message":"Rate exceeded"}');
    expect(throttled).toMatchObject({ code: "THROTTLED", status: 400 });
    expect(gaps(await callTimes(throttled, 10 * MIN)).slice(-3)).toEqual([15_000, 15_000, 15_000]);
  });

  it("a custom retryMaxMs under 30 s bounds the throttling ceiling too", () => {
    const policy = { ...DEFAULT_REFRESH_POLICY, retryMaxMs: 10_000 };
    const highest = () => 1 - Number.EPSILON;
    expect(retryDelay(20, highest, policy, { throttled: true })).toBeLessThanOrEqual(10_000);
    expect(retryDelay(20, highest, DEFAULT_REFRESH_POLICY, { throttled: true })).toBe(30_000);
  });
});

describe("checkRefreshPolicy at its edges (an SDK caller's policy)", () => {
  it("takes a window starting at 0 or of no width and a delay of 0; refuses a start below 0 and a delay below 0, naming it", () => {
    for (const window of [{ refreshWindowStart: 0 }, { refreshWindowStart: 0.5, refreshWindowEnd: 0.5 }]) {
      expect(() => checkRefreshPolicy({ ...DEFAULT_REFRESH_POLICY, ...window })).not.toThrow();
    }
    expect(() => checkRefreshPolicy({ ...DEFAULT_REFRESH_POLICY, refreshWindowStart: -0.1 })).toThrow(/refresh window must satisfy/);
    expect(() => checkRefreshPolicy({ ...DEFAULT_REFRESH_POLICY, minRetryIntervalMs: 0, throttledRetryMaxMs: 0 })).not.toThrow();
    expect(() => checkRefreshPolicy({ ...DEFAULT_REFRESH_POLICY, throttledRetryMaxMs: -1 })).toThrow(
      expect.objectContaining({ code: "USAGE", message: "throttledRetryMaxMs must be a non-negative number of milliseconds, not -1" }),
    );
  });
});
