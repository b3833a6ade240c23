import { formatExpiration } from "../rolesanywhere/credentials.js";
import { DAY_MS, expiryWarning, type ValidityPeriod } from "../x509/validity.js";
import type { Timers } from "./credential-cache.js";

export type CertificateState = "valid" | "expiring" | "expired" | "not-yet-valid";

/** What a daemon's status answer says about the certificate it signs with (never the certificate itself). */
export interface CertificateStatus {
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly state: CertificateState;
}

interface CertificateWatchOptions {
  /** Warn when the certificate expires within this many milliseconds. */
  readonly windowMs: number;
  /** Receives each warning line. Must not throw. */
  readonly warn: (line: string) => void;
  readonly now?: (() => number) | undefined;
  readonly timers?: Timers | undefined;
  /** Re-check from a timer between observations (default true; off for one-shot sources). */
  readonly timer?: boolean;
}

type WatchedCertificate = ValidityPeriod & { readonly subject: string };

const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Watches the certificate a long-running source signs with: a warning when it comes within the window of its
 * expiry, when first seen and then daily (also between refreshes, from a timer), so an operator hears about it
 * days before CreateSession fails. A renewed certificate (another expiry date) starts over.
 */
export class CertificateWatch {
  readonly #options: CertificateWatchOptions;
  readonly #now: () => number;
  readonly #timers: Timers;
  #certificate: WatchedCertificate | undefined;
  #lastWarning: { readonly notAfter: number; readonly at: number } | undefined;
  #timer: unknown;
  #stopped = false;

  constructor(options: CertificateWatchOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? realTimers;
  }

  /** Called with the certificate each time the source signs with it. */
  observe(certificate: WatchedCertificate): void {
    if (this.#stopped) return;
    const { subject, notBefore, notAfter } = certificate;
    this.#certificate = { subject, notBefore, notAfter };
    this.#check();
  }

  status(): CertificateStatus | undefined {
    const c = this.#certificate;
    if (!c) return undefined;
    const now = this.#now();
    let state: CertificateState = "valid";
    if (now > c.notAfter.getTime()) state = "expired";
    else if (now < c.notBefore.getTime()) state = "not-yet-valid";
    else if (c.notAfter.getTime() - now <= this.#options.windowMs) state = "expiring";
    return { ...c, state };
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
  }

  #check(): void {
    const c = this.#certificate;
    if (!c || this.#stopped) return;
    const now = this.#now();
    const line = expiryWarning(c, new Date(now), this.#options.windowMs);
    const last = this.#lastWarning;
    const due = !last || last.notAfter !== c.notAfter.getTime() || now - last.at >= DAY_MS;
    if (line && due) {
      this.#lastWarning = { notAfter: c.notAfter.getTime(), at: now };
      this.#options.warn(line);
    }
    if (this.#timer === undefined && this.#options.timer !== false) {
      this.#timer = this.#timers.setTimeout(() => {
        this.#timer = undefined;
        this.#check();
      }, DAY_MS);
    }
  }
}

/** The status answer's `certificate` member: subject, dates and state, or null before first use. */
export function certificateStatusJson(status: CertificateStatus | undefined): { subject: string; notBefore: string; notAfter: string; state: CertificateState } | null {
  if (!status) return null;
  const { subject, notBefore, notAfter, state } = status;
  return { subject, notBefore: formatExpiration(notBefore), notAfter: formatExpiration(notAfter), state };
}
