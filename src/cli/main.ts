import { UsageError } from "../errors.js";
import type { CliIo, CommandSpec } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { parseCommandArgs } from "./parse-args.js";
import { hideSecretsInProcessTitle } from "./process-title.js";
import { PROGRAM, reportError, wantsDebug } from "./report-error.js";
import { ownValue } from "../own-value.js";

export { PROGRAM } from "./report-error.js";

const HELP_FLAGS: ReadonlySet<string> = new Set(["-h", "--help"]);

/**
 * Runs one command line and resolves to its exit code. Never throws and never exits the process, so it can
 * be driven from tests. Options are parsed from each command's declarative spec (no yargs on this path:
 * yargs costs 60–140 ms at start-up); yargs renders --help and shell completion only.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  hideSecretsInProcessTitle(); // process.argv, not `argv`: only a real command line is shown by ps
  const debug = wantsDebug(argv);
  try {
    const [name, ...rest] = argv;
    if (name === undefined || HELP_FLAGS.has(name) || name === "help" || name === "completion") {
      return await showHelp(argv, io);
    }
    if (name === "--version") return await main(["version"], io);
    const load = ownValue(COMMANDS, name);
    if (!load) {
      throw new UsageError("USAGE", `unknown command "${name}"`, { hint: `run '${PROGRAM} --help' for the list` });
    }
    const spec: CommandSpec = await load();
    if (rest.some((a) => HELP_FLAGS.has(a))) return await showHelp(argv, io);
    const args = parseCommandArgs(spec, rest);
    return await spec.run(args, io);
  } catch (error) {
    return reportError(error, io, debug);
  }
}

async function showHelp(argv: readonly string[], io: CliIo): Promise<number> {
  const { renderHelp } = await import("./help.js");
  return renderHelp(argv, io);
}
