import { isNotRetried, type RefreshEvent } from "../credentials/credential-cache.js";
import { createCredentialSource, describeRefreshEvent, NOT_RETRIED, type CertificateWarning, type CredentialSource } from "../credentials/credential-source.js";
import { SourceRegistry, type ApplyResult, type SourceSpec } from "../credentials/source-registry.js";
import type { Credentials } from "../rolesanywhere/credentials.js";
import { isAgentError } from "../errors.js";
import { oneLine, runDaemon, type Log } from "./signals.js";

/** One log line per source the registry could not (re)build; such sources answer with their error. */
function logFailures(result: ApplyResult, log: Log): void {
  for (const f of result.failed) {
    // A refused secret or a wrong setting is never tried again: its refresh repeats this error unlogged (loggingSource).
    const final = isAgentError(f.error) && isNotRetried(f.error);
    log(`${f.name}: ${oneLine(f.error)}${final ? NOT_RETRIED : ""}`);
  }
}

/**
 * Whether a daemon outlives this error at start-up: a token not plugged in yet or an endpoint not reachable yet
 * (the source keeps retrying). Anything else — a key or certificate that cannot be used, a wrong PIN — is the
 * user's to fix, and ends `serve` and `update` at start-up, as with aws_signing_helper.
 */
export function isTransient(error: unknown): boolean {
  const category = (error as { category?: string }).category;
  return category === "device" || category === "network";
}

/**
 * A daemon's credential source: it logs each refresh, and tells `onRefreshed` of each new set of credentials. A
 * local failure — a key, certificate or file that cannot be used (`input`: retried every few minutes until its
 * owner or a renewal fixes it), a token or TPM not there (`device`: retried at once when it is) — is logged once,
 * not at each retry, until the error changes; one that opening the signer met (logged by logFailures) too. An
 * endpoint that fails (network, service) is logged at the 1st, 2nd, 4th… failure, then every 64th.
 */
export function loggingSource(spec: SourceSpec, log: Log, { certificateWarning, onRefreshed, written }: DaemonStartOptions): CredentialSource {
  let logged: string | undefined;
  let openFailure: unknown;
  const outageEnding = outageSchedule();
  const localLine = (error: unknown): string | undefined => {
    const { category, code, message } = error as { category?: string; code?: string; message?: string };
    // Without what changes at each retry: the clock's reading and how long ago or until (validity.ts).
    const steady = message?.replace(/clock says [\d-]+ [\d:]+ UTC|\b\d+ (?:d|h|min|s)\b/g, "…");
    return category === "input" || category === "device" ? `${code} ${steady}` : undefined;
  };
  const source = createCredentialSource({
    ...spec,
    retryThrottled: false, // the engine retries a 429 after Retry-After, jittered, before the credentials lapse
    onEvent: (name, event, credentials) => {
      const failed = event.type === "refresh-failed" ? event : undefined;
      const line = failed && localLine(failed.error);
      const ending = outageEnding(failed && !line && failed.nextAttemptAt ? failed : undefined);
      const once = line ? "; not logged again until it changes" : ending;
      // The error open() threw, not retried (a refused PIN thrown again, a wrong setting met again): start-up logged it.
      const again = failed !== undefined && !failed.nextAttemptAt && openFailure !== undefined && oneLine(failed.error) === oneLine(openFailure);
      const quiet = ending === undefined || (line !== undefined && line === logged) || again;
      const file = written && { written: written(), now: Date.now() };
      if (!quiet) log(describeRefreshEvent(name, event, file) + once);
      logged = line;
      if (credentials) onRefreshed?.(name, credentials);
    },
    certificateWarning,
  });
  return {
    ...source,
    open: () =>
      source.open().catch((error: unknown) => {
        logged = localLine(error);
        openFailure = error;
        throw error;
      }),
  };
}

type RefreshFailure = Extract<RefreshEvent, { type: "refresh-failed" }>;

/**
 * Which failures of an outage (network, service: retried every 30 s or so) are logged: the 1st, 2nd, 4th…, then
 * every 64th, and at once when its error changes (request ids, times and counts aside; a refused connection, then
 * a TLS-inspecting proxy: one code) or the previous credentials lapse — not ~2,900 lines a day. A change back to an
 * error this outage already had is said once between two of those lines (two errors alternating at every attempt).
 * The returned function gives a logged failure's line ending, undefined for one not logged; no failure ends the
 * outage ("").
 */
function outageSchedule(): (failure: RefreshFailure | undefined) => string | undefined {
  let last: string | undefined;
  const seen = new Set<string>();
  let changeBackSaid = false;
  return (failure) => {
    const what = failure?.error.message.replace(/\[request id [^\]]*\]|\d+/g, "#");
    const key = failure && `${failure.error.code} ${failure.servingPreviousUntil !== undefined} ${what}`;
    const repeated = key !== undefined && key === last;
    last = key;
    if (!failure) {
      seen.clear();
      changeBackSaid = false;
      return "";
    }
    const n = failure.consecutiveFailures;
    const scheduled = n % 64 === 0 || (n & (n - 1)) === 0;
    const known = seen.has(key!);
    if (seen.size < 32) seen.add(key!);
    if (!scheduled && (repeated || (known && changeBackSaid))) return undefined;
    changeBackSaid = !scheduled && known;
    const next = n < 64 ? 2 ** (Math.floor(Math.log2(n)) + 1) : n - (n % 64) + 64;
    return `; logged again at failure #${next} unless it changes`;
  };
}

/** What the daemons' own flags add to the start-up of their sources. */
export interface DaemonStartOptions {
  readonly certificateWarning?: CertificateWarning | undefined;
  /** `--fail-fast`: every source's first credentials must come now; any failure, transient or not, ends the daemon. */
  readonly requireFirstCredentials?: boolean | undefined;
  /** Told each time a source has new credentials (systemd readiness, the credentials file). */
  readonly onRefreshed?: ((name: string, credentials: Credentials) => void) | undefined;
  /** `update`: the expiration of the credentials it last wrote to its file (undefined: none yet). */
  readonly written?: (() => Date | undefined) | undefined;
}

/**
 * A registry of sources that log their refreshes, with `specs` applied (signers opened now, before the daemon
 * listens, so a `prompt` PIN is asked once, on the terminal), and its server started by `listen`.
 */
export async function startDaemon<T>(
  specs: readonly SourceSpec[],
  log: Log,
  failFast: boolean,
  options: DaemonStartOptions,
  listen: (registry: SourceRegistry) => Promise<T>,
): Promise<{ registry: SourceRegistry; server: T }> {
  const { requireFirstCredentials = false } = options;
  const registry = new SourceRegistry((spec) => loggingSource(spec, log, options));
  try {
    const initial = await registry.apply(specs);
    const fatal = initial.failed.find((f) => requireFirstCredentials || (failFast && !isTransient(f.error)));
    if (fatal) throw fatal.error;
    logFailures(initial, log);
    if (requireFirstCredentials) await Promise.all(registry.all().map((source) => source.get()));
    return { registry, server: await listen(registry) };
  } catch (error) {
    await registry.closeAll();
    throw error;
  }
}

/**
 * The life of a daemon that serves a registry's credentials (`agent`, `serve`), from its first step (signals:
 * runDaemon): `startUp` reads the configuration and starts the daemon (startDaemon); SIGHUP re-reads it with
 * `nextSpecs` and applies it (unchanged sources keep their cache); SIGTERM or SIGINT closes the server, then every
 * source (token sessions closed, TPM objects flushed).
 */
export async function serveUntilStopped(
  log: Log,
  startUp: () => Promise<{ registry: SourceRegistry; server: { close(): Promise<void> } }>,
  nextSpecs: () => Promise<readonly SourceSpec[]>,
): Promise<void> {
  await runDaemon(log, {
    startUp,
    reload: async ({ registry }) => {
      const r = await registry.apply(await nextSpecs());
      logFailures(r, log);
      return `configuration reloaded: kept ${r.kept.length}, added ${r.added.length}, replaced ${r.replaced.length}, removed ${r.removed.length}`;
    },
    // Closing waits for a CreateSession in flight (up to its timeout): a second SIGTERM or SIGINT stops at once.
    shutDown: async ({ registry, server }) => {
      await server.close();
      await registry.closeAll();
    },
  });
}
