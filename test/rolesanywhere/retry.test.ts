/**
 * The retry policy at its edges: 1 attempt, 10 and 11 (capped) in AWS_MAX_ATTEMPTS, statuses 299/300/499/500 for
 * refusalOf, and what afterAttempts keeps. Each test was written because a mutation of the line it checks went
 * unnoticed by the other tests (test/rolesanywhere/pure.test.ts holds the policy's main cases).
 */
import { describe, expect, it } from "vitest";
import { NetworkError, ServiceError } from "../../src/errors.js";
import { TransportError } from "../../src/rolesanywhere/network-errors.js";
import { afterAttempts, maxAttemptsFrom, isRetryable, refusalOf, withRetries } from "../../src/rolesanywhere/retry.js";
import { seededRandom, VirtualTime } from "../../bench/lib/virtual-time.js";

describe("maxAttempts", () => {
  it("1 is enough, as an option and in AWS_MAX_ATTEMPTS; several digits are read", () => {
    expect(maxAttemptsFrom(1, {})).toBe(1);
    expect(maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: "1" })).toBe(1);
    expect(maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: "10" })).toBe(10);
  });

  it("a count above 10, set for another AWS tool (the variable is theirs too), is capped at 10, not refused", () => {
    for (const text of ["11", "20", "9".repeat(400)]) expect(maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: text })).toBe(10);
  });

  it("says what is wrong and how to fix it, in the number settings' words (the option's own check: test/settings/number-rules.test.ts)", () => {
    for (const [text, got] of [["0", "0"], ["three", "NaN"]]) {
      expect(() => maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: text })).toThrow(expect.objectContaining({
        code: "USAGE",
        message: `AWS_MAX_ATTEMPTS must be a whole number from 1 to 10 (got ${got})`,
        hint: `AWS_MAX_ATTEMPTS is '${text}': fix or unset it`,
      }));
    }
  });
});

describe("refusalOf at the status edges", () => {
  const transport = (status: number) => new TransportError("NETWORK_ERROR", "x", false, { status });

  it("3xx and 4xx (but 429) from something in front of the service are 'blocked'; 2xx, 5xx, no status are not", () => {
    for (const status of [300, 499]) expect(refusalOf(transport(status))).toBe("blocked");
    // 429: throttling, retried at its own pace.
    for (const status of [299, 429, 500, 502]) expect(refusalOf(transport(status))).toBeUndefined();
    expect(refusalOf(new NetworkError("TIMEOUT", "total"))).toBeUndefined();
  });

  it("501 Not Implemented, which no attempt within a call retries, is not retried on the short schedule either", () => {
    expect(refusalOf(transport(501))).toBe("blocked");
    const service = new ServiceError("SERVICE_UNAVAILABLE", "x", { status: 501, serviceCode: "UnknownError" });
    expect(refusalOf(service)).toBe("blocked");
  });
});

describe("isRetryable", () => {
  it("501 Not Implemented is not retried (as aws_signing_helper's SDK): no retry implements the call", () => {
    const service = (status: number) => new ServiceError("SERVICE_UNAVAILABLE", "x", { status, serviceCode: "UnknownError" });
    expect(isRetryable(service(501))).toBe(false);
    for (const status of [500, 502, 503, 504, 505, 599]) expect(isRetryable(service(status))).toBe(true);
  });
});

describe("afterAttempts", () => {
  it("after one attempt, the error itself; after more, its class kept and the original as cause", () => {
    const network = new NetworkError("TIMEOUT", "too slow");
    expect(afterAttempts(network, 1)).toBe(network);
    const again = afterAttempts(network, 2);
    expect(again).toBeInstanceOf(NetworkError);
    expect(again).not.toBeInstanceOf(ServiceError);
    expect(again).toMatchObject({ code: "TIMEOUT", message: "too slow (after 2 attempts)", cause: network });
  });
});

describe("a fleet throttled together", () => {
  /**
   * 1,000 devices, each in createSession's loop (3 attempts, 30 s), all told `Retry-After: 1` by their first attempt
   * at the same instant, on a virtual clock: when does each come back? The answers' spread is the second storm.
   */
  async function comebacks(retryAfterMs: number): Promise<number[]> {
    const time = new VirtualTime(0);
    const random = seededRandom(14);
    const at: number[] = [];
    const throttled = new ServiceError("THROTTLED", "Rate exceeded", { status: 429, serviceCode: "ThrottlingException", retryAfterMs });
    for (let device = 0; device < 1_000; device++) {
      void withRetries(async (n) => {
        if (n === 1) throw throttled;
        at.push(time.now());
      }, { maxAttempts: 3, random, sleep: time.sleep, remainingMs: () => 30_000 - time.now() }).catch(() => at.push(NaN));
    }
    await new Promise<void>((resolve) => setImmediate(resolve)); // every first attempt has failed and set its timer
    await time.runUntil(60_000);
    return at;
  }

  it("never before Retry-After, then spread over at least as long again: no 100 ms holds more than 15 % of them", async () => {
    const at = await comebacks(1_000);
    expect(at).toHaveLength(1_000);
    expect(Math.min(...at)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...at) - Math.min(...at)).toBeGreaterThanOrEqual(900);
    const per100ms = new Map<number, number>();
    for (const t of at) per100ms.set(Math.floor(t / 100), (per100ms.get(Math.floor(t / 100)) ?? 0) + 1);
    expect(Math.max(...per100ms.values())).toBeLessThanOrEqual(150);
  });

  it("a Retry-After that leaves room for a retry in the call's budget is always followed by one", async () => {
    // 20 s of a 30 s budget: the jitter on top must not push some devices past it (they would fail, not retry).
    const at = await comebacks(20_000);
    expect(at).toHaveLength(1_000);
    expect(Math.min(...at)).toBeGreaterThanOrEqual(20_000);
    expect(Math.max(...at)).toBeLessThan(30_000);
  });
});
