import { formatExpiration } from "../rolesanywhere/credentials.js";
import { DAY_MS, expiryWarning, type ValidityPeriod } from "../x509/validity.js";
import type { CredentialCacheOptions, Timers } from "./credential-cache.js";

export type CertificateState = "valid" | "expiring" | "expired" | "not-yet-valid";

/** What a daemon's status answer says about the certificate it signs with (never the certificate itself). */
export interface CertificateStatus {
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly state: CertificateState;
}

interface CertificateWatchOptions extends Pick<CredentialCacheOptions, "now" | "timers"> {
  /** Warn when the certificate expires within this many milliseconds. */
  readonly windowMs: number;
  /** Receives each warning line. Must not throw. */
  readonly warn: (line: string) => void;
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
export function watchCertificate(options: CertificateWatchOptions) {
  const now = options.now ?? Date.now;
  const timers = options.timers ?? realTimers;
  let certificate: WatchedCertificate | undefined;
  let lastWarning: { readonly notAfter: number; readonly at: number } | undefined;
  let timer: unknown;
  let stopped = false;

  // The daily timer runs a day after the last warning on the monotonic clock: a wall clock stepped back between
  // two must not make it skip a day; a refresh a day after the last warning on the wall clock warns too.
  const check = (daily = false): void => {
    const c = certificate;
    if (!c || stopped) return;
    const at = now();
    const line = expiryWarning(c, new Date(at), options.windowMs);
    const due = daily || !lastWarning || lastWarning.notAfter !== c.notAfter.getTime() || at - lastWarning.at >= DAY_MS;
    if (line && due) {
      lastWarning = { notAfter: c.notAfter.getTime(), at };
      options.warn(line);
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
    }
    if (timer === undefined && options.timer !== false) {
      timer = timers.setTimeout(() => {
        timer = undefined;
        check(true);
      }, DAY_MS);
    }
  };

  return {
    /** Called with the certificate each time the source signs with it. */
    observe(observed: WatchedCertificate): void {
      if (stopped) return;
      const { subject, notBefore, notAfter } = observed;
      certificate = { subject, notBefore, notAfter };
      check();
    },

    status(): CertificateStatus | undefined {
      const c = certificate;
      if (!c) return undefined;
      const at = now();
      let state: CertificateState = "valid";
      if (at > c.notAfter.getTime()) state = "expired";
      else if (at < c.notBefore.getTime()) state = "not-yet-valid";
      else if (c.notAfter.getTime() - at <= options.windowMs) state = "expiring";
      return { ...c, state };
    },

    stop(): void {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
    },
  };
}

/** The status answer's `certificate` member: subject, dates and state, or null before first use. */
export function certificateStatusJson(status: CertificateStatus | undefined): { subject: string; notBefore: string; notAfter: string; state: CertificateState } | null {
  if (!status) return null;
  const { subject, notBefore, notAfter, state } = status;
  return { subject, notBefore: formatExpiration(notBefore), notAfter: formatExpiration(notAfter), state };
}
