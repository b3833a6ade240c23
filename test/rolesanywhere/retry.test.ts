/**
 * The retry policy at its edges: 1 attempt, 10 and more in AWS_MAX_ATTEMPTS, statuses 299/300/499/500 for
 * refusalOf, and what afterAttempts keeps. Each test was written because a mutation of the line it checks went
 * unnoticed by the other tests (test/rolesanywhere/pure.test.ts holds the policy's main cases).
 */
import { describe, expect, it } from "vitest";
import { NetworkError, ServiceError } from "../../src/errors.js";
import { TransportError } from "../../src/rolesanywhere/network-errors.js";
import { afterAttempts, maxAttemptsFrom, refusalOf } from "../../src/rolesanywhere/retry.js";

describe("maxAttempts", () => {
  it("1 is enough, as an option and in AWS_MAX_ATTEMPTS; several digits are read", () => {
    expect(maxAttemptsFrom(1, {})).toBe(1);
    expect(maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: "1" })).toBe(1);
    expect(maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: "12" })).toBe(12);
  });

  it("says what is wrong and how to fix it", () => {
    expect(() => maxAttemptsFrom(0, {})).toThrow(
      expect.objectContaining({ code: "USAGE", message: "maxAttempts must be a whole number of at least 1, not 0" }),
    );
    expect(() => maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: "0" })).toThrow(expect.objectContaining({
      code: "USAGE",
      message: "AWS_MAX_ATTEMPTS must be a whole number of at least 1, not '0'",
      hint: "fix or unset AWS_MAX_ATTEMPTS",
    }));
  });
});

describe("refusalOf at the status edges", () => {
  const transport = (status: number) => new TransportError("NETWORK_ERROR", "x", false, { status });

  it("3xx and 4xx (but 429) from something in front of the service are 'blocked'; 2xx, 5xx, no status are not", () => {
    for (const status of [300, 499]) expect(refusalOf(transport(status))).toBe("blocked");
    // 429: throttling, retried at its own pace.
    for (const status of [299, 429, 500]) expect(refusalOf(transport(status))).toBeUndefined();
    expect(refusalOf(new NetworkError("TIMEOUT", "total"))).toBeUndefined();
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
