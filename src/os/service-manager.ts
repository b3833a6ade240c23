import { AgentError } from "../errors.js";
import { loadNativeHelper, type NativeHelperLoad } from "./native-helper.js";

/**
 * Tells systemd that a Type=notify service is ready (sd_notify: `READY=1` and a status line, one datagram to
 * $NOTIFY_SOCKET, sent through the native helper: Node.js has no UNIX datagram sockets). Outside such a unit
 * nothing is sent; a unit that waits and gets nothing would time out, so a failure is one warning line.
 */
export function reportReady(status: string, warn: (line: string) => void): void {
  const socket = process.env["NOTIFY_SOCKET"];
  if (socket === undefined || socket === "") return;
  const load = loadNativeHelper();
  const { helper } = load;
  let problem = helperProblem(load);
  // What fits sockaddr_un, as the helper takes it; systemd's vsock: addresses (for VMs) are not supported.
  if (!/^[/@]./.test(socket) || Buffer.byteLength(socket) > 107) {
    problem = "NOTIFY_SOCKET is not an absolute path or @name of at most 107 bytes (vsock: addresses are not supported)";
  } else if (helper && problem === undefined) {
    try {
      helper.notify(socket, `READY=1\nSTATUS=${status.replace(/\n/g, " ")}`);
    } catch (error) {
      problem = (error as Error).message;
    }
  }
  if (problem !== undefined) warn(`warning: cannot tell systemd that the service is ready (${problem}): a Type=notify unit will time out`);
}

/**
 * Under a Type=notify unit (NOTIFY_SOCKET set), a native helper that cannot send READY=1 (not loaded: an install cut
 * short before dist/native/; or older than sd_notify) is refused at start: with TimeoutStartSec=infinity the unit
 * would wait for ever, the units After= it too. Exit 1, which the units restart (the install may be done by then).
 */
export function checkReadinessReporting(): void {
  const socket = process.env["NOTIFY_SOCKET"];
  const problem = socket ? helperProblem(loadNativeHelper()) : undefined;
  if (problem === undefined) return;
  throw new AgentError("INTERNAL", `cannot tell systemd that the service is ready (${problem}): its Type=notify unit would wait for ever`, {
    hint: "reinstall roles-anywhere-agent; where its native helper cannot load, re-run install-systemd (it then writes Type=exec)",
  });
}

function helperProblem({ helper, reason }: NativeHelperLoad): string | undefined {
  return helper && typeof helper.notify !== "function" ? "the native helper of this installation predates sd_notify support" : reason;
}

/** Readiness that needs several things (the endpoint listening, credentials for every role): `whenReady` runs once. */
export function readinessGate(pending: Iterable<string>, whenReady: () => void): (arrived: string) => void {
  const waiting = new Set(pending);
  // Only the arrival that removes the last name gets here: a repeated one deletes nothing.
  return (arrived) => {
    if (waiting.delete(arrived) && waiting.size === 0) whenReady();
  };
}
