// The launcher's SIGHUP hold for the daemons, in a module without imports: the launcher (dist/cli.cjs), compiled
// without a cache on every run, imports it, and signals.ts's imports would put errors.ts's top-level patterns there.

/** The launcher's SIGHUP listener (holdSighup), found by runDaemon (signals.ts) through a global: separate bundles. */
const HELD_SIGHUP = Symbol.for("roles-anywhere-agent.held-sighup");
type Held = { [HELD_SIGHUP]?: (() => void) & { received?: boolean } };

/**
 * For a daemon's command line, from the launcher's first step (loading the daemon's modules takes 50–150 ms; Node's
 * own start before it, 30–90 ms, cannot be covered): a SIGHUP is recorded instead of killing the process by its
 * default action, and runDaemon (signals.ts) takes it as one during start-up.
 */
export function holdSighup(): void {
  const listener = Object.assign(() => void (listener.received = true), { received: false });
  (globalThis as Held)[HELD_SIGHUP] = listener;
  process.on("SIGHUP", listener);
}

/** Removes holdSighup's listener, if any: whether it recorded a SIGHUP. */
export function takeHeldSighup(): boolean {
  const listener = (globalThis as Held)[HELD_SIGHUP];
  if (!listener) return false;
  delete (globalThis as Held)[HELD_SIGHUP];
  process.off("SIGHUP", listener);
  return listener.received === true;
}
