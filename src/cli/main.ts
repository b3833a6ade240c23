import { UsageError } from "../errors.js";
import type { CliIo, CommandSpec } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { parseCommandArgs } from "./parse-args.js";
import { nearestNames } from "../nearest-names.js";
import { pendingWarnings } from "./process-warnings.js";
import { hideSecretsInProcessTitle } from "./process-title.js";
import { PROGRAM, reportError, wantsDebug } from "./report-error.js";
import { ownValue } from "../own-value.js";

const HELP_FLAGS: ReadonlySet<string> = new Set(["-h", "--help"]);

/**
 * Runs one command line and resolves to its exit code. Never throws and never exits the process, so it can
 * be driven from tests. Options are parsed from each command's declarative spec (no yargs on this path:
 * yargs costs 60–140 ms at start-up); yargs renders --help only.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  hideSecretsInProcessTitle(); // process.argv, not `argv`: only a real command line is shown by ps
  let spec: CommandSpec | undefined;
  try {
    const [name, ...rest] = argv;
    if (name === "completion" && !rest.some((a) => HELP_FLAGS.has(a))) return await printCompletion(rest, io);
    if (name === "help" && rest[0] !== undefined && !HELP_FLAGS.has(rest[0])) {
      // The unknown-command answer, with its suggestions.
      if (!ownValue(COMMANDS, rest[0]) && rest[0] !== "completion") return await main([rest[0]], io);
      return await showHelp([rest[0], "--help"], io);
    }
    if (name === undefined || HELP_FLAGS.has(name) || name === "help" || name === "completion") {
      return await showHelp(argv, io);
    }
    if (name === "--version") return await main(["version"], io);
    const load = ownValue(COMMANDS, name);
    if (!load) {
      const near = nearestNames(name.replace(/^-+/, ""), [...Object.keys(COMMANDS), "help", "completion"]);
      const list = `run '${PROGRAM} --help' for the list`;
      throw new UsageError("USAGE", `unknown command "${name}"`, { hint: near.length > 0 ? `did you mean '${near.join("' or '")}'? ${list}` : list });
    }
    spec = await load();
    if (rest.some((a) => HELP_FLAGS.has(a))) return await showHelp(argv, io);
    return await spec.run(parseCommandArgs(spec, rest), io);
  } catch (error) {
    await pendingWarnings(); // a warning raised before the error is printed before its line: the last line is the error
    return reportError(error, io, wantsDebug(argv, spec));
  }
}

async function printCompletion(args: readonly string[], io: CliIo): Promise<number> {
  if (args.length > 1) throw new UsageError("USAGE", "completion takes one argument: bash, zsh or fish");
  const [{ completionScript }, specs] = await Promise.all([import("./completion.js"), Promise.all(Object.values(COMMANDS).map((load) => load()))]);
  io.stdout.write(completionScript(args[0], PROGRAM, specs, io.env));
  return 0;
}

async function showHelp(argv: readonly string[], io: CliIo): Promise<number> {
  return (await import("./help.js")).renderHelp(argv, io);
}
