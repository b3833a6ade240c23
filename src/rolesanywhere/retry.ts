import { isAgentError, NetworkError, ServiceError, UsageError, type AgentError } from "../errors.js";
import { wholeNumberProblem } from "../own-value.js";
import { TransportError } from "./network-errors.js";
import { NUMBER_RULES } from "./request.js";
import type { Sleep } from "./types.js";

export const DEFAULT_MAX_ATTEMPTS = 3;
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 20_000;

/** `maxAttempts` (checked with the other options: checkCreateSessionArguments), else `AWS_MAX_ATTEMPTS`, else 3. */
export function maxAttemptsFrom(option: number | undefined, env: NodeJS.ProcessEnv): number {
  const text = env["AWS_MAX_ATTEMPTS"]?.trim();
  if (option !== undefined || !text) return option ?? DEFAULT_MAX_ATTEMPTS;
  const count = /^\+?\d+$/.test(text) ? Number(text) : Number.NaN;
  const [min, max] = NUMBER_RULES.maxAttempts;
  // Every AWS tool reads this variable: a count set for another (20 for the AWS CLI) is capped at ours, not refused.
  const problem = count >= min ? undefined : wholeNumberProblem(count, min, max);
  if (problem) throw new UsageError("USAGE", `AWS_MAX_ATTEMPTS ${problem}`, { hint: `AWS_MAX_ATTEMPTS is '${text}': fix or unset it` });
  return Math.min(count, max);
}

/**
 * 5xx, throttling and transient network failures are worth another attempt; other 4xx, TLS trust failures and 501 Not
 * Implemented (as aws-sdk-go's, aws_signing_helper's) never are.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof TransportError) return error.transient;
  if (error instanceof ServiceError) return isThrottling(error) || (error.status >= 500 && error.status !== 501);
  return false;
}

const isThrottling = (error: AgentError) => error.code === "THROTTLED" || (error instanceof ServiceError && error.status === 429);

/**
 * An answer no retry soon fixes. "refused": the service's own (AccessDenied, validation, not found: a 4xx with its
 * request id or error type; the refresh engine waits up to an hour after it, refresh-policy.ts). "blocked": something
 * in front of it answering instead — a proxy's 407 (to CONNECT or to the request), a firewall's or captive portal's
 * page or redirect (any other 3xx or 4xx but 429, or a 501), which a login or a setting may lift any minute: up to 5
 * minutes.
 */
export function refusalOf(error: AgentError): "refused" | "blocked" | undefined {
  if (error.code === "THROTTLED") return undefined;
  const ours = error instanceof ServiceError && (error.requestId !== undefined || error.serviceCode !== "UnknownError");
  if (error.category === "service" && ours) return "refused";
  const status = error instanceof ServiceError || error instanceof TransportError ? error.status : undefined;
  return status !== undefined && ((status >= 300 && status < 500 && status !== 429) || status === 501) ? "blocked" : undefined;
}

/** Exponential back-off ceiling: min(cap, base·2^(attempt−1)); full jitter draws uniformly below it. */
const backoffCeilingMs = (attempt: number) => Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));

/** A random draw clamped into [0, 1), so that a faulty source cannot push a time outside its window. */
export function unit(r: number): number {
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
}

/** Never wait longer than this for one `Retry-After`, whatever the endpoint asks. */
export const RETRY_AFTER_CAP_MS = 5 * 60_000;

/**
 * What the endpoint asked for with `Retry-After` (capped), then full jitter over the back-off ceiling or as long
 * again as asked, whichever is longer: a fleet told `Retry-After: 1` together comes back over a second, not the
 * first attempt's 250 ms (a second storm). The part beyond the ceiling takes at most half of what `remainingMs`
 * leaves after the asked wait, so that a retry that fits is still made, with time to run.
 */
export function retryDelayMs(error: AgentError, attempt: number, random: () => number, remainingMs = Infinity): number {
  const asked = Math.min(error instanceof ServiceError ? (error.retryAfterMs ?? 0) : 0, RETRY_AFTER_CAP_MS);
  const span = Math.max(backoffCeilingMs(attempt), Math.min(asked, (remainingMs - asked) / 2));
  return asked + Math.floor(unit(random()) * span);
}

/** How {@link withRetries} paces one call's attempts. */
export interface RetryLoop {
  readonly maxAttempts: number;
  /** false: throttling ends the call at once, for a caller with its own schedule (CreateSessionOptions). */
  readonly retryThrottled?: boolean | undefined;
  readonly random: () => number;
  readonly sleep: Sleep;
  /** Milliseconds left for the whole call: a retry whose wait would not fit is not made. */
  readonly remainingMs: () => number;
  /** Told before each wait (for --debug). */
  readonly onRetry?: (error: AgentError, attempt: number, delayMs: number) => void;
}

/**
 * Runs `attempt(1)`, `attempt(2)`… until one succeeds, fails with an error not worth retrying
 * ({@link isRetryable}), the attempts run out or the next wait would not fit in the time left; the error
 * then says how many attempts were made.
 */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, loop: RetryLoop): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!isAgentError(error)) throw error;
      const stop = !isRetryable(error) || (loop.retryThrottled === false && isThrottling(error));
      if (stop || n >= loop.maxAttempts) throw afterAttempts(error, n);
      const remaining = loop.remainingMs();
      const delay = retryDelayMs(error, n, loop.random, remaining);
      if (delay >= remaining) throw afterAttempts(error, n);
      loop.onRetry?.(error, n, delay);
      await loop.sleep(delay);
    }
  }
}

/** The default {@link Sleep}: a back-off wait never outlasts the call's deadline (withRetries), so it needs no abort. */
export const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The same error, its message saying how many attempts were made. */
export function afterAttempts(error: AgentError, attempts: number): AgentError {
  if (attempts <= 1) return error;
  const message = `${error.message} (after ${attempts} attempts)`;
  const options = { ...(error.hint ? { hint: error.hint } : {}), cause: error.cause ?? error };
  if (error instanceof ServiceError) {
    return new ServiceError(error.code, message, { status: error.status, serviceCode: error.serviceCode, requestId: error.requestId, retryAfterMs: error.retryAfterMs }, options);
  }
  if (error instanceof NetworkError) return new NetworkError(error.code, message, options);
  return error;
}
