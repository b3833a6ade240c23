import type { ProfileArn, RoleArn, TrustAnchorArn } from "../arn.js";
import type { Credentials } from "./credentials.js";

/** What to ask CreateSession for. */
export interface CreateSessionParams {
  readonly trustAnchorArn: TrustAnchorArn;
  readonly profileArn: ProfileArn;
  readonly roleArn: RoleArn;
  /** 900 to 43200 (the profile may allow less). */
  readonly durationSeconds: number;
  /** Sent only when non-empty. */
  readonly roleSessionName?: string;
  /** Signing and endpoint region; defaults to the trust anchor ARN's region. */
  readonly region?: string;
}

export type Sleep = (ms: number) => Promise<void>;

/** The part of an AbortSignal that a request uses (createSession passes a plainer one: its deadline). */
export type Abortable = Pick<AbortSignal, "aborted" | "reason"> & {
  addEventListener(type: "abort", listener: () => void, options?: { once: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
};

/** How to reach the endpoint. Every field is optional; the defaults are the Go helper's, minus its quirks. */
export interface CreateSessionOptions {
  /** Base URL (`--endpoint`); beats `AWS_ENDPOINT_URL_ROLESANYWHERE` and `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
  /** FIPS host name (also `AWS_USE_FIPS_ENDPOINT=true` or a `fips-` region name). */
  readonly useFipsEndpoint?: boolean;
  /** Dual-stack host name (also `AWS_USE_DUALSTACK_ENDPOINT=true`). */
  readonly useDualStackEndpoint?: boolean;
  /** PEM file of extra CAs to trust for https (else `AWS_CA_BUNDLE`); added to Node's default CAs. */
  readonly caBundle?: string;
  /** false = do not verify the endpoint's TLS certificate (testing only). Default true. */
  readonly verifyTls?: boolean;
  /** Per attempt: TCP connect, proxy tunnel and TLS handshake. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** The whole call, every attempt and back-off included. Default 30 s. */
  readonly timeoutMs?: number;
  /** Attempts on 5xx but 501, 429 and network errors (else `AWS_MAX_ATTEMPTS`, else 3). */
  readonly maxAttempts?: number;
  /**
   * false: a 429 ends the call at once, for a caller that retries it on its own schedule (the refresh engine of the
   * agent, `serve` and `update`); retries within the call would multiply a throttled fleet's calls. Default true.
   */
  readonly retryThrottled?: boolean;
  /** Environment for AWS_* and proxy variables (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Clock for X-Amz-Date and clock-skew detection (default: system clock). */
  readonly now?: () => Date;
  readonly sleep?: Sleep;
  /** Uniform in [0, 1), for back-off jitter (default Math.random). */
  readonly random?: () => number;
  /** Receives diagnostic lines (canonical request, string to sign, status, request id); never a secret. */
  readonly debug?: (line: string) => void;
}

export interface CreateSessionResult {
  readonly credentials: Credentials;
  readonly subjectArn?: string;
  readonly assumedRoleArn?: string;
  readonly assumedRoleId?: string;
  readonly roleArn?: string;
  readonly sourceIdentity?: string;
  readonly requestId?: string;
  /** How far the endpoint's clock (its `Date` header) was ahead of ours when the answer arrived; negative: behind. */
  readonly clockSkewMs?: number;
}
