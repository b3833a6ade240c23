/** Where a daemon writes its log lines (stderr, or the journal under systemd). */
export type Log = (line: string) => void;

/** An error as one log line: an AgentError's own one-line form, else its text. */
export function oneLine(error: unknown): string {
  return (error as { toOneLine?: () => string }).toOneLine?.() ?? String(error);
}

/**
 * SIGTERM/SIGINT resolve `stopped` (the command then closes its signers: TPM objects flushed, token sessions
 * closed); SIGHUP calls `onReload`. `dispose()` removes the listeners, so tests can run several daemons in one process.
 */
export function watchSignals(onReload?: () => void, target: NodeJS.EventEmitter = process) {
  let resolveStopped!: (signal: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((r) => (resolveStopped = r));
  const listeners = { SIGTERM: () => resolveStopped("SIGTERM"), SIGINT: () => resolveStopped("SIGINT"), SIGHUP: () => onReload?.() };
  for (const [signal, listener] of Object.entries(listeners)) target.on(signal, listener);
  return {
    stopped,
    dispose: () => {
      for (const [signal, listener] of Object.entries(listeners)) target.off(signal, listener);
    },
  };
}

/**
 * Waits for SIGTERM or SIGINT. Each SIGHUP runs `reload` (if any) after any reload still running; it resolves to
 * the line to log, and a reload that fails is logged and the running configuration kept. Resolves once the last
 * reload has finished.
 */
export async function runUntilStopped(log: Log, reload?: () => Promise<string>): Promise<void> {
  let reloading = Promise.resolve();
  const signals = watchSignals(
    reload &&
      (() => {
        reloading = reloading.then(reload).then(log, (error: unknown) => log(`reload failed, keeping the previous configuration: ${oneLine(error)}`));
      }),
  );
  try {
    log(`${await signals.stopped}: stopping`);
  } finally {
    signals.dispose();
    await reloading;
  }
}
