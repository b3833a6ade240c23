import { cutAt, installationChanged, MAX_LOG_LINE, printableLine } from "../errors.js";
import { takeHeldSighup } from "./held-sighup.js";

/** Where a daemon writes its log lines (stderr, or the journal under systemd). */
export type Log = (line: string) => void;

/**
 * A daemon's log sink on `stream`: each line printable (errors.ts printableLine), so that no value from argv, a
 * config or certificate file, the network or an error text splits a log line, forges one or drives the terminal;
 * and cut at MAX_LOG_LINE, so that none floods it (journald would cut it silently).
 */
export function logTo(stream: { write(text: string): unknown }): Log {
  return (line) => void stream.write(`${cutAt(printableLine(line), MAX_LOG_LINE)}\n`);
}

/** An error as one log line: an AgentError's own one-line form (errors.ts installationChanged's too), else its text. */
export function oneLine(error: unknown): string {
  return ((installationChanged(error) ?? error) as { toOneLine?: () => string }).toOneLine?.() ?? String(error);
}

/** What a daemon does around its signals ({@link runDaemon}); `started` is what `startUp` resolved to. */
interface DaemonLife<T> {
  /** All before serving: reading the configuration, a PIN prompt, --fail-fast's first CreateSession, listening. */
  readonly startUp?: (() => Promise<T>) | undefined;
  /** On SIGHUP: resolves to the line to log; a reload that fails is logged and the running configuration kept. */
  readonly reload?: ((started: T) => Promise<string>) | undefined;
  /** After SIGTERM or SIGINT and the last reload: closing the server and the signers. */
  readonly shutDown?: ((started: T) => Promise<void>) | undefined;
}

/**
 * A daemon from its first step to its last, under one set of signal listeners (without one, a signal's default
 * action kills the process, skipping the exit handlers that flush TPM objects). While it serves, SIGTERM or SIGINT
 * stops it and each SIGHUP runs `reload` after any reload still running. During start-up and shutdown (which
 * waits for a reload or a CreateSession in flight), SIGTERM or SIGINT ends the process at once through
 * process.exit; a SIGHUP during start-up reloads once serving (the configuration may have changed after it was
 * read), one during shutdown is logged and ignored. `target`: tests run several daemons in one process.
 */
export async function runDaemon<T>(log: Log, life: DaemonLife<T>, target: NodeJS.EventEmitter = process) {
  let phase = life.startUp ? "start-up" : "serving";
  let started!: T;
  let reloading = Promise.resolve();
  let reloadWhenServing = false;
  let stop!: (signal: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((r) => (stop = r));
  const reload = (work: (started: T) => Promise<string>) => {
    const failed = (error: unknown) => log(`reload failed, keeping the previous configuration: ${oneLine(error)}`);
    reloading = reloading.then(() => work(started)).then(log, failed);
  };
  const stopping = (signal: NodeJS.Signals) => () => {
    if (phase === "serving") return stop(signal);
    log(`${signal} during ${phase}: stopping now`);
    process.exit(0);
  };
  const onHup = () => {
    if (!life.reload) return;
    if (phase === "serving") return reload(life.reload);
    reloadWhenServing ||= phase === "start-up";
    log(`SIGHUP during ${phase}: ${phase === "start-up" ? "reloading once started" : "ignored"}`);
  };
  const listeners = { SIGTERM: stopping("SIGTERM"), SIGINT: stopping("SIGINT"), SIGHUP: onHup };
  for (const [signal, listener] of Object.entries(listeners)) target.on(signal, listener);
  if (target === process && takeHeldSighup()) onHup();
  try {
    if (life.startUp) started = await life.startUp();
    phase = "serving";
    if (reloadWhenServing) reload(life.reload!);
    log(`${await stopped}: stopping`);
    phase = "shutdown";
    await reloading;
    await life.shutDown?.(started);
  } finally {
    for (const [signal, listener] of Object.entries(listeners)) target.off(signal, listener);
  }
}
