import { RETRY_AFTER_CAP_MS } from "../rolesanywhere/retry.js";
import { EXPIRY_MARGIN_MS, isUsable as usableAt } from "../rolesanywhere/credentials.js";

/**
 * When to refresh temporary credentials and how long to wait after a failure. Pure functions of their
 * inputs (times are epoch milliseconds, randomness is a parameter), so the schedule can be tested without a
 * clock. The schedule is built for fleets: thousands of devices that booted in the same minute must not
 * refresh in the same minute an hour later, and a device that is only throttled must never run dry.
 */

export interface RefreshPolicy {
  /**
   * The refresh window, as fractions of the usable lifetime (from when credentials arrive to `expiryMarginMs`
   * before their `Expiration`): each refresh is planned at a uniformly random point between these two.
   * Defaults 0.3 and 0.85: for a one-hour session, between 18 and 51 minutes after it was obtained, which
   * leaves 9 minutes for retries.
   */
  readonly refreshWindowStart: number;
  readonly refreshWindowEnd: number;
  /**
   * Credentials are treated as expired this long before their `Expiration`, so that a caller never receives
   * credentials that expire while its request is in flight or because its clock is a little ahead.
   */
  readonly expiryMarginMs: number;
  /** Ceiling of the first retry delay after a failed refresh; the ceiling doubles on each consecutive failure. */
  readonly retryBaseMs: number;
  /** Upper bound of the ceiling. */
  readonly retryMaxMs: number;
  /** No two CreateSession attempts are ever closer than this, whatever the number of callers. */
  readonly minRetryIntervalMs: number;
}

export const DEFAULT_REFRESH_POLICY: RefreshPolicy = {
  refreshWindowStart: 0.3,
  refreshWindowEnd: 0.85,
  expiryMarginMs: EXPIRY_MARGIN_MS,
  retryBaseMs: 1_000,
  retryMaxMs: 60_000,
  minRetryIntervalMs: 1_000,
};

/** Throws a RangeError unless the window lies inside the lifetime (0 ≤ start ≤ end < 1) and the delays are sane. */
export function checkRefreshPolicy(policy: RefreshPolicy): RefreshPolicy {
  const { refreshWindowStart: start, refreshWindowEnd: end } = policy;
  if (!(start >= 0 && start <= end && end < 1)) {
    throw new RangeError(`the refresh window must satisfy 0 ≤ start ≤ end < 1 (fractions of the lifetime), not ${start}–${end}`);
  }
  for (const key of ["expiryMarginMs", "retryBaseMs", "retryMaxMs", "minRetryIntervalMs"] as const) {
    if (!(Number.isFinite(policy[key]) && policy[key] >= 0)) throw new RangeError(`${key} must be a non-negative number of milliseconds, not ${policy[key]}`);
  }
  return policy;
}

/** The window in which the refresh of credentials obtained at `obtainedAt` and expiring at `expiresAt` is planned. */
export function refreshWindow(obtainedAt: number, expiresAt: number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): { readonly from: number; readonly to: number } {
  const lifetime = Math.max(0, expiresAt - policy.expiryMarginMs - obtainedAt);
  return { from: obtainedAt + lifetime * policy.refreshWindowStart, to: obtainedAt + lifetime * policy.refreshWindowEnd };
}

/**
 * The moment a proactive refresh should start: a uniformly random point of the refresh window, so that
 * devices that obtained credentials together refresh at different times, and drift further apart with every
 * round. `random` returns a number in [0, 1).
 *
 * Why this window (docs/architecture.md, "The refresh schedule", has the maths): its width (0.55 of the
 * lifetime) is what spreads the first rounds after a fleet booted together (the busiest minute stays within
 * ~1.3× the average rate; a fixed offset puts the whole fleet into one minute every hour); its start (0.3)
 * keeps the first refreshes out of the way of devices still waiting for their first credentials after a
 * synchronised boot; its end (0.85) leaves 15 % of the lifetime for retries before the credentials stop
 * being served.
 */
export function refreshTimeFor(obtainedAt: number, expiresAt: number, random: () => number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): number {
  const { from, to } = refreshWindow(obtainedAt, expiresAt, policy);
  return Math.round(from + (to - from) * unit(random()));
}

/** Whether credentials expiring at `expiresAt` may still be handed out at `now`. */
export function isUsable(expiresAt: number, now: number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): boolean {
  return usableAt(expiresAt, now, policy.expiryMarginMs);
}

/** What a retry delay depends on besides the number of failures. */
export interface RetryContext {
  /** How long the endpoint asked us to wait (`Retry-After` of a 429 or 5xx), if it did. */
  readonly retryAfterMs?: number | undefined;
  /** How much longer the current credentials are served, when there are any. */
  readonly servedForMs?: number | undefined;
}

/**
 * Delay before retry number `failures` (1 = after the first failure):
 * - never earlier than `Retry-After` (at most 5 minutes of it), then "full jitter" on top: uniform in
 *   [0, ceiling) with a ceiling that doubles from `retryBaseMs` to `retryMaxMs`, so that devices throttled
 *   together (and told the same `Retry-After`) come back spread out instead of in lock-step;
 * - while credentials are still served, the retry lands within the first half of the time they have left
 *   (at a random point between a quarter and a half of it), even if that is sooner than the back-off or
 *   `Retry-After` would say: a device that is only throttled tries again, more and more often, before its
 *   credentials run out, instead of letting them lapse;
 * - never below the minimum retry interval.
 * `random` returns a number in [0, 1); it is called once, or twice when credentials are served.
 */
export function retryDelay(failures: number, random: () => number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY, context: RetryContext = {}): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** exponent);
  const asked = Math.min(Math.max(context.retryAfterMs ?? 0, 0), RETRY_AFTER_CAP_MS);
  let delay = asked + ceiling * unit(random());
  if (context.servedForMs !== undefined) {
    const latest = (Math.max(context.servedForMs, 0) / 4) * (1 + unit(random()));
    delay = Math.min(delay, latest);
  }
  return Math.max(policy.minRetryIntervalMs, Math.round(delay));
}

/** A random draw clamped into [0, 1), so that a faulty source cannot push a time outside its window. */
function unit(r: number): number {
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
}
