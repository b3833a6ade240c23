import { AgentError, boundedLine, InputError, installationChanged, MAX_ERROR_TEXT } from "../errors.js";
import type { CliIo, CommandSpec, TextOutput } from "./command.js";
import { EXIT_CODES } from "./exit-codes.js";
import { booleanOf, flagOf, parseCommandArgs } from "./parse-args.js";

export const PROGRAM = "roles-anywhere-agent";

/** One line on stderr (a stack only with --debug) and the exit code of the error's category. */
export function reportError(error: unknown, io: CliIo, debug: boolean): number {
  if (error instanceof AgentError) {
    io.stderr.write(`${PROGRAM}: ${error.toOneLine()}\n`);
    if (debug && error.cause instanceof Error && error.cause.stack) io.stderr.write(`${error.cause.stack}\n`);
    // installationChanged's error (a daemon started while npm writes the package): 1, as the launcher's "the
    // installation is incomplete", which units restart (3 is in their RestartPreventExitStatus).
    const changed = installationChanged(error.cause)?.message === error.message;
    return changed ? EXIT_CODES.internal : EXIT_CODES[error.category];
  }
  const handedOver = installationChanged(error) ?? processStateError(error);
  if (handedOver) return reportError(handedOver, io, debug);
  const message = boundedLine((error instanceof Error ? error.message : String(error)).split("\n")[0]!, MAX_ERROR_TEXT);
  io.stderr.write(`${PROGRAM}: internal error: ${message} (rerun with --debug for details and report it)\n`);
  if (debug && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  return EXIT_CODES.internal;
}

/**
 * A system error that the state the parent handed over caused, not a bug: the working directory removed (any
 * relative path then fails in getcwd), or the limit of open files (`ulimit -n`) too low for even Node's own modules.
 */
function processStateError(error: unknown): AgentError | undefined {
  const { code, syscall, path } = (typeof error === "object" && error !== null ? error : {}) as NodeJS.ErrnoException;
  if (syscall === "uv_cwd") {
    const message = `the working directory no longer exists (${code}), so a relative path cannot be found`;
    const hint = "run it from a directory that exists, or give absolute paths";
    return new InputError("FILE_NOT_FOUND", message, { cause: error, hint });
  }
  if (code !== "EMFILE" && code !== "ENFILE") return undefined;
  const hint = "raise the limit of open files: ulimit -n 1024, or LimitNOFILE= in a systemd unit";
  const message = `too many open files (${code})${path ? ` to open ${path}` : ""}`;
  return new InputError("FILE_UNREADABLE", message, { cause: error, hint });
}

/**
 * Whether a command line asks for debug output, as the parser reads it: with the command's flags (`flags`), a
 * `--debug` that another flag takes as its value is not one. Without them (the command's code did not load), no
 * argument that a flag before it may take as its value is read as --debug. Nothing after `--`.
 */
export function wantsDebug(argv: readonly string[], flags?: Pick<CommandSpec, "name" | "options" | "conflicts">): boolean {
  const rest = argv.slice(1);
  if (flags) {
    try {
      return parseCommandArgs(flags, rest).values["debug"] === true;
    } catch {
      return false; // a usage error: one line, with no stack to show
    }
  }
  let debug = false;
  for (let i = 0; i < rest.length && rest[i] !== "--"; i++) {
    const flag = flagOf(rest[i]!);
    if (flag?.name === "debug") debug = booleanOf(flag.inline) === true;
    else if (flag && flag.inline === undefined) i++;
  }
  return debug;
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
