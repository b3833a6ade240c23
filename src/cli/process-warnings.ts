import { printableLine } from "../errors.js";
import type { TextOutput } from "./command.js";
import { PROGRAM } from "./report-error.js";

/**
 * The library reports what the user should fix but may go on with (e.g. a PIN file other users can read) as
 * process warnings; the CLI prints each as one line of its own, instead of Node's default.
 */
export function printProcessWarnings(stderr: TextOutput): void {
  process.removeAllListeners("warning");
  process.on("warning", (warning: Error & { code?: string }) => {
    const ours = warning.code?.startsWith("RAA_") ?? false;
    stderr.write(`${PROGRAM}: warning: ${printableLine(`${ours ? "" : `${warning.name}: `}${warning.message}`)}\n`);
  });
}

/**
 * Node emits a warning on the next tick: a command that reads a file and ends without further I/O (sign-string,
 * keygen) would exit before its warning is printed. Await this before flushing the output. A tick queued after the
 * warnings' own is enough: waiting for the event loop's next turn (setImmediate) let a finished CreateSession's
 * socket complete its shutdown and be destroyed before the exit, ~3 M instructions of every cold credential-process.
 */
export function pendingWarnings(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}
