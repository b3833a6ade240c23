import { dropFailures } from "../debug-log.js";
import { NetworkError } from "../errors.js";
import type { Signer } from "../signers/signer.js";
import { createTransport, sendRequest } from "./http-client.js";
import {
  CLOCK_SKEW_LIMIT_MS, clockSkewMs, clockSkewText, errorFromResponse, parseCreateSessionResponse, requestIdOf,
} from "./response.js";
import { maxAttemptsFrom, sleep, withRetries } from "./retry.js";
import {
  checkCreateSessionArguments,
  prepareCreateSession,
  signCreateSessionRequest,
  signingMaterialFor,
} from "./signed-request.js";
import type { Abortable, CreateSessionOptions, CreateSessionParams, CreateSessionResult } from "./types.js";
import { readOnce } from "../own-value.js";

export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Exchanges the signer's certificate for temporary credentials (Roles Anywhere CreateSession).
 * 5xx but 501, 429 (unless `retryThrottled` is false) and transient network failures are retried with exponential
 * back-off and full jitter (after the endpoint's `Retry-After`, if any), each attempt signed afresh; the whole call,
 * retries included, is bounded by `timeoutMs`.
 */
export async function createSession(
  signer: Signer,
  givenParams: CreateSessionParams,
  givenOptions: CreateSessionOptions = {},
): Promise<CreateSessionResult> {
  // Each read once: a getter gives the value checked and the value used.
  const params = readOnce(givenParams);
  const options = readOnce(givenOptions);
  checkCreateSessionArguments(signer, params, options);
  const env = options.env ?? process.env;
  const debug = dropFailures(options.debug);
  const now = options.now ?? (() => new Date());
  const { timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  const target = prepareCreateSession(params, options);
  const maxAttempts = maxAttemptsFrom(options.maxAttempts, env);
  // The certificate's dates are checked against the system clock (`now` may be a test's or a skew-corrected clock).
  const material = await signingMaterialFor(signer, new Date());
  const transport = await createTransport(target.endpoint, { ...options, env });
  debug?.(
    `CreateSession endpoint ${target.endpoint.baseUrl} (from ${target.endpoint.source}), signing region ${target.region}` +
      `${transport.proxy ? `, through proxy ${transport.proxy.display} (${transport.proxy.source})` : ""}` +
      `${transport.tls.rejectUnauthorized ? "" : ", TLS verification OFF"}`,
  );

  const deadline = deadlineAfter(timeoutMs);
  let attempt = 0;
  // process.hrtime rather than `performance`: the global's first use loads perf_hooks (milliseconds at start-up).
  const started = monotonicMs();

  const attemptOnce = async (n: number): Promise<CreateSessionResult> => {
    attempt = n;
    const signed = await signCreateSessionRequest(target, material, now());
    if (debug) {
      debug(`attempt ${n}/${maxAttempts}: POST ${signed.url}`);
      debug("canonical request:");
      for (const line of signed.canonicalRequest.split("\n")) debug(`  | ${line}`);
      debug("string to sign:");
      for (const line of signed.stringToSign.split("\n")) debug(`  | ${line}`);
    }
    const { request } = target;
    const response = await sendRequest(
      transport,
      { method: request.method, path: `${request.path}?${request.queryString}`, headers: signed.headers, body: signed.body },
      deadline,
    );
    const receivedAt = now();
    const requestId = requestIdOf(response);
    if (debug) {
      debug(`HTTP ${response.status}${requestId ? `, request id ${requestId}` : ""}, ${response.body.length} bytes`);
      const skew = clockSkewMs(response, receivedAt);
      if (skew !== undefined && Math.abs(skew) > CLOCK_SKEW_LIMIT_MS) {
        debug(`clock skew: this host's clock is ${clockSkewText(skew)}`);
      }
    }
    const context = { receivedAt, endpoint: target.endpoint.baseUrl, region: target.region };
    try {
      if (response.status >= 200 && response.status < 300) return parseCreateSessionResponse(response, context);
      throw errorFromResponse(response, context);
    } finally {
      response.body.fill(0); // the session's keys: only the parsed strings are kept
    }
  };

  try {
    return await withRetries(attemptOnce, {
      maxAttempts,
      retryThrottled: options.retryThrottled,
      random: options.random ?? Math.random,
      sleep: options.sleep ?? sleep,
      remainingMs: () => timeoutMs - (monotonicMs() - started),
      onRetry: (error, n, delay) => debug?.(`attempt ${n} failed (${error.code}: ${error.message}); retrying in ${delay} ms`),
    });
  } catch (error) {
    if (error !== deadline.reason) throw error;
    const what = `CreateSession at ${target.endpoint.baseUrl} did not complete within ${timeoutMs / 1000} s`;
    throw new NetworkError("TIMEOUT", `${what} (${attempt} attempt${attempt === 1 ? "" : "s"})`, {
      hint: "the endpoint or a proxy did not answer in time: check the network, or raise --timeout",
    });
  } finally {
    clearTimeout(deadline.timer);
  }
}

/**
 * Aborts the attempt in flight after `ms` (a back-off wait ends before: withRetries). An AbortSignal.timeout and its
 * EventTarget listeners cost a cold credential-process ~3 M instructions (cachegrind).
 */
function deadlineAfter(ms: number): Abortable & { timer: NodeJS.Timeout } {
  const listeners = new Set<() => void>();
  const deadline = {
    aborted: false, reason: undefined as unknown,
    addEventListener: (_: "abort", listener: () => void) => void listeners.add(listener),
    removeEventListener: (_: "abort", listener: () => void) => void listeners.delete(listener),
    timer: setTimeout(() => {
      Object.assign(deadline, { aborted: true, reason: new Error("deadline") });
      listeners.forEach((listener) => listener());
    }, ms),
  };
  return deadline;
}

function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
