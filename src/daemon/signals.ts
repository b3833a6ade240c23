/**
 * Signal handling for the long-running commands (agent, serve, update): SIGTERM/SIGINT end the wait so the
 * command can close its signers (flushing TPM objects, closing token sessions) and return; SIGHUP asks for
 * a configuration reload. Listeners are removed by `dispose()`, so tests can run several daemons in one process.
 */
export interface SignalWatch {
  /** Resolves with the name of the first terminating signal. */
  readonly stopped: Promise<NodeJS.Signals>;
  /** Ends the watch as if a signal had arrived (for tests and programmatic shutdown). */
  stop(): void;
  dispose(): void;
}

export function watchSignals(onReload?: () => void, target: NodeJS.EventEmitter = process): SignalWatch {
  let resolveStopped!: (signal: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((r) => (resolveStopped = r));
  const onTerm = () => resolveStopped("SIGTERM");
  const onInt = () => resolveStopped("SIGINT");
  const onHup = () => onReload?.();
  target.on("SIGTERM", onTerm);
  target.on("SIGINT", onInt);
  target.on("SIGHUP", onHup);
  return {
    stopped,
    stop: () => resolveStopped("SIGTERM"),
    dispose: () => {
      target.off("SIGTERM", onTerm);
      target.off("SIGINT", onInt);
      target.off("SIGHUP", onHup);
    },
  };
}

/** Where a daemon writes its log lines (stderr, or the journal under systemd). */
export type Log = (line: string) => void;

/** An error as one log line: an AgentError's own one-line form, else its text. */
export function oneLine(error: unknown): string {
  return (error as { toOneLine?: () => string }).toOneLine?.() ?? String(error);
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
