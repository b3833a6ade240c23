import { UsageError } from "../errors.js";
import { RETRY_AFTER_CAP_MS, unit } from "../rolesanywhere/retry.js";
import { EXPIRY_MARGIN_MS } from "../rolesanywhere/credentials.js";
import { CLOCK_SKEW_LIMIT_MS } from "../rolesanywhere/response.js";

// When to refresh and how long to wait after a failure, as pure functions (epoch ms, randomness a parameter).
// Built for fleets: devices that booted in the same minute must not refresh together, and a device that is
// only throttled must never run dry.

export interface RefreshPolicy {
  /** The refresh window, as fractions of the usable lifetime (to `expiryMarginMs` before `Expiration`). */
  readonly refreshWindowStart: number;
  readonly refreshWindowEnd: number;
  /** Treated as expired this long before `Expiration`: never hand out credentials about to expire in flight. */
  readonly expiryMarginMs: number;
  /** Ceiling of the first retry delay after a failed refresh; the ceiling doubles on each consecutive failure. */
  readonly retryBaseMs: number;
  /** Upper bound of the ceiling. */
  readonly retryMaxMs: number;
  /**
   * Upper bound of the ceiling after a refusal (AccessDenied, validation, not found: no retry fixes those), which
   * starts at `retryMaxMs`: a fleet whose profile was disabled must not spend the account's quota on it.
   */
  readonly refusedRetryMaxMs: number;
  /**
   * Upper bound of the ceiling after a 429, below `retryMaxMs`: the daemons retry it here alone (not within the
   * CreateSession call), and a fleet's last devices of a throttled boot must not leave the quota idle for a minute.
   */
  readonly throttledRetryMaxMs: number;
  /** Upper bound of the ceiling after a proxy's, firewall's or captive portal's 3xx or 4xx (refusalOf: "blocked"). */
  readonly blockedRetryMaxMs: number;
  /** No two CreateSession attempts are ever closer than this, whatever the number of callers. */
  readonly minRetryIntervalMs: number;
}

export const DEFAULT_REFRESH_POLICY: RefreshPolicy = {
  refreshWindowStart: 0.3,
  refreshWindowEnd: 0.85,
  expiryMarginMs: EXPIRY_MARGIN_MS,
  retryBaseMs: 1_000,
  retryMaxMs: 60_000,
  refusedRetryMaxMs: 3_600_000,
  throttledRetryMaxMs: 30_000,
  blockedRetryMaxMs: 300_000,
  minRetryIntervalMs: 1_000,
};

/** Throws USAGE unless the window lies inside the lifetime (0 ≤ start ≤ end < 1) and the delays are sane. */
export function checkRefreshPolicy(policy: RefreshPolicy): RefreshPolicy {
  const { refreshWindowStart: start, refreshWindowEnd: end } = policy;
  if (!(typeof start === "number" && typeof end === "number" && start >= 0 && start <= end && end < 1)) {
    const window = `0 ≤ start ≤ end < 1 (fractions of the lifetime), not ${start}–${end}`;
    throw new UsageError("USAGE", `the refresh window must satisfy ${window}`);
  }
  const keys = ["expiryMarginMs", "retryBaseMs", "retryMaxMs", "refusedRetryMaxMs", "throttledRetryMaxMs", "blockedRetryMaxMs"] as const;
  for (const key of [...keys, "minRetryIntervalMs"] as const) {
    if (Number.isFinite(policy[key]) && policy[key] >= 0) continue;
    throw new UsageError("USAGE", `${key} must be a non-negative number of milliseconds, not ${policy[key]}`);
  }
  return policy;
}

/** The window in which the refresh of credentials obtained at `obtainedAt` and expiring at `expiresAt` is planned. */
export function refreshWindow(obtainedAt: number, expiresAt: number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): { readonly from: number; readonly to: number } {
  const lifetime = Math.max(0, expiresAt - policy.expiryMarginMs - obtainedAt);
  return { from: obtainedAt + lifetime * policy.refreshWindowStart, to: obtainedAt + lifetime * policy.refreshWindowEnd };
}

/**
 * A uniformly random point of the refresh window, so that devices that obtained credentials together drift
 * apart. The window's width spreads a fleet that booted together, its start keeps refreshes away from devices
 * still waiting for their first credentials, its end leaves 15 % for retries (docs/architecture.md, "The
 * refresh schedule", has the maths).
 */
export function refreshTimeFor(obtainedAt: number, expiresAt: number, random: () => number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): number {
  const { from, to } = refreshWindow(obtainedAt, expiresAt, policy);
  return Math.round(from + (to - from) * unit(random()));
}

/**
 * How much earlier than by our clock credentials expiring at `expiresAt` (the service's clock) really expire: the
 * time the endpoint's clock was ahead of ours (`skewMs`, its `Date` on the answer that brought them; a clock
 * behind still signs within 5 minutes). At most those 5 minutes and half the lifetime left, so that a hostile or
 * broken `Date` can neither make us refresh in a loop nor leave nothing to hand out; 0 when our clock is ahead.
 */
export function serviceClockLead(skewMs: number | undefined, expiresAt: number, now: number, policy: RefreshPolicy) {
  const halfLeft = (expiresAt - policy.expiryMarginMs - now) / 2;
  const lead = Math.min(skewMs ?? 0, CLOCK_SKEW_LIMIT_MS, halfLeft);
  return Number.isFinite(lead) && lead > 0 ? lead : 0;
}

/** What a retry delay depends on besides the number of failures. */
interface RetryContext {
  /** How long the endpoint asked us to wait (`Retry-After` of a 429 or 5xx), if it did. */
  readonly retryAfterMs?: number | undefined;
  /** How much longer the current credentials are served, when there are any. */
  readonly servedForMs?: number | undefined;
  /** The endpoint refused the request (refusalOf "refused"): retrying sooner would not help. */
  readonly refused?: boolean;
  /**
   * Something in front of it answered (refusalOf "blocked": a proxy's 407, a captive portal's page or redirect), or
   * a local key, certificate or file could not be used (an `input` error: fixed by its owner or a renewal).
   */
  readonly blocked?: boolean;
  /** The endpoint throttled the request (a 429). */
  readonly throttled?: boolean;
}

/**
 * Delay before retry number `failures` (1 = after the first failure): `Retry-After` (at most 5 minutes of it)
 * plus full jitter under a ceiling doubling from `retryBaseMs` to `retryMaxMs`, or as long again as asked (at most
 * `retryMaxMs`) if longer, so devices throttled together come back spread out; while credentials are still
 * served, at most a random quarter to half of the time they have left, so a throttled device retries before they
 * lapse; never below `minRetryIntervalMs`. After a refusal
 * the ceiling doubles from `retryMaxMs` to `refusedRetryMaxMs`, whatever is left of the credentials; after a
 * proxy's or captive portal's answer (`blocked`) it doubles from `retryBaseMs` to `blockedRetryMaxMs`; after a 429
 * (`throttled`), to `throttledRetryMaxMs`.
 */
export function retryDelay(failures: number, random: () => number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY, context: RetryContext = {}): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const [base, max] = context.refused
    ? [policy.retryMaxMs, policy.refusedRetryMaxMs]
    : [policy.retryBaseMs, context.blocked ? policy.blockedRetryMaxMs : context.throttled ? Math.min(policy.throttledRetryMaxMs, policy.retryMaxMs) : policy.retryMaxMs];
  const ceiling = Math.min(max, base * 2 ** exponent);
  const asked = Math.min(Math.max(context.retryAfterMs ?? 0, 0), RETRY_AFTER_CAP_MS);
  let delay = asked + Math.max(ceiling, Math.min(asked, policy.retryMaxMs)) * unit(random());
  if (context.servedForMs !== undefined && !context.refused) {
    const latest = (Math.max(context.servedForMs, 0) / 4) * (1 + unit(random()));
    delay = Math.min(delay, latest);
  }
  return Math.max(policy.minRetryIntervalMs, Math.round(delay));
}
