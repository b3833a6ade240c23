import { createCredentialSource, type CertificateWarning } from "../credentials/credential-source.js";
import { describeRefreshEvent } from "../credentials/describe-event.js";
import { SourceRegistry, type ApplyResult, type SourceSpec } from "../credentials/source-registry.js";
import { oneLine, runUntilStopped, type Log } from "./signals.js";

/** One log line per source the registry could not (re)build; such sources answer with their error. */
export function logFailures(result: ApplyResult, log: Log): void {
  for (const f of result.failed) log(`${f.name}: ${oneLine(f.error)}`);
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
 * A registry of sources that log their refreshes, with `specs` applied: signers are opened now, before the
 * daemon listens, so a `prompt` PIN is asked once, on the terminal. With `failFast`, a source that failed for a
 * reason that is not transient closes every source and its error is thrown.
 */
export async function startRegistry(specs: readonly SourceSpec[], log: Log, failFast: boolean, options: DaemonStartOptions = {}): Promise<SourceRegistry> {
  const { certificateWarning, requireFirstCredentials = false, onRefreshed } = options;
  const registry = new SourceRegistry((spec) =>
    createCredentialSource({
      ...spec,
      onEvent: (name, event) => {
        log(describeRefreshEvent(name, event));
        if (event.type === "refreshed") onRefreshed?.(name);
      },
      ...(certificateWarning ? { certificateWarning } : {}),
    }),
  );
  const initial = await registry.apply(specs);
  const fatal = failFast || requireFirstCredentials ? initial.failed.find((f) => requireFirstCredentials || !isTransient(f.error)) : undefined;
  if (fatal) {
    await registry.closeAll();
    throw fatal.error;
  }
  logFailures(initial, log);
  if (requireFirstCredentials) {
    try {
      await Promise.all(registry.all().map((source) => source.get()));
    } catch (error) {
      await registry.closeAll();
      throw error;
    }
  }
  return registry;
}

/** What the daemons' own flags add to the start-up of their sources. */
export interface DaemonStartOptions {
  /** `--certificate-warning-days`. */
  readonly certificateWarning?: CertificateWarning | undefined;
  /**
   * `--fail-fast`: every source's first credentials must come now (after CreateSession's own bounded retries);
   * any failure, transient or not, ends the daemon with that error instead of retrying in the background.
   */
  readonly requireFirstCredentials?: boolean | undefined;
  /** Told each time a source has new credentials (systemd readiness). */
  readonly onRefreshed?: ((name: string) => void) | undefined;
}

/** Starts the registry's server; a server that cannot start closes every source before its error is thrown. */
export async function listenOrClose<T>(registry: SourceRegistry, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    await registry.closeAll();
    throw error;
  }
}

/**
 * The life of a daemon that serves a registry's credentials (`agent`, `serve`), once its server listens:
 * SIGHUP re-reads the configuration with `nextSpecs` and applies it (unchanged sources keep their cache);
 * SIGTERM or SIGINT closes the server, then every source (token sessions closed, TPM objects flushed).
 */
export async function serveUntilStopped(
  registry: SourceRegistry,
  server: { close(): Promise<void> },
  nextSpecs: () => Promise<readonly SourceSpec[]>,
  log: Log,
): Promise<void> {
  try {
    await runUntilStopped(log, async () => {
      const r = await registry.apply(await nextSpecs());
      logFailures(r, log);
      return `configuration reloaded: kept ${r.kept.length}, added ${r.added.length}, replaced ${r.replaced.length}, removed ${r.removed.length}`;
    });
  } finally {
    await server.close();
    await registry.closeAll();
  }
}
