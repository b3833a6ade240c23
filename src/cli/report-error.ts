import { AgentError, boundedLine, MAX_ERROR_TEXT } from "../errors.js";
import type { CliIo, TextOutput } from "./command.js";
import { EXIT_CODES } from "./exit-codes.js";

export const PROGRAM = "roles-anywhere-agent";

/** One line on stderr (a stack only with --debug) and the exit code of the error's category. */
export function reportError(error: unknown, io: CliIo, debug: boolean): number {
  if (error instanceof AgentError) {
    io.stderr.write(`${PROGRAM}: ${error.toOneLine()}\n`);
    if (debug && error.cause instanceof Error && error.cause.stack) io.stderr.write(`${error.cause.stack}\n`);
    return EXIT_CODES[error.category];
  }
  const message = boundedLine((error instanceof Error ? error.message : String(error)).split("\n")[0]!, MAX_ERROR_TEXT);
  io.stderr.write(`${PROGRAM}: internal error: ${message} (rerun with --debug for details and report it)\n`);
  if (debug && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  return EXIT_CODES.internal;
}

export function wantsDebug(argv: readonly string[]): boolean {
  return argv.includes("--debug") || argv.includes("--debug=true");
}

/**
 * Until a run settles, the event loop running dry (a promise nothing will ever settle) is a bug, never success:
 * exit 1 with one line. Returns what to call once the run has settled.
 */
export function failIfUnfinished(stderr: TextOutput): () => void {
  const warn = () => stderr.write(`${PROGRAM}: internal error: the command stopped before it finished (please report)\n`);
  process.exitCode = EXIT_CODES.internal;
  process.once("beforeExit", warn);
  return () => process.off("beforeExit", warn);
}
