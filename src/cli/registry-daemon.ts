import { watchSignals } from "../agent/signals.js";
import type { ApplyResult, SourceRegistry, SourceSpec } from "../credentials/source-registry.js";

/** An error as one log line: an AgentError's own one-line form, else its text. */
export function oneLine(error: unknown): string {
  return (error as { toOneLine?: () => string }).toOneLine?.() ?? String(error);
}

/** One log line per source the registry could not (re)build; such sources answer with their error. */
export function logFailures(result: ApplyResult, log: (line: string) => void): void {
  for (const f of result.failed) log(`${f.name}: ${oneLine(f.error)}`);
}

/**
 * The life of a daemon that serves a registry's credentials (`agent`, `serve`), once its server listens:
 * SIGHUP re-reads the configuration with `nextSpecs` and applies it (unchanged sources keep their cache; a
 * configuration that cannot be read is refused and the running one kept); SIGTERM or SIGINT closes the server,
 * then every source (token sessions closed, TPM objects flushed). Resolves when all is closed.
 */
export async function serveUntilStopped(
  registry: SourceRegistry,
  server: { close(): Promise<void> },
  nextSpecs: () => Promise<readonly SourceSpec[]>,
  log: (line: string) => void,
): Promise<void> {
  const signals = watchSignals(() => {
    nextSpecs()
      .then((next) => registry.apply(next))
      .then((r) => {
        logFailures(r, log);
        log(`configuration reloaded: kept ${r.kept.length}, added ${r.added.length}, replaced ${r.replaced.length}, removed ${r.removed.length}`);
      })
      .catch((error: unknown) => log(`reload failed, keeping the previous configuration: ${oneLine(error)}`));
  });
  try {
    log(`${await signals.stopped}: stopping`);
  } finally {
    signals.dispose();
    await server.close();
    await registry.closeAll();
  }
}
