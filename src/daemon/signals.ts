import { printableLine } from "../errors.js";

/** Where a daemon writes its log lines (stderr, or the journal under systemd). */
export type Log = (line: string) => void;

/**
 * A daemon's log sink on `stream`: each line printable (errors.ts printableLine), so that no value from argv, a
 * config or certificate file, the network or an error text splits a log line, forges one or drives the terminal.
 */
export function logTo(stream: { write(text: string): unknown }): Log {
  return (line) => void stream.write(`${printableLine(line)}\n`);
}

/** An error as one log line: an AgentError's own one-line form, else its text. */
export function oneLine(error: unknown): string {
  return (error as { toOneLine?: () => string }).toOneLine?.() ?? String(error);
}

/**
 * Waits for SIGTERM or SIGINT. Each SIGHUP runs `reload` (if any) after any reload still running; it resolves to
 * the line to log, and a reload that fails is logged and the running configuration kept. Resolves once the last
 * reload has finished, with the listeners removed (`target`: tests run several daemons in one process).
 */
export async function runUntilStopped(log: Log, reload?: () => Promise<string>, target: NodeJS.EventEmitter = process): Promise<void> {
  let reloading = Promise.resolve();
  let stop!: (signal: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((r) => (stop = r));
  const onReload = () => {
    if (!reload) return;
    const failed = (error: unknown) => log(`reload failed, keeping the previous configuration: ${oneLine(error)}`);
    reloading = reloading.then(reload).then(log, failed);
  };
  const listeners = { SIGTERM: () => stop("SIGTERM"), SIGINT: () => stop("SIGINT"), SIGHUP: onReload };
  for (const [signal, listener] of Object.entries(listeners)) target.on(signal, listener);
  try {
    log(`${await stopped}: stopping`);
  } finally {
    for (const [signal, listener] of Object.entries(listeners)) target.off(signal, listener);
    await withSignalsStopping(log, "shutdown", () => reloading);
  }
}

/**
 * Runs `work` (a daemon's start-up or shutdown) with SIGTERM and SIGINT ending the process at once through
 * process.exit, whose exit handlers flush TPM objects (a simulator or /dev/tpm0 keeps them; a signal's default
 * action skips those handlers), and SIGHUP logged and ignored instead of killing it.
 */
export async function withSignalsStopping<T>(log: Log, phase: string, work: () => Promise<T>): Promise<T> {
  const stopNow = (signal: string) => () => {
    log(`${signal} during ${phase}: stopping now`);
    process.exit(0);
  };
  const listeners = { SIGTERM: stopNow("SIGTERM"), SIGINT: stopNow("SIGINT"), SIGHUP: () => log(`SIGHUP during ${phase}: ignored`) };
  for (const [signal, listener] of Object.entries(listeners)) process.on(signal, listener);
  try {
    return await work();
  } finally {
    for (const [signal, listener] of Object.entries(listeners)) process.off(signal, listener);
  }
}
