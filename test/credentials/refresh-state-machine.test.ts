/**
 * The refresh engine (CredentialCache with its timer, as agent/serve/update run it) against an endpoint whose
 * answers change over hours: 200s with the service's clock ahead of ours (an honest `Date`), refusals, a captive
 * portal's page, 5xx, 429 with honest or hostile `Retry-After`, network errors, a key no retry can use, a lying
 * `Date`, and this host's wall clock stepped either way (signatures refused beyond 5 minutes, as AWS does). Seeded
 * randomness (fast-check drives the sequences, a seeded generator the engine's jitter). Oracles: never credentials
 * the service has expired (with an honest `Date`); never two CreateSessions closer than 1 s (unless the clock was
 * stepped between), nor two at once; attempts per hour bounded by the documented ceilings, no refresh loop
 * whatever the `Date`; credentials again within the documented time after the endpoint heals.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { CredentialCache } from "../../src/credentials/credential-cache.js";
import type { Credentials, IssuedCredentials } from "../../src/rolesanywhere/credentials.js";
import { InputError, ServiceError, type AgentError } from "../../src/errors.js";
import { TransportError } from "../../src/rolesanywhere/network-errors.js";
import { errorFromResponse } from "../../src/rolesanywhere/response.js";

const S = 1_000;
const MIN = 60 * S;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

type Kind = "ok" | "refused" | "blocked" | "unavailable" | "throttled" | "network" | "input";
interface Segment {
  readonly kind: Kind;
  readonly durationMs: number;
  readonly retryAfterS: number;
  readonly lifetimeMin: number;
  readonly latencyMs: number;
  readonly stepMs: number;
}

/** The longest wait after a failure of this kind (docs/architecture.md, "The refresh schedule"), plus Retry-After. */
const CEILING: Record<Exclude<Kind, "ok">, number> = {
  refused: HOUR, blocked: 5 * MIN, input: 5 * MIN, unavailable: MIN, throttled: MIN, network: MIN,
};
/** Attempts an hour a device may make during a long run of one kind of failure, on average (full jitter: half the ceiling). */
const PER_HOUR: Record<Exclude<Kind, "ok">, number> = {
  refused: 4, blocked: 40, input: 40, unavailable: 200, throttled: 200, network: 200,
};

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const context = () => ({ receivedAt: new Date(), endpoint: "https://rolesanywhere.us-east-1.amazonaws.com", region: "us-east-1" });

function failure(segment: Segment): AgentError {
  const aws = { "x-amzn-requestid": "r" };
  switch (segment.kind) {
    case "refused":
      return errorFromResponse({ status: 403, headers: { ...aws, "x-amzn-errortype": "AccessDeniedException" }, body: Buffer.from('{"message":"no"}') }, context());
    case "blocked":
      return errorFromResponse({ status: 403, headers: { "content-type": "text/html" }, body: Buffer.from("<html>portal</html>") }, context());
    case "unavailable":
      return errorFromResponse({ status: 503, headers: aws, body: Buffer.from("{}") }, context());
    case "throttled": {
      const headers = { ...aws, "x-amzn-errortype": "ThrottlingException", "retry-after": String(segment.retryAfterS) };
      return errorFromResponse({ status: 429, headers, body: Buffer.from('{"message":"Rate exceeded"}') }, context());
    }
    case "network":
      return new TransportError("NETWORK_ERROR", "cannot connect: ECONNREFUSED", true);
    default:
      return new InputError("PASSWORD_REQUIRED", "the key is encrypted and no password was given");
  }
}

const segment = fc.record({
  kind: fc.constantFrom<Kind>("ok", "ok", "refused", "blocked", "unavailable", "throttled", "network", "input"),
  durationMs: fc.oneof(fc.integer({ min: 0, max: 10 * MIN }), fc.integer({ min: 10 * MIN, max: 3 * HOUR })),
  retryAfterS: fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constant(1e12)),
  lifetimeMin: fc.integer({ min: 15, max: 60 }),
  latencyMs: fc.integer({ min: 0, max: 20 * S }),
  // The wall clock stepped as the segment begins (NTP, a hand-set date, a resume): mostly not.
  stepMs: fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0), fc.integer({ min: -2 * HOUR, max: 2 * HOUR })),
});

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("the refresh engine against an endpoint that changes its answers over hours (property)", () => {
  it("never expired credentials, attempts 1 s apart and bounded, recovery within the ceiling, through clock steps", async () => {
    const run = async (segments: Segment[], seed: number, callerGapMs: number, serviceAheadMs: number, dateLieMs: number) => {
      vi.setSystemTime(T0);
      const started = performance.now(); // the fake monotonic clock: real time passing, whatever the wall clock says
      const realNow = () => T0 + performance.now() - started;
      const serviceNow = () => realNow() + serviceAheadMs;
      let current: Segment = segments[0]!;
      /** Each CreateSession's start on the monotonic clock, and how many wall-clock steps came before it. */
      const starts: { at: number; steps: number }[] = [];
      let steps = 0;
      let inFlight = 0;
      let maxInFlight = 0;
      /** The kind of the last failed attempt: its wait is the one running when the endpoint heals. */
      let lastFailed: Exclude<Kind, "ok"> | undefined;
      const fetch = async (): Promise<IssuedCredentials> => {
        const answering = current;
        starts.push({ at: realNow(), steps });
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await new Promise((r) => setTimeout(r, answering.latencyMs));
        } finally {
          inFlight--;
        }
        // The Date header has a resolution of one second; a hostile or broken endpoint lies in it.
        const date = Math.floor((serviceNow() + dateLieMs) / S) * S;
        if (Math.abs(Date.now() - serviceNow()) > 5 * MIN) {
          lastFailed = "refused";
          const headers = { "x-amzn-requestid": "r", "x-amzn-errortype": "InvalidSignatureException", date: new Date(date).toUTCString() };
          throw errorFromResponse({ status: 403, headers, body: Buffer.from('{"message":"Signature expired"}') }, context());
        }
        if (answering.kind !== "ok") {
          lastFailed = answering.kind;
          throw failure(answering);
        }
        const expiration = new Date(serviceNow() + answering.lifetimeMin * MIN);
        return { accessKeyId: "ASIA", secretAccessKey: "s", sessionToken: "t", expiration, clockSkewMs: date - Date.now() };
      };
      const cache = new CredentialCache({ fetch, random: mulberry32(seed) });
      // What the service says of credentials handed out now, by its clock.
      // (Not knowable through a lying Date: then only the bounds below hold.)
      const handedOut = (c: Credentials | undefined) => c && dateLieMs === 0 && expect(serviceNow()).toBeLessThan(c.expiration.getTime());
      cache.start();
      // NTP puts the clock right when the endpoint heals (a step back ends a refusal's wait: the clock may have caused it).
      const all = [...segments, { ...segments[0]!, kind: "ok" as const, durationMs: 2 * HOUR + 10 * MIN, stepMs: 0 }];
      for (const [index, s] of all.entries()) {
        current = s;
        const last = index === all.length - 1;
        const stepMs = last ? realNow() - Date.now() : s.stepMs;
        if (stepMs !== 0) {
          vi.setSystemTime(Date.now() + stepMs);
          steps++;
        }
        const from = realNow();
        const before = starts.length;
        let healedAt: number | undefined;
        for (let left = s.durationMs; left > 0; ) {
          const step = Math.min(left, callerGapMs);
          await vi.advanceTimersByTimeAsync(step);
          left -= step;
          handedOut(cache.cached());
          // Not awaited: a caller that joins a CreateSession in flight waits for its (virtual) latency.
          void cache.get().then(handedOut, () => {});
          if (healedAt === undefined && cache.status().state === "fresh") healedAt = realNow();
        }
        if (s.kind === "ok" && s.stepMs === 0) {
          // No refresh loop, whatever the Date says: the lead it gives counts for at most 5 minutes (15-minute sessions
          // are then refreshed after 0.3 of the 9 min 50 s left at the earliest).
          expect(starts.length - before).toBeLessThanOrEqual(3 + s.durationMs / (0.3 * (10 * MIN - 10 * S)));
        } else if (s.kind !== "ok") {
          // A long run of one kind of failure: attempts bounded by its ceiling (plus the lapse guard's, near expiry).
          expect(starts.length - before).toBeLessThanOrEqual(45 + PER_HOUR[s.kind] * (s.durationMs / HOUR));
        } else if (last && lastFailed) {
          // Healed: credentials again within the last failure's ceiling (and Retry-After, at most 5 minutes).
          const bound = CEILING[lastFailed] + 5 * MIN + 2 * s.latencyMs + 2 * S + callerGapMs;
          expect(healedAt).toBeDefined();
          expect(healedAt! - from).toBeLessThanOrEqual(bound);
        }
      }
      cache.stop();
      await vi.runOnlyPendingTimersAsync();
      expect(maxInFlight).toBe(1);
      // 1 s apart on the monotonic clock, unless the wall clock was stepped in between (a step may end a wait).
      for (const [i, b] of starts.slice(1).entries()) if (b.steps === starts[i]!.steps) expect(b.at - starts[i]!.at).toBeGreaterThanOrEqual(S);
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { minLength: 1, maxLength: 8 }),
        fc.integer(),
        fc.integer({ min: 20 * S, max: 5 * MIN }),
        // How far the service's clock is ahead of ours (signatures pass within 5 minutes), for the whole run.
        fc.integer({ min: -4 * MIN, max: 4 * MIN }),
        fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -86_400 * S, max: 86_400 * S })),
        run,
      ),
      { numRuns: 200, seed: 16 },
    );
  }, 120_000);
});
