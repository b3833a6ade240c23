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
