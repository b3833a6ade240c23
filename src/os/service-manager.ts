import { loadNativeHelper } from "./native-helper.js";

/**
 * systemd's readiness protocol (sd_notify): a service of Type=notify sends `READY=1` as one datagram to the
 * socket named in $NOTIFY_SOCKET once it is ready, so that units ordered After= it start only then. The
 * datagram goes through the native helper (Node.js has no UNIX datagram sockets). Outside such a unit
 * ($NOTIFY_SOCKET unset) nothing is sent and nothing is said.
 */
export type NotifyResult = { readonly sent: boolean } | { readonly sent: false; readonly reason: string };

export function notifyServiceManager(state: string, env: NodeJS.ProcessEnv = process.env): NotifyResult {
  const socket = env["NOTIFY_SOCKET"];
  if (socket === undefined || socket === "") return { sent: false };
  const load = loadNativeHelper();
  if (!load.helper) return { sent: false, reason: load.reason };
  if (typeof load.helper.notify !== "function") return { sent: false, reason: "the native helper of this installation predates sd_notify support" };
  try {
    load.helper.notify(socket, state);
    return { sent: true };
  } catch (error) {
    return { sent: false, reason: (error as Error).message };
  }
}

/**
 * Tells systemd that the service is ready (`READY=1` plus a status line). A unit that waits for it and does not
 * get it would time out, so a failure is one warning line, never silent.
 */
export function reportReady(status: string, warn: (line: string) => void, env: NodeJS.ProcessEnv = process.env): void {
  const result = notifyServiceManager(`READY=1\nSTATUS=${status.replace(/\n/g, " ")}`, env);
  if ("reason" in result) warn(`warning: cannot tell systemd that the service is ready (${result.reason}): a Type=notify unit will time out`);
}

/**
 * Readiness that needs several things (the endpoint listening, credentials for every role): `whenReady` runs
 * once, when the last of `pending` has arrived.
 */
export class ReadinessGate {
  readonly #pending: Set<string>;
  #whenReady: (() => void) | undefined;

  constructor(pending: Iterable<string>, whenReady: () => void) {
    this.#pending = new Set(pending);
    this.#whenReady = whenReady;
  }

  arrived(name: string): void {
    this.#pending.delete(name);
    if (this.#pending.size > 0 || !this.#whenReady) return;
    const run = this.#whenReady;
    this.#whenReady = undefined;
    run();
  }
}
