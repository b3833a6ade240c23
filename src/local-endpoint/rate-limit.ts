import { UsageError } from "../errors.js";

/** How the service refuses a request above its rate: HTTP 429, `X-Amzn-ErrorType: ThrottlingException`, `{"message":"Rate exceeded"}`. */
export const THROTTLED = { status: 429, errorType: "ThrottlingException", message: "Rate exceeded" } as const;

/** The largest `--rate-limit` accepted (the limiter remembers one timestamp per request of the last second). */
export const MAX_RATE_LIMIT = 100_000;

/** `at`: the admission time on the limiter's clock, logged by the endpoint (its answer comes later). */
type RateDecision =
  | { readonly admitted: true; readonly at: number }
  | { readonly admitted: false; readonly retryAfterMs: number };

/**
 * At most `perSecond` requests in any one-second window (a sliding window, so a burst at the end of one second
 * and another at the start of the next cannot add up to twice the rate). A refused request is told how long
 * until the oldest admitted one leaves the window. Refused requests do not count. `now` is in milliseconds
 * and only needs to be monotonic.
 */
export class RateLimit {
  readonly perSecond: number;
  readonly #now: () => number;
  /** Admission times of the last `perSecond` admitted requests, as a ring; `#next` is the oldest once full. */
  readonly #admitted: number[] = [];
  #next = 0;

  constructor(perSecond: number, now: () => number) {
    if (!Number.isInteger(perSecond) || perSecond < 1 || perSecond > MAX_RATE_LIMIT) {
      throw new UsageError("USAGE", `the rate limit must be a whole number of requests per second from 1 to ${MAX_RATE_LIMIT}, not ${perSecond}`);
    }
    this.perSecond = perSecond;
    this.#now = now;
  }

  take(): RateDecision {
    const now = this.#now();
    if (this.#admitted.length < this.perSecond) {
      this.#admitted.push(now);
      return { admitted: true, at: now };
    }
    const oldest = this.#admitted[this.#next]!;
    const wait = oldest + 1000 - now;
    if (wait > 0) return { admitted: false, retryAfterMs: wait };
    this.#admitted[this.#next] = now;
    this.#next = (this.#next + 1) % this.perSecond;
    return { admitted: true, at: now };
  }
}

/** `Retry-After` in whole seconds (RFC 9110 delta-seconds), rounded up and at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
