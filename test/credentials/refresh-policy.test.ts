import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DEFAULT_REFRESH_POLICY as P, isUsable, refreshTimeFor, retryDelay } from "../../src/credentials/refresh-policy.js";

const MIN = 60_000;

describe("refresh policy", () => {
  const MARGIN = P.expiryMarginMs;

  it("refreshes 5 minutes before the credentials stop being served (10 s before expiry) for an hour-long session", () => {
    expect(refreshTimeFor(0, 60 * MIN)).toBe(55 * MIN - MARGIN);
    expect(refreshTimeFor(0, 15 * MIN)).toBe(10 * MIN - MARGIN);
  });

  it("refreshes halfway through a usable window under 10 minutes", () => {
    expect(refreshTimeFor(0, 8 * MIN + MARGIN)).toBe(4 * MIN);
    expect(refreshTimeFor(1000, 1000 + 20_000)).toBe(1000 + 5_000);
  });

  it("always refreshes while the current credentials are still served, never before half their usable window", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: MARGIN, max: 12 * 60 * MIN }), (start, lifetime) => {
        const at = refreshTimeFor(start, start + lifetime);
        const usableUntil = start + lifetime - MARGIN;
        expect(at).toBeGreaterThanOrEqual(start + (usableUntil - start) / 2);
        expect(at).toBeLessThanOrEqual(usableUntil);
        expect(usableUntil - at).toBeLessThanOrEqual(5 * MIN);
        if (usableUntil > start) expect(at).toBeLessThan(usableUntil);
      }),
    );
  });

  it("treats credentials as unusable 10 seconds before they expire", () => {
    expect(isUsable(100_000, 89_999)).toBe(true);
    expect(isUsable(100_000, 90_000)).toBe(false);
  });

  it("backs off exponentially with jitter, between the minimum interval and the cap", () => {
    expect(retryDelay(1, () => 0)).toBe(1000);
    expect(retryDelay(2, () => 0)).toBe(1000);
    expect(retryDelay(3, () => 0)).toBe(2000);
    expect(retryDelay(3, () => 0.999999)).toBe(4000);
    expect(retryDelay(50, () => 0.999999)).toBe(60_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const d = retryDelay(n, () => r);
        const ceiling = Math.min(P.retryMaxMs, P.retryBaseMs * 2 ** Math.min(n - 1, 30));
        expect(d).toBeGreaterThanOrEqual(Math.max(P.minRetryIntervalMs, Math.floor(ceiling / 2)));
        expect(d).toBeLessThanOrEqual(Math.max(P.minRetryIntervalMs, ceiling));
      }),
    );
  });
});
