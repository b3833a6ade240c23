import { dropFailures } from "../debug-log.js";
import { AgentError, UsageError } from "../errors.js";
import { wrongOption, type Kinds } from "../own-value.js";
import type { CredentialSettings } from "../settings/credential-settings.js";
import type { Signer } from "../signers/signer.js";
import { CredentialCache, type CacheStatus, type CredentialCacheOptions, type RefreshEvent } from "./credential-cache.js";
import { formatExpiration, type Credentials, type IssuedCredentials } from "../rolesanywhere/credentials.js";
import { watchCertificate, type CertificateStatus } from "./certificate-watch.js";
import { DAY_MS, DEFAULT_EXPIRY_WARNING_DAYS, roughDuration } from "../x509/validity.js";
import { holdSigner, type SignerFactory } from "./signer-holder.js";
import { clockSkewText } from "../rolesanywhere/response.js";

/** Credentials for one named role, cached and refreshed; what the agent, `serve` and `update` hand out. */
export interface CredentialSource {
  readonly name: string;
  readonly settings: CredentialSettings;
  /** Usable credentials, or the error explaining why there are none; `forceRefresh`: new ones (CredentialCache). */
  get(options?: { readonly forceRefresh?: boolean }): Promise<Credentials>;
  /** The same on a cache hit, synchronously; undefined when `get()` would have to wait or fail. */
  cached(): Credentials | undefined;
  /** Opens the signer now (prompting on the terminal if a secret says `prompt`). */
  open(): Promise<void>;
  /** Starts proactive refreshing. */
  start(): void;
  status(): CacheStatus;
  /** The certificate last signed with and whether it is valid, expiring or expired (undefined before first use). */
  certificate(): CertificateStatus | undefined;
  /**
   * Stops refreshing and closes the signer (token session, TPM objects). `successor` (a reload): the source that
   * answers, once open, the requests this one can no longer answer from its still-valid credentials.
   */
  close(successor?: Promise<CredentialSource | undefined>): Promise<void>;
}

/** One CreateSession call: the shape of `createSession` from src/rolesanywhere/create-session.ts. */
export type SessionCreator = (signer: Signer, settings: CredentialSettings) => Promise<IssuedCredentials>;

export interface CredentialSourceOptions extends Pick<
  CredentialCacheOptions, "policy" | "now" | "monotonic" | "random" | "timers"
> {
  readonly name: string;
  readonly settings: CredentialSettings;
  readonly onEvent?: (name: string, event: RefreshEvent, credentials: Credentials | undefined) => void;
  /** Seams; default to the real signer factory and CreateSession client (imported lazily). */
  readonly createSigner?: SignerFactory;
  readonly createSession?: SessionCreator;
  /** false: the default createSession does not retry a 429 within the call (CreateSessionOptions.retryThrottled). */
  readonly retryThrottled?: boolean;
  readonly certificateWarning?: CertificateWarning;
}

/** `--certificate-warning-days`: warn through `log` when the certificate expires within `windowMs` (then daily). */
export interface CertificateWarning {
  readonly windowMs: number;
  readonly log: (line: string) => void;
}

/** {@link CredentialSourceOptions}' types, for plain JavaScript (createSigner and createSession check the rest). */
const SOURCE_KINDS: Kinds = {
  name: "string", settings: { signer: "object", session: "object", endpoint: "object" }, onEvent: "function",
  createSigner: "function", createSession: "function", retryThrottled: "boolean", certificateWarning: { windowMs: "number", log: "function" },
  policy: "object", now: "function", monotonic: "function", random: "function",
  timers: { setTimeout: "function", clearTimeout: "function" },
};
const SOURCE_REQUIRED = ["name", "settings", "settings.signer", "settings.session", "settings.endpoint",
  "certificateWarning.windowMs", "certificateWarning.log", "timers.setTimeout", "timers.clearTimeout"];

export function createCredentialSource(options: CredentialSourceOptions): CredentialSource {
  const wrong = wrongOption(options, SOURCE_KINDS, { required: SOURCE_REQUIRED });
  if (wrong) throw new UsageError("USAGE", `createCredentialSource: ${wrong}`);
  const { name, settings } = options;
  const createSession = options.createSession ?? sessionCreator(options.retryThrottled ?? true);
  let busy: Promise<unknown> = Promise.resolve();
  let closed = false;
  let successor: Promise<CredentialSource | undefined> | undefined;
  // What a request in a reload's close window gets instead of a new fetch (see fetch).
  const closedError = new AgentError("AGENT_UNAVAILABLE", `${name} was closed (reloaded or removed): ask again`);
  const warn = dropFailures(options.certificateWarning?.log);
  const told = dropFailures(options.onEvent);
  const watch = watchCertificate({
    windowMs: options.certificateWarning?.windowMs ?? DEFAULT_EXPIRY_WARNING_DAYS * DAY_MS,
    warn: (line) => warn?.(`${name}: ${line}`),
    timer: options.certificateWarning !== undefined,
    now: options.now,
    timers: options.timers,
  });
  const holder = holdSigner(settings.signer, options.createSigner ?? defaultSignerFactory, (certificate) => watch.observe(certificate));

  const fetch = async (): Promise<IssuedCredentials> => {
    // Closing waits for the fetch in flight, then closes the signer: a later one would open one that nothing closes.
    if (closed) throw closedError;
    const run = (async () => {
      try {
        const credentials = await createSession(await holder.acquire(), settings);
        await holder.release();
        return credentials;
      } catch (error) {
        await holder.release(error);
        throw error;
      }
    })();
    busy = run.catch(() => {});
    return run;
  };

  // A request refused with closedError is no refresh that failed (and would be retried): it is not told.
  const onEvent = (event: RefreshEvent, credentials: Credentials | undefined) => {
    if (event.type === "refresh-failed" && event.error === closedError) return;
    told?.(name, event, credentials);
  };
  const cache = new CredentialCache({ ...options, fetch, onEvent });

  return {
    name,
    settings,
    // Closed: the cached credentials or the fetch in flight, else the successor's answer (closedError without one).
    get: (getOptions) =>
      cache.get(getOptions).catch(async (error: unknown) => {
        const next = closed ? await successor : undefined;
        if (!next) throw error;
        return next.get(getOptions);
      }),
    cached: () => cache.cached(),
    open: () => holder.open(),
    start: () => {
      if (!closed) cache.start();
    },
    status: () => cache.status(),
    certificate: () => watch.status(),
    close: async (next) => {
      closed = true;
      successor = next;
      watch.stop();
      cache.stop();
      holder.stopOpening(closedError); // a device wait (--wait-for-device) ends now, not in up to a day
      await busy;
      await holder.close();
    },
  };
}

// A source lives in a long-running program: file-key signatures go to the thread pool (SignerOptions.signOffThread).
const defaultSignerFactory: SignerFactory = async (signerOptions, signal) =>
  (await import("../signers/factory.js")).createSigner({ ...signerOptions, signOffThread: true }, signal);

const sessionCreator = (retryThrottled: boolean): SessionCreator => async (signer, { session, endpoint }) => {
  const { createSession } = await import("../rolesanywhere/create-session.js");
  const { credentials, clockSkewMs } = await createSession(signer, session, { ...endpoint, retryThrottled });
  return { ...credentials, clockSkewMs };
};

/** The end of the line of a failure the source does not retry (a refused PIN or password). */
export const NOT_RETRIED = "; not retried (fix it, then reload with SIGHUP or restart)";

/**
 * One log line for a refresh outcome. Never includes credentials: only times and the error's message. `file`
 * (`update`, which serves nothing: SDKs read its file): the expiration of what it last wrote there this run, if any.
 */
export function describeRefreshEvent(name: string, event: RefreshEvent, file?: { written: Date | undefined; now: number }): string {
  if (event.type === "refreshed") {
    const { expiration, refreshAt, clockBehindMs: lead } = event;
    const valid = `valid until ${formatExpiration(expiration)}; next refresh at ${formatExpiration(refreshAt)}`;
    const less = lead ? `, so they are handed out ${roughDuration(lead)} less long: fix the clock (NTP)` : "";
    return `${name}: new credentials, ${valid}${lead ? `; this host's clock is ${clockSkewText(lead)}${less}` : ""}`;
  }
  const { error } = event;
  const what = `${name}: refresh failed (${error.code}): ${error.toOneLine()}`;
  const held = file && fileHolds(file);
  if (!event.nextAttemptAt) return `${what}${NOT_RETRIED}${held ?? ""}`;
  const serving = held ?? (event.servingPreviousUntil
    ? `; still serving the previous credentials until ${formatExpiration(event.servingPreviousUntil)}`
    : "; no valid credentials to serve meanwhile");
  return `${what}; retry #${event.consecutiveFailures + 1} at ${formatExpiration(event.nextAttemptAt)}${serving}`;
}

/** What update's credentials file holds, for the end of a failure's line. */
function fileHolds({ written, now }: { written: Date | undefined; now: number }): string {
  const kept = written && (written.getTime() > now ? "keeps the previous ones, valid until" : "holds expired ones, since");
  return kept
    ? `; the credentials file ${kept} ${formatExpiration(written)}`
    : "; the credentials file is left as it is (nothing written to it since update started)";
}
