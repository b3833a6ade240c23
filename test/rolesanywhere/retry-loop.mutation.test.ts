/**
 * withRetries' own rules, each pinned here because a mutation of its line went unnoticed by the unit tests that import
 * retry.ts (a daemon-path test elsewhere saw one of them): a daemon's call (`retryThrottled: false`) never retries a
 * 429 but still a 5xx; a wait that would reach the call's time left is not made, even one that would end just on it;
 * an error that is neither the service's nor the network's keeps its class after retries; the default sleep waits.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthError, NetworkError, ServiceError, type AgentError } from "../../src/errors.js";
import { sleep, withRetries, type RetryLoop } from "../../src/rolesanywhere/retry.js";

const throttled = (retryAfterMs?: number) =>
  new ServiceError("THROTTLED", "CreateSession was throttled (HTTP 429 ThrottlingException)", { status: 429, serviceCode: "ThrottlingException", retryAfterMs });
const unavailable = () => new ServiceError("SERVICE_ERROR", "CreateSession failed (HTTP 503)", { status: 503, serviceCode: "UnknownError" });

/** Runs withRetries over `failures` (then success), recording each attempt and each wait. */
async function attempts(failures: (() => AgentError)[], loop: Partial<RetryLoop> = {}) {
  const made: number[] = [];
  const waits: number[] = [];
  const outcome = await withRetries(async (n) => {
    made.push(n);
    const failure = failures.shift();
    if (failure) throw failure();
    return "credentials";
  }, {
    maxAttempts: 5, random: () => 0.5, remainingMs: () => 60_000,
    sleep: async (ms) => void waits.push(ms),
    ...loop,
  }).catch((error: unknown) => error);
  return { outcome, made, waits };
}

describe("withRetries in a daemon's call (retryThrottled: false)", () => {
  it("a 429 ends the call at its first attempt, the error as it was: the refresh engine paces it", async () => {
    const { outcome, made, waits } = await attempts([() => throttled(1000), () => throttled(1000)], { retryThrottled: false });
    expect(made).toEqual([1]);
    expect(waits).toEqual([]);
    expect(outcome).toBeInstanceOf(ServiceError);
    expect((outcome as ServiceError).code).toBe("THROTTLED");
    expect((outcome as Error).message).not.toMatch(/after \d+ attempts/);
  });

  it("a 503 is still retried there; a 429 after it ends the call", async () => {
    const served = await attempts([unavailable], { retryThrottled: false });
    expect(served).toMatchObject({ outcome: "credentials", made: [1, 2] });
    const ended = await attempts([unavailable, () => throttled()], { retryThrottled: false });
    expect(ended.made).toEqual([1, 2]);
    expect((ended.outcome as ServiceError).code).toBe("THROTTLED");
    expect((ended.outcome as Error).message).toMatch(/\(after 2 attempts\)$/);
  });

  it("left out or true (credential-process, update --once off a terminal, the SDK): a 429 is retried", async () => {
    for (const retryThrottled of [undefined, true]) {
      expect(await attempts([() => throttled(), () => throttled()], { retryThrottled })).toMatchObject({ outcome: "credentials", made: [1, 2, 3] });
    }
  });
});

describe("withRetries within the call's time left", () => {
  it("a wait that would end just when the time runs out is not made (nothing would be left for the attempt)", async () => {
    // Retry-After 1 s, 1 s left: the wait is 1,000 ms + jitter from 0, exactly the time left.
    const { outcome, made, waits } = await attempts([() => throttled(1000)], { random: () => 0, remainingMs: () => 1000 });
    expect(made).toEqual([1]);
    expect(waits).toEqual([]);
    expect((outcome as ServiceError).code).toBe("THROTTLED");
  });

  it("one past the time left is not made either; one under it is", async () => {
    expect((await attempts([() => throttled(1000)], { random: () => 0, remainingMs: () => 999 })).made).toEqual([1]);
    const fits = await attempts([() => throttled(1000)], { random: () => 0, remainingMs: () => 1001 });
    expect(fits).toMatchObject({ outcome: "credentials", made: [1, 2], waits: [1000] });
  });

  it("a Retry-After far past the call's deadline ends it at once, never sleeping past it", async () => {
    const { made, waits } = await attempts([() => throttled(120_000)], { remainingMs: () => 30_000 });
    expect(made).toEqual([1]);
    expect(waits).toEqual([]);
  });
});

describe("afterAttempts keeps the class of an error that is neither the service's nor the network's", () => {
  it("a wrong PIN on the second attempt stays an AuthError (exit 4, never retried by a daemon), not a network error", async () => {
    const wrongPin = new AuthError("PIN_INCORRECT", "the PIN is incorrect");
    const { outcome, made } = await attempts([unavailable, () => wrongPin]);
    expect(made).toEqual([1, 2]);
    expect(outcome).toBe(wrongPin);
    expect(outcome).not.toBeInstanceOf(NetworkError);
  });
});

describe("the default sleep", () => {
  afterEach(() => void vi.useRealTimers());

  it("resolves once its time has passed, not before", async () => {
    vi.useFakeTimers();
    let done = false;
    const waiting = sleep(1000).then(() => void (done = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect(done).toBe(true);
  });
});
