/** Error types the service uses for the statuses a test may inject. */
const ERROR_TYPES: Readonly<Record<number, string>> = {
  429: "ThrottlingException",
  500: "InternalServerException",
  502: "BadGatewayException",
  503: "ServiceUnavailableException",
  504: "GatewayTimeoutException",
};

/** How an injected bad answer spells its credentials' expiration: an hour ago, or text that is not a time. */
export type ExpirationFault = "past" | "unparsable";

/**
 * Test knobs: the next N CreateSession requests are answered with an error status before any verification,
 * so that clients' retry and backoff paths can be exercised against a real endpoint; or the next N verified
 * requests get credentials that are already expired (or whose expiration is not a time), as a broken endpoint
 * or a badly wrong clock would produce, so that clients' refusal of them can be exercised.
 */
export class InjectedFailures {
  #remaining = 0;
  #status = 503;
  #expiredRemaining = 0;
  #expiredForm: ExpirationFault = "past";

  /** Issues the next `count` sessions with an expiration in the past (default) or not a time; `count` 0 cancels. */
  expireNext(count: number, form: ExpirationFault = "past"): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`expireNext count must be a non-negative integer, got ${count}`);
    if (form !== "past" && form !== "unparsable") throw new RangeError(`expireNext form must be "past" or "unparsable", got ${String(form)}`);
    this.#expiredRemaining = count;
    this.#expiredForm = form;
  }

  takeExpiration(): ExpirationFault | undefined {
    if (this.#expiredRemaining === 0) return undefined;
    this.#expiredRemaining--;
    return this.#expiredForm;
  }

  /** Fails the next `count` CreateSession requests with `status` (default 503); `count` 0 cancels. */
  failNext(count: number, status = 503): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`failNext count must be a non-negative integer, got ${count}`);
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError(`failNext status must be 400–599, got ${status}`);
    this.#remaining = count;
    this.#status = status;
  }

  get remaining(): number {
    return this.#remaining;
  }

  take(): { status: number; errorType: string } | undefined {
    if (this.#remaining === 0) return undefined;
    this.#remaining--;
    return { status: this.#status, errorType: ERROR_TYPES[this.#status] ?? (this.#status < 500 ? "ValidationException" : "InternalServerException") };
  }
}
