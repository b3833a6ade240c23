import { InputError } from "../errors.js";
import { oneLineName } from "./certificate.js";

export interface ValidityPeriod {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export const DAY_MS = 86_400_000;
export const DEFAULT_EXPIRY_WARNING_DAYS = 14;

/** `2026-12-02 15:04:05 UTC`: one format for every date an operator compares with the clock. */
export function utc(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * `3 d 4 h`, `30 d`, `20 min`, `45 s`: the largest unit of a duration, and the next one when it is not zero; under a
 * second but not zero is `1 s` (a certificate "not valid for another 0 s" would be refused for nothing, it seems).
 */
export function roughDuration(ms: number): string {
  const s = Math.max(Math.abs(ms) > 0 ? 1 : 0, Math.round(Math.abs(ms) / 1000));
  const units: [number, string][] = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];
  const found = units.findIndex(([size]) => s >= size);
  const i = found < 0 ? units.length - 1 : found;
  const [size, name] = units[i]!;
  const text = `${Math.floor(s / size)} ${name}`;
  const next = units[i + 1];
  const rest = next ? Math.floor((s % size) / next[0]) : 0;
  return rest > 0 ? `${text} ${rest} ${next![1]}` : text;
}

/**
 * Refuses a certificate the service would refuse for its dates, before any key is used: the service
 * answers an expired certificate with a bare 403, and a clock that is wrong is easier to see here.
 */
export function checkCertificateValidity(cert: ValidityPeriod & { readonly subject?: string }, now: Date): void {
  const dates = `valid from ${utc(cert.notBefore)} to ${utc(cert.notAfter)}; this machine's clock says ${utc(now)}`;
  if (now.getTime() > cert.notAfter.getTime()) {
    throw new InputError("CERTIFICATE_EXPIRED", `the certificate${subjectOf(cert)} expired ${roughDuration(now.getTime() - cert.notAfter.getTime())} ago (${dates})`, {
      hint: "install a renewed certificate (or, if the clock is wrong, fix it with NTP)",
    });
  }
  if (now.getTime() < cert.notBefore.getTime()) {
    throw new InputError("CERTIFICATE_NOT_YET_VALID", `the certificate${subjectOf(cert)} is not valid for another ${roughDuration(cert.notBefore.getTime() - now.getTime())} (${dates})`, {
      hint: "check this machine's clock (NTP); a fresh certificate is valid from the moment it was issued",
    });
  }
}

/**
 * The warning to log when `cert` expires within `windowMs` of `now` (undefined otherwise, and for a
 * certificate that has already expired: that is an error, reported by {@link checkCertificateValidity}).
 */
export function expiryWarning(cert: ValidityPeriod & { readonly subject?: string }, now: Date, windowMs: number): string | undefined {
  const left = cert.notAfter.getTime() - now.getTime();
  if (left < 0 || left > windowMs) return undefined;
  return `warning: the certificate${subjectOf(cert)} expires in ${roughDuration(left)} (not after ${utc(cert.notAfter)}): renew it before then`;
}

function subjectOf(cert: { readonly subject?: string }): string {
  return cert.subject ? ` (${oneLineName(cert.subject)})` : "";
}
