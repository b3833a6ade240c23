import { NetworkError, UsageError } from "../errors.js";
import { VALID_DATE, wrongOption, type Kinds } from "../own-value.js";

/** Temporary AWS credentials, as issued by CreateSession. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** Credentials with CreateSessionResult.clockSkewMs of the answer that brought them (the refresh engine's input). */
export type IssuedCredentials = Credentials & { readonly clockSkewMs?: number | undefined };

/** The `credential_process` output format (key order matters for byte-for-byte compatibility). */
export interface CredentialProcessOutput {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
}

/** RFC 3339 without milliseconds, as the service and the Go helper print it (`2022-07-27T04:36:55Z`). */
export function formatExpiration(date: Date): string {
  const wrong = wrongOption({ date }, { date: VALID_DATE }, { name: () => "the expiration", required: ["date"] });
  if (wrong) throw new UsageError("USAGE", wrong); // plain JavaScript: null, a string, an invalid Date
  return `${date.toISOString().slice(0, -5)}Z`; // toISOString always ends in `.sssZ`
}

const CREDENTIALS_KINDS: Kinds = {
  accessKeyId: "string", secretAccessKey: "string", sessionToken: "string", expiration: VALID_DATE,
};
const CREDENTIALS_FIELDS = Object.keys(CREDENTIALS_KINDS);

export function toCredentialProcessOutput(c: Credentials): CredentialProcessOutput {
  const wrong = wrongOption(c, CREDENTIALS_KINDS, { what: "the credentials", required: CREDENTIALS_FIELDS });
  if (wrong) throw new UsageError("USAGE", wrong);
  return {
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    SessionToken: c.sessionToken,
    Expiration: formatExpiration(c.expiration),
  };
}

/** Go's encoding/json escapes <, > and & (and U+2028/9); we match it so outputs are byte-identical. */
export function goJsonStringify(value: unknown): string {
  const json = JSON.stringify(value);
  // The pattern is compiled only when there is something to escape (rare: credentials are base64 and ASCII names).
  const escapes = ["<", ">", "&", "\u2028", "\u2029"].some((c) => json.includes(c));
  return escapes ? json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : json;
}

/** The default margin (RefreshPolicy.expiryMarginMs); it also covers a caller whose clock is a little ahead of ours. */
export const EXPIRY_MARGIN_MS = 10_000;

/** Whether credentials expiring at `expiresAt` may still be handed out at `now` (epoch milliseconds). */
export function isUsable(expiresAt: number, now: number, marginMs: number = EXPIRY_MARGIN_MS): boolean {
  return Number.isFinite(expiresAt) && expiresAt - marginMs > now;
}

/**
 * The one rule every consumer applies to credentials before handing them on (createSession itself, hence
 * credential-process; the agent client; the refresh engine behind agent/serve/update/fromRolesAnywhere):
 * complete, with an `Expiration` that is a real time and more than `marginMs` ahead of `now`.
 * `from` names the source in the message ("CreateSession at URL").
 */
export function usableCredentials(c: Credentials, now: number, from: string, marginMs: number = EXPIRY_MARGIN_MS): Credentials {
  const complete =
    [c?.accessKeyId, c?.secretAccessKey, c?.sessionToken].every((v) => typeof v === "string" && v !== "") && c.expiration instanceof Date;
  if (!complete) throw new NetworkError("RESPONSE_INVALID", `${from} returned incomplete credentials; they were not used`);
  const expiresAt = c.expiration.getTime();
  if (!Number.isFinite(expiresAt)) {
    throw new NetworkError("CREDENTIALS_EXPIRED", `${from} returned credentials without a valid expiration time; they were not used`);
  }
  if (!isUsable(expiresAt, now, marginMs)) {
    const ago = Math.round((now - expiresAt) / 1000);
    const when = ago >= 0 ? `${ago} s ago` : `in ${-ago} s, within the ${Math.round(marginMs / 1000)} s safety margin`;
    throw new NetworkError("CREDENTIALS_EXPIRED", `${from} returned credentials that expire at ${formatExpiration(c.expiration)} (${when} by this host's clock); they were not used`, {
      hint: "check the system clock (date -u; NTP) and --session-duration; an endpoint that keeps answering this way is broken",
    });
  }
  return c;
}
