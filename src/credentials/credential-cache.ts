import { AgentError, installationChanged, isAgentError, ServiceError } from "../errors.js";
import { usableCredentials, type Credentials, type IssuedCredentials } from "../rolesanywhere/credentials.js";
import { CLOCK_SKEW_LIMIT_MS } from "../rolesanywhere/response.js";
import { refusalOf } from "../rolesanywhere/retry.js";
import {
  checkRefreshPolicy, DEFAULT_REFRESH_POLICY, refreshTimeFor, retryDelay, serviceClockLead, type RefreshPolicy,
} from "./refresh-policy.js";

/** setTimeout/clearTimeout, injectable so tests can drive time. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type RefreshEvent =
  | {
      readonly type: "refreshed";
      readonly expiration: Date;
      readonly refreshAt: Date;
      /** How far this host's clock was behind the endpoint's, as counted (serviceClockLead): served that much less. */
      readonly clockBehindMs?: number;
    }
  | {
      readonly type: "refresh-failed";
      readonly error: AgentError;
      readonly consecutiveFailures: number;
      /** When the next attempt may happen; undefined when the error is final (wrong PIN, TPM auth failure). */
      readonly nextAttemptAt: Date | undefined;
      /** Until when the previous credentials are still handed out, if any are still usable. */
      readonly servingPreviousUntil: Date | undefined;
    };

export type CacheState =
  | "empty" // nothing fetched yet
  | "fresh" // valid, refresh not due
  | "stale" // valid, refresh due or in progress
  | "expired" // nothing usable: callers get the last error
  | "failed"; // final error (auth): no retry until the source is rebuilt

export interface CacheStatus {
  readonly state: CacheState;
  /** The service's `Expiration` of the last credentials. */
  readonly expiration: Date | undefined;
  /**
   * Until when they are handed out: `expiration` less the expiry margin and the service's clock lead (up to 5 min
   * 10 s earlier); the state is "expired" from then on.
   */
  readonly servedUntil?: Date | undefined;
  readonly refreshAt: Date | undefined;
  readonly consecutiveFailures: number;
  readonly lastError: { readonly code: string; readonly message: string } | undefined;
  readonly nextAttemptAt: Date | undefined;
}

export interface CredentialCacheOptions {
  /**
   * Obtains new credentials (one CreateSession). Called by at most one caller at a time. With `clockSkewMs` (the
   * endpoint's clock ahead of ours), they are handed out and refreshed that much earlier (serviceClockLead).
   */
  readonly fetch: () => Promise<IssuedCredentials>;
  readonly policy?: Partial<RefreshPolicy>;
  readonly now?: () => number;
  /**
   * The monotonic clock (default `performance.now`), read next to `now` to tell a wall-clock step from time passing:
   * a simulation whose `now` runs on virtual time passes one that moves with it.
   */
  readonly monotonic?: () => number;
  /** A number in [0, 1), for the refresh time within its window and for retry jitter. */
  readonly random?: () => number;
  readonly timers?: Timers;
  /** Told about every refresh outcome (for logs and the credentials-file writer). Must not throw. */
  readonly onEvent?: (event: RefreshEvent, credentials: Credentials | undefined) => void;
}

/**
 * The longest a refresh timer waits before it looks at the wall clock again: timers run on the monotonic clock,
 * which stands still while the machine sleeps and ignores NTP steps, whereas expiry times are wall-clock times.
 */
const WALL_CLOCK_CHECK_MS = 60_000;

const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A wrong PIN is never retried; a wrong setting stays wrong until it is fixed and reloaded. */
export function isNotRetried(error: AgentError): boolean {
  return error.category === "auth" || error.category === "usage";
}

/**
 * The last good credentials of one role, refreshed ahead of expiry (when: refresh-policy.ts). Concurrent callers
 * share one fetch; credentials are handed out until they really expire, even while refreshes fail; between
 * failed attempts callers with nothing usable get the last error at once instead of another CreateSession;
 * authentication failures (wrong PIN, TPM authorisation) are never retried. `get()` alone refreshes lazily (a
 * stale hit refreshes in the background); `start()` adds a proactive timer, for daemons.
 */
export class CredentialCache {
  readonly #fetch: () => Promise<IssuedCredentials>;
  readonly #policy: RefreshPolicy;
  readonly #now: () => number;
  readonly #monotonic: () => number;
  readonly #random: () => number;
  readonly #timers: Timers;
  readonly #onEvent: CredentialCacheOptions["onEvent"];

  #current: {
    readonly credentials: Credentials;
    readonly expiresAt: number;
    readonly refreshAt: number;
    /** The policy's expiry margin plus the service's clock lead on ours when they were issued (serviceClockLead). */
    readonly marginMs: number;
    /** The end of their serving on the monotonic clock: a wall clock stepped back since must not stretch it. */
    readonly monotonicEnd: number;
  } | undefined;
  #inflight: Promise<Credentials> | undefined;
  #consecutiveFailures = 0;
  /** The refusals among them: a refusal's ceiling doubles from 60 s with these alone, whatever else failed. */
  #refusals = 0;
  #lastError: AgentError | undefined;
  #finalError: AgentError | undefined;
  /** Earliest time the next fetch may start (backoff after failures, minimum interval after successes). */
  #nextAttemptAt = 0;
  /** The same on the monotonic clock: a wall clock stepping back (NTP) must not stretch the wait. */
  #nextAttemptMonotonic = 0;
  /** After a refusal or certificate dates refused, the wall clock minus the monotonic one then: a step may fix it. */
  #refusedClockOffset: number | undefined;
  #running = false;
  #timer: unknown;

  constructor(options: CredentialCacheOptions) {
    this.#fetch = options.fetch;
    this.#policy = checkRefreshPolicy({ ...DEFAULT_REFRESH_POLICY, ...options.policy });
    this.#now = options.now ?? Date.now;
    this.#monotonic = options.monotonic ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.#timers = options.timers ?? realTimers;
    this.#onEvent = options.onEvent;
  }

  /**
   * `forceRefresh` (the AWS SDK's convention, e.g. after a session was revoked): a new fetch even on a hit, unless
   * one is in flight (shared), the error is final, or the wait after the last attempt has not passed.
   */
  async get(options?: { readonly forceRefresh?: boolean }): Promise<Credentials> {
    if (options?.forceRefresh === true && !this.#finalError && !this.#waiting(this.#now())) return this.#startFetch();
    const hit = this.cached();
    if (hit) return hit;
    if (this.#finalError) throw this.#finalError;
    if (this.#inflight) return this.#inflight;
    if (this.#lastError && this.#waiting(this.#now())) throw this.#lastError;
    return this.#startFetch();
  }

  /** `get()` on a cache hit, without a promise (serve's per-request path); undefined when it would have to wait. */
  cached(): Credentials | undefined {
    const now = this.#now();
    const current = this.#current;
    if (!current || !this.#usable(now)) return undefined;
    if (now >= current.refreshAt && !this.#inflight && !this.#finalError && !this.#waiting(now)) {
      this.#startFetch().catch(() => {
        /* a background refresh: reported through onEvent; callers keep getting the cached credentials */
      });
    }
    return current.credentials;
  }

  /** Starts proactive refreshing: fetches now if the cache is empty, then before each expiry. */
  start(): void {
    this.#running = true;
    this.#schedule();
  }

  /** Stops the proactive timer (cached credentials stay available until they expire). */
  stop(): void {
    this.#running = false;
    this.#clearTimer();
  }

  status(): CacheStatus {
    const now = this.#now();
    const current = this.#current;
    const usable = current !== undefined && this.#usable(now);
    let state: CacheState;
    if (usable) state = now >= current.refreshAt || this.#inflight ? "stale" : "fresh";
    else if (this.#finalError) state = "failed";
    else if (current || this.#lastError) state = "expired";
    else state = "empty";
    return {
      state,
      expiration: current ? new Date(current.expiresAt) : undefined,
      servedUntil: current ? new Date(this.#servedUntil(now)) : undefined,
      refreshAt: current ? new Date(current.refreshAt) : undefined,
      consecutiveFailures: this.#consecutiveFailures,
      lastError: this.#lastError ? { code: this.#lastError.code, message: this.#lastError.message } : undefined,
      nextAttemptAt: this.#lastError && !this.#finalError ? new Date(this.#nextAttemptAt) : undefined,
    };
  }

  #startFetch(): Promise<Credentials> {
    if (this.#inflight) return this.#inflight;
    this.#clearTimer();
    const attempt = this.#attempt();
    this.#inflight = attempt;
    const settle = () => {
      if (this.#inflight === attempt) this.#inflight = undefined;
      this.#schedule();
    };
    attempt.then(settle, settle);
    return attempt;
  }

  async #attempt(): Promise<Credentials> {
    const clockOffset = this.#now() - this.#monotonic(); // the clock that dates the request
    let credentials: Credentials;
    let marginMs = this.#policy.expiryMarginMs;
    try {
      const issued = await this.#fetch();
      const now = this.#now();
      const expiresAt = issued?.expiration instanceof Date ? issued.expiration.getTime() : NaN;
      marginMs += serviceClockLead(issued?.clockSkewMs, expiresAt, now, this.#policy);
      credentials = usableCredentials(issued, now, "CreateSession", marginMs);
    } catch (cause) {
      const error = asAgentError(cause);
      const now = this.#now();
      this.#consecutiveFailures++;
      this.#lastError = error;
      if (isNotRetried(error)) this.#finalError = error;
      const servedUntil = this.#usable(now) ? this.#servedUntil(now) : undefined;
      const retryAfterMs = error instanceof ServiceError ? error.retryAfterMs : undefined;
      const servedForMs = servedUntil === undefined ? undefined : servedUntil - now;
      const refusal = refusalOf(error);
      const refused = refusal === "refused";
      if (refused) this.#refusals++;
      // A key, certificate or file that only its owner or a renewal fixes waits as long as a captive portal's page.
      const blocked = refusal === "blocked" || error.category === "input";
      const context = { retryAfterMs, servedForMs, refused, blocked, throttled: error.code === "THROTTLED" };
      const failures = refused ? this.#refusals : this.#consecutiveFailures;
      const delay = retryDelay(failures, this.#random, this.#policy, context);
      // The certificate's dates, as the refusal, may be the clock's fault: a step since ends the wait too.
      const byClock = refused || error.code === "CERTIFICATE_EXPIRED" || error.code === "CERTIFICATE_NOT_YET_VALID";
      this.#wait(now, delay, byClock ? clockOffset : undefined);
      this.#emit({
        type: "refresh-failed",
        error,
        consecutiveFailures: this.#consecutiveFailures,
        nextAttemptAt: this.#finalError ? undefined : new Date(this.#nextAttemptAt),
        servingPreviousUntil: servedUntil === undefined ? undefined : new Date(servedUntil),
      });
      throw error;
    }
    const obtainedAt = this.#now();
    const expiresAt = credentials.expiration.getTime();
    const lead = marginMs - this.#policy.expiryMarginMs;
    const refreshAt = refreshTimeFor(obtainedAt, expiresAt - lead, this.#random, this.#policy);
    const monotonicEnd = this.#monotonic() + (expiresAt - marginMs - obtainedAt);
    this.#current = { credentials, expiresAt, refreshAt, marginMs, monotonicEnd };
    this.#consecutiveFailures = 0;
    this.#refusals = 0;
    this.#lastError = undefined;
    this.#wait(obtainedAt, this.#policy.minRetryIntervalMs);
    const event = { type: "refreshed", expiration: new Date(expiresAt), refreshAt: new Date(refreshAt) } as const;
    this.#emit(lead > 0 ? { ...event, clockBehindMs: lead } : event, credentials);
    return credentials;
  }

  /**
   * Plans the next fetch for `at`, due when the wall clock reaches it or when as much time has passed on the
   * timers' monotonic clock, whichever comes first (`left`: what is left of the latter when re-planning).
   */
  #schedule(left?: { readonly at: number; readonly ms: number }): void {
    this.#clearTimer();
    if (!this.#running || this.#inflight || this.#finalError) return;
    const now = this.#now();
    const at = this.#lastError ? this.#nextAttemptAt : this.#current ? Math.max(this.#current.refreshAt, this.#nextAttemptAt) : now;
    const monotonicMs = left?.at === at ? left.ms : Math.max(at - now, 0);
    const delay = Math.min(monotonicMs, Math.max(at - now, 0), WALL_CLOCK_CHECK_MS);
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#running) return;
      const now = this.#now();
      if (now < at && monotonicMs > delay && !this.#clockStepped(now)) this.#schedule({ at, ms: monotonicMs - delay });
      else this.#startFetch().catch(() => {});
    }, delay);
  }

  /**
   * No fetch for `ms` from `now`, on the wall clock or the monotonic one, whichever passes first; after a refusal,
   * also not once the wall clock has been stepped (NTP, suspend) by more than the 5 minutes signatures may be off
   * since the refused request was dated (`refusedClockOffset`: the wall clock minus the monotonic one then).
   */
  #wait(now: number, ms: number, refusedClockOffset?: number): void {
    this.#nextAttemptAt = now + ms;
    this.#nextAttemptMonotonic = this.#monotonic() + ms;
    this.#refusedClockOffset = refusedClockOffset;
  }

  #waiting(now: number): boolean {
    return now < this.#nextAttemptAt && this.#monotonic() < this.#nextAttemptMonotonic && !this.#clockStepped(now);
  }

  /**
   * The refusal may have been the clock's ("Signature expired": a device booted with its clock ahead): once NTP
   * corrects it, waiting out the refusal's hour would keep the device without credentials for nothing. A clock
   * that stays wrong is not stepped, and keeps the refusal's back-off (docs/architecture.md, "refusal").
   */
  #clockStepped(now: number): boolean {
    const offset = this.#refusedClockOffset;
    return offset !== undefined && Math.abs(now - this.#monotonic() - offset) > CLOCK_SKEW_LIMIT_MS;
  }

  /**
   * Until when the current credentials are handed out: `marginMs` before their expiry by the wall clock, and no
   * later than as long after they came by the monotonic one (which stands still while the machine sleeps: the wall
   * clock then ends them), so that a clock stepped back since hands out nothing the service has expired.
   */
  #servedUntil(now: number): number {
    const current = this.#current!;
    return Math.min(current.expiresAt - current.marginMs, now + current.monotonicEnd - this.#monotonic());
  }

  #usable(now: number): boolean {
    return this.#current !== undefined && this.#servedUntil(now) > now;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      this.#timers.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #emit(event: RefreshEvent, credentials?: Credentials): void {
    try {
      this.#onEvent?.(event, credentials);
    } catch {
      /* a faulty listener must not break refreshing */
    }
  }
}

function asAgentError(cause: unknown): AgentError {
  if (isAgentError(cause)) return cause;
  const message = `refreshing credentials failed unexpectedly: ${cause instanceof Error ? cause.message : String(cause)}`;
  return installationChanged(cause) ?? new AgentError("INTERNAL", message, { cause });
}
