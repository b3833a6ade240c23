import type { CliIo } from "./command.js";
import { BUILT_IN_COMMANDS, COMMANDS } from "./commands/index.js";
import { EXIT_CODES } from "./exit-codes.js";
import { PROGRAM } from "./report-error.js";

/** `--help`, `help` and no arguments, rendered by yargs from the same command specs. */
export async function renderHelp(argv: readonly string[], io: CliIo): Promise<number> {
  // yargs stays in node_modules (an ES module, which require() loads on every Node the package supports), and is
  // taken from the package's own: import() would look in every node_modules up to `/`.
  const [{ requireFromPackage }, specs] = await Promise.all([import("../os/own-package.js"), Promise.all(Object.values(COMMANDS).map((load) => load()))]);
  // yargs names its default export "module.exports": require() returns it, where a Node honours that, or the namespace.
  const loaded = requireFromPackage("yargs") as typeof import("yargs") | typeof import("yargs").default;
  const yargs = "default" in loaded ? loaded.default : loaded;
  let output = "";
  const exitCodes = Object.entries(EXIT_CODES).map(([name, code]) => `${code} ${name}`);
  const parser = yargs([...argv])
    .scriptName(PROGRAM)
    .usage(`${PROGRAM} <command> [options]\n\nSigning agent for AWS IAM Roles Anywhere: X.509 keys in files, PKCS#11 tokens or a TPM 2.0.`)
    .command("completion [shell]", BUILT_IN_COMMANDS.completion)
    .command("help [command]", BUILT_IN_COMMANDS.help)
    .help("help")
    .alias("help", "h")
    .version(false)
    .strict(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .epilogue(`Exit codes: ${exitCodes.join(", ")}.`)
    .exitProcess(false);
  for (const spec of specs) {
    parser.command(spec.name, spec.describe, (y) => {
      for (const o of spec.options) {
        y.option(o.name, {
          type: o.type,
          describe: o.description,
          ...(o.default !== undefined ? { default: o.default } : {}),
          ...(o.choices ? { choices: [...o.choices] } : {}),
        });
      }
      return y;
    });
  }
  await parser.parseAsync([...argv], {}, (_err, _argv, out) => {
    output = out;
  });
  if (!output) output = await parser.getHelp();
  io.stdout.write(output.endsWith("\n") ? output : `${output}\n`);
  return 0;
}
