import { EXPIRY_MARGIN_MS, isUsable as usableAt } from "./credentials.js";

/**
 * When to refresh temporary credentials and how long to wait after a failure. Pure functions of their
 * inputs (times are epoch milliseconds), so the schedule can be tested without a clock.
 */

export interface RefreshPolicy {
  /** Refresh this long before expiry (default 5 minutes)… */
  readonly refreshBeforeMs: number;
  /** …or at this fraction of the lifetime when the lifetime is short (default 0.5): whichever comes first. */
  readonly refreshAtLifetimeFraction: number;
  /**
   * Credentials are treated as expired this long before their `Expiration`, so that a caller never receives
   * credentials that expire while its request is in flight or because its clock is a little ahead.
   */
  readonly expiryMarginMs: number;
  /** First retry delay after a failed refresh; doubles on each consecutive failure. */
  readonly retryBaseMs: number;
  /** Upper bound of the retry delay. */
  readonly retryMaxMs: number;
  /** No two CreateSession attempts are ever closer than this, whatever the number of callers. */
  readonly minRetryIntervalMs: number;
}

export const DEFAULT_REFRESH_POLICY: RefreshPolicy = {
  refreshBeforeMs: 5 * 60_000,
  refreshAtLifetimeFraction: 0.5,
  expiryMarginMs: EXPIRY_MARGIN_MS,
  retryBaseMs: 1_000,
  retryMaxMs: 60_000,
  minRetryIntervalMs: 1_000,
};

/**
 * The moment a proactive refresh should start for credentials obtained at `obtainedAt` and expiring at
 * `expiresAt`: 5 minutes before they stop being handed out (`expiresAt` minus the expiry margin), or halfway
 * through that usable window when it is shorter than 10 minutes. Either way the refresh (and its retries)
 * starts while the current credentials can still be served.
 */
export function refreshTimeFor(obtainedAt: number, expiresAt: number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): number {
  const usableUntil = expiresAt - policy.expiryMarginMs;
  const window = Math.max(0, usableUntil - obtainedAt);
  const lead = Math.min(policy.refreshBeforeMs, window * (1 - policy.refreshAtLifetimeFraction));
  return usableUntil - lead;
}

/** Whether credentials expiring at `expiresAt` may still be handed out at `now`. */
export function isUsable(expiresAt: number, now: number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): boolean {
  return usableAt(expiresAt, now, policy.expiryMarginMs);
}

/**
 * Delay before retry number `failures` (1 = after the first failure): exponential, capped, with "equal
 * jitter" (half fixed, half random) so that many agents restarted together do not retry in lock-step,
 * and never below the minimum retry interval. `random` returns a number in [0, 1).
 */
export function retryDelay(failures: number, random: () => number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** exponent);
  const jittered = ceiling / 2 + (ceiling / 2) * random();
  return Math.max(policy.minRetryIntervalMs, Math.round(jittered));
}
