import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { seededRandom } from "../../bench/lib/virtual-time.js";
import {
  checkRefreshPolicy,
  DEFAULT_REFRESH_POLICY as P,
  refreshTimeFor,
  refreshWindow,
  retryDelay,
  serviceClockLead,
} from "../../src/credentials/refresh-policy.js";
import { isUsable } from "../../src/rolesanywhere/credentials.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const MARGIN = P.expiryMarginMs;
const fixed = (r: number) => () => r;
const unitDouble = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe("refresh window", () => {
  it("lies between 30 % and 85 % of the usable lifetime: 18 and 51 minutes into an hour-long session", () => {
    const usable = HOUR - MARGIN;
    expect(refreshWindow(0, HOUR)).toEqual({ from: 0.3 * usable, to: 0.85 * usable });
    expect(refreshTimeFor(0, HOUR, fixed(0))).toBe(Math.round(0.3 * usable));
    expect(refreshTimeFor(0, HOUR, fixed(0.5))).toBe(Math.round(0.575 * usable));
    expect(refreshTimeFor(0, HOUR, fixed(1 - 1e-12))).toBe(Math.round(0.85 * usable));
    expect(refreshTimeFor(1000, 1000 + 20_000, fixed(0))).toBe(1000 + 3_000); // short lifetimes: the same fractions
  });

  it("is a uniform draw: devices that obtained credentials together plan their refreshes apart", () => {
    const draws = [0.1, 0.3, 0.5, 0.7, 0.9].map((r) => refreshTimeFor(0, HOUR, fixed(r)));
    expect(new Set(draws).size).toBe(5);
    const steps = draws.slice(1).map((t, i) => t - draws[i]!);
    for (const step of steps) expect(step).toBeCloseTo(0.2 * 0.55 * (HOUR - MARGIN), -1);
  });

  it("always plans inside the window, never before it, and leaves 15 % of the lifetime for retries", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: MARGIN, max: 12 * HOUR }), unitDouble, (start, lifetime, r) => {
        const at = refreshTimeFor(start, start + lifetime, fixed(r));
        const usableUntil = start + lifetime - MARGIN;
        const { from, to } = refreshWindow(start, start + lifetime);
        expect(at).toBeGreaterThanOrEqual(Math.floor(from));
        expect(at).toBeLessThanOrEqual(Math.ceil(to));
        expect(usableUntil - at).toBeGreaterThanOrEqual(Math.floor(0.15 * (usableUntil - start)));
        if (usableUntil - start > 10) expect(at).toBeLessThan(usableUntil);
      }),
    );
  });

  it("keeps a faulty random source inside the window", () => {
    for (const r of [-1, 1, 7, Number.NaN, Number.POSITIVE_INFINITY]) {
      const at = refreshTimeFor(0, HOUR, fixed(r));
      expect(at).toBeGreaterThanOrEqual(refreshWindow(0, HOUR).from);
      expect(at).toBeLessThanOrEqual(refreshWindow(0, HOUR).to);
    }
  });

  it("refuses a window outside the lifetime", () => {
    const reversed = { ...P, refreshWindowStart: 0.9, refreshWindowEnd: 0.5 };
    expect(() => checkRefreshPolicy(reversed)).toThrow(expect.objectContaining({ code: "USAGE" })); // from JavaScript
    expect(() => checkRefreshPolicy({ ...P, refreshWindowEnd: 1 })).toThrow(/0 ≤ start ≤ end < 1/);
    expect(() => checkRefreshPolicy({ ...P, retryMaxMs: Number.NaN })).toThrow(/retryMaxMs/);
    expect(checkRefreshPolicy(P)).toBe(P);
  });

  it("refuses a window that is not numbers (JSON null, a string): null passed as 0, refreshing every second", () => {
    // Before: nulls (a policy read from JSON) compared as 0: { refreshWindowStart: null, refreshWindowEnd: null } planned
    // every refresh the moment the credentials arrived, and the cache called CreateSession once a second, forever.
    const junks = [{ refreshWindowStart: null, refreshWindowEnd: null }, { refreshWindowStart: null }, { refreshWindowStart: "0.3" },
      { refreshWindowStart: "", refreshWindowEnd: "" }, { refreshWindowEnd: [0.5] }];
    for (const junk of junks) {
      expect(() => checkRefreshPolicy({ ...P, ...junk } as never), JSON.stringify(junk)).toThrow(/the refresh window must satisfy/);
    }
  });

  it("treats credentials as unusable 10 seconds before they expire", () => {
    expect(isUsable(100_000, 89_999)).toBe(true);
    expect(isUsable(100_000, 90_000)).toBe(false);
  });
});

describe("retry delay", () => {
  it("full jitter: uniform below a ceiling that doubles from 1 s to 60 s, never under the 1 s minimum interval", () => {
    expect(retryDelay(1, fixed(0))).toBe(1000);
    expect(retryDelay(3, fixed(0))).toBe(1000);
    expect(retryDelay(3, fixed(0.5))).toBe(2000);
    expect(retryDelay(5, fixed(0.25))).toBe(4000);
    expect(retryDelay(50, fixed(0.5))).toBe(30_000);
    expect(retryDelay(50, fixed(0.999999))).toBe(60_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), unitDouble, (n, r) => {
        const d = retryDelay(n, fixed(r));
        const ceiling = Math.min(P.retryMaxMs, P.retryBaseMs * 2 ** Math.min(n - 1, 30));
        expect(d).toBeGreaterThanOrEqual(P.minRetryIntervalMs);
        expect(d).toBeLessThanOrEqual(Math.max(P.minRetryIntervalMs, ceiling));
        expect(d).toBe(Math.max(P.minRetryIntervalMs, Math.round(r * ceiling)));
      }),
    );
  });

  it("after a 429 the ceiling stops at 30 s (the daemons' only retry of it), doubling from 1 s as for any failure", () => {
    expect(retryDelay(3, fixed(0.5), P, { throttled: true })).toBe(2000);
    expect(retryDelay(50, fixed(0.999999), P, { throttled: true })).toBe(30_000);
    expect(retryDelay(50, fixed(0.999999), P, { throttled: true, retryAfterMs: 1000 })).toBe(31_000);
  });

  it("honours Retry-After: never sooner, with the jitter on top so that devices told the same do not return together", () => {
    expect(retryDelay(1, fixed(0), P, { retryAfterMs: 30_000 })).toBe(30_000);
    expect(retryDelay(4, fixed(0.5), P, { retryAfterMs: 30_000 })).toBe(45_000); // half of as long again
    expect(retryDelay(7, fixed(0.5), P, { retryAfterMs: 30_000 })).toBe(60_000); // half of the ceiling, 60 s
    expect(retryDelay(1, fixed(0), P, { retryAfterMs: 500 })).toBe(1000); // the minimum interval still holds
    expect(retryDelay(1, fixed(0), P, { retryAfterMs: 10 * HOUR })).toBe(5 * MIN); // at most 5 minutes of it
    const spread = [0.1, 0.4, 0.8].map((r) => retryDelay(6, fixed(r), P, { retryAfterMs: 1000 }));
    expect(new Set(spread).size).toBe(3);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), unitDouble, fc.integer({ min: 0, max: 5 * MIN }), (n, r, asked) => {
        const d = retryDelay(n, fixed(r), P, { retryAfterMs: asked });
        expect(d).toBeGreaterThanOrEqual(asked);
        expect(d).toBeLessThanOrEqual(Math.max(P.minRetryIntervalMs, asked + P.retryMaxMs));
      }),
    );
  });

  it("1,000 devices told the same Retry-After at their first failure come back spread over as long again", () => {
    // Before: over the first ceiling (1 s) alone, whatever was asked: told 30 s together, they came back within 1 s.
    const random = seededRandom(14);
    const at = Array.from({ length: 1_000 }, () => retryDelay(1, random, P, { retryAfterMs: 30_000 }));
    expect(Math.min(...at)).toBeGreaterThanOrEqual(30_000);
    expect(Math.max(...at) - Math.min(...at)).toBeGreaterThanOrEqual(27_000);
    const perSecond = new Map<number, number>();
    for (const t of at) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(60);
  });

  it("after a refusal (AccessDenied): the ceiling doubles from 60 s to 1 hour, and no nearing expiry makes attempts denser", () => {
    // Before: the same 1–60 s as for throttling, so 10,000 devices refused alike asked ~170 times a second forever,
    // and more often still as their credentials neared expiry (down to every second).
    const refused = { refused: true } as const;
    expect(retryDelay(1, fixed(0.5), P, refused)).toBe(30_000);
    expect(retryDelay(2, fixed(0.5), P, refused)).toBe(60_000);
    expect(retryDelay(50, fixed(0.5), P, refused)).toBe(30 * MIN);
    expect(retryDelay(50, fixed(1 - 1e-12), P, refused)).toBe(HOUR);
    expect(retryDelay(20, fixed(0.5), P, { ...refused, servedForMs: 40_000 })).toBe(30 * MIN);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), unitDouble, fc.option(fc.integer({ min: 0, max: 12 * HOUR })), (n, r, served) => {
        const d = retryDelay(n, fixed(r), P, { refused: true, servedForMs: served ?? undefined });
        const ceiling = Math.min(P.refusedRetryMaxMs, P.retryMaxMs * 2 ** Math.min(n - 1, 30));
        expect(d).toBe(Math.max(P.minRetryIntervalMs, Math.round(r * ceiling)));
      }),
    );
    // A fleet: the mean delay from the 7th refusal on is half an hour, 10,000 devices ask 5.6 times a second.
    const mean = Array.from({ length: 1000 }, (_, i) => retryDelay(7, fixed((i + 0.5) / 1000), P, refused)).reduce((a, b) => a + b) / 1000;
    expect(10_000 / (mean / 1000)).toBeLessThan(6);
    expect(() => checkRefreshPolicy({ ...P, refusedRetryMaxMs: -1 })).toThrow(/refusedRetryMaxMs/);
  });

  it("while credentials are served, the next attempt lands within the first half of the time they have left, whatever Retry-After says", () => {
    // 40 s left, a 10-minute Retry-After and a long streak of failures: the retry comes after 10–20 s, not after 10 minutes.
    expect(retryDelay(20, fixed(0), P, { retryAfterMs: 10 * MIN, servedForMs: 40_000 })).toBe(10_000);
    expect(retryDelay(20, fixed(0.999999), P, { retryAfterMs: 10 * MIN, servedForMs: 40_000 })).toBe(20_000);
    // Plenty of time left: the back-off rules alone.
    expect(retryDelay(2, fixed(0.5), P, { servedForMs: HOUR })).toBe(1000);
  });

  it("property: a device that is only throttled keeps getting attempts before its credentials lapse", () => {
    // Replays a whole throttled stretch: from any point with credentials left, each retry lands within half of
    // what is left, so attempts keep coming until less than two minimum intervals remain; none is planned after expiry
    // while at least one is possible before it.
    fc.assert(
      fc.property(
        fc.integer({ min: 5_000, max: 2 * HOUR }),
        fc.array(unitDouble, { minLength: 2, maxLength: 200 }),
        fc.option(fc.integer({ min: 0, max: HOUR }), { nil: undefined }),
        (servedFor, draws, retryAfterMs) => {
          let i = 0;
          const random = () => draws[i++ % draws.length]!;
          let left = servedFor;
          let failures = 0;
          let attempts = 0;
          while (left >= 2 * P.minRetryIntervalMs) {
            failures++;
            const delay = retryDelay(failures, random, P, { retryAfterMs, servedForMs: left });
            expect(delay).toBeLessThanOrEqual(left / 2);
            left -= delay;
            attempts++;
          }
          expect(left).toBeGreaterThan(0); // the last attempt still happened while credentials were served
          expect(attempts).toBeGreaterThanOrEqual(1);
        },
      ),
    );
  });
});

describe("serviceClockLead", () => {
  it("is the endpoint's lead on our clock, at most half the usable time left; never negative or NaN", () => {
    // Mutants taking half of a longer time (margin added, not taken) or passing a negative lead on survived.
    const now = 1_000_000_000;
    const expiresAt = now + P.expiryMarginMs + 4 * MIN;
    expect(serviceClockLead(60_000, expiresAt, now, P)).toBe(60_000);
    expect(serviceClockLead(5 * MIN, expiresAt, now, P)).toBe(2 * MIN);
    expect(serviceClockLead(-60_000, expiresAt, now, P)).toBe(0);
    expect(serviceClockLead(Number.NaN, expiresAt, now, P)).toBe(0);
    expect(serviceClockLead(undefined, expiresAt, now, P)).toBe(0);
  });
});
