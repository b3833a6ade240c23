#!/usr/bin/env node
// dist/cli.cjs, the bin (dist/cli.js only requires it). It first lets a running agent answer `credential-process
// --profile NAME` (agent-fast-path.ts says why). Long-running commands run from dist/daemon/, ES modules split per
// command: they load only what they use, which keeps their memory lower. `credential-process` runs from its own bundles
// (credential-process-entry.ts), everything else from dist/cli-bundle.cjs; each bundle, and the agent fast path, is
// compiled from the V8 code cache that the build wrote next to it, so that its JavaScript is not parsed on every run
// (run-bundle.ts). The bundles have no import() (the build turns it into require()): V8 does not keep the
// dynamic-import callback for functions restored from a cache. This file is compiled on every run without a cache, so
// it holds little: the agent fast path and the user's code caches are files of their own, required when needed. Named
// .cjs: for a .js file, Node's loader would first read the package scope's package.json (~0.5 M instructions a run).
import { join } from "node:path";
import { LONG_RUNNING_COMMANDS } from "./long-running-commands.js";
import { mayNameProfile } from "./may-name-profile.js";
import { AGENT_FAST_PATH_FILE, CLI_BUNDLE_FILE, CREDENTIAL_PROCESS_BUNDLE_FILE, HARDWARE_BUNDLE_FILE } from "./bundle-files.js";
import { incomplete, runBundle } from "./run-bundle.js";
import { holdSighup } from "../../daemon/held-sighup.js";

/** Built separately (scripts/build.mjs); variables, so that the launcher's own build leaves them alone. */
const DAEMON_ENTRY = "./daemon/cli.mjs";
const LAUNCHER_ERROR = join(__dirname, "launcher-error.cjs");

const argv = process.argv.slice(2);
void run().catch((error: unknown) => {
  // Only the launcher's own steps can fail here: the commands report their errors themselves.
  try {
    (require(LAUNCHER_ERROR) as typeof import("./launcher-error.js")).reportLauncherErrorAndExit(error, argv);
  } catch {
    incomplete(`${LAUNCHER_ERROR} cannot be loaded`); // npm writes it after dist/daemon/
  }
});

async function run(): Promise<void> {
  if (mayNameProfile(argv)) {
    const fastPath = runBundle(__dirname, AGENT_FAST_PATH_FILE);
    if (await (fastPath as typeof import("./agent-fast-path.js")).answerFromAgentAndExit(argv, process.env)) argv.push("--no-agent");
  }
  if (LONG_RUNNING_COMMANDS.has(argv[0] ?? "")) {
    holdSighup(); // loading the daemon takes 50–150 ms, and systemd's ExecReload may come at once
    // Cut where a statement ends (npm writes it now), it compiles and may run nothing: it lacks its last export.
    if (!("__raaEnd" in (await import(DAEMON_ENTRY)))) incomplete(`${join(__dirname, DAEMON_ENTRY)} is cut short`);
    return;
  }
  if (argv[0] === "credential-process" && !argv.some(namesHelp)) {
    const file = argv.some(namesHardware) ? HARDWARE_BUNDLE_FILE : CREDENTIAL_PROCESS_BUNDLE_FILE;
    const entry = runBundle(__dirname, file);
    const code = await (entry as typeof import("./credential-process-entry.js")).runCredentialProcess(argv, process.env);
    if (code !== undefined) process.exit(code);
  }
  runBundle(__dirname, CLI_BUNDLE_FILE, module);
}

/**
 * Help, or debug (the bundles hold their output until the run ends; debug lines must come as they happen): for
 * the full CLI at once. With one dash or two, as the parser takes them (`-debug` is the Go helper's spelling).
 * String tests, not regular expressions: compiling those cost ~0.6 M instructions on every run.
 */
function namesHelp(arg: string): boolean {
  const name = arg.startsWith("--") ? arg.slice(2) : arg.startsWith("-") ? arg.slice(1) : "";
  return name === "h" || name === "help" || name === "debug" || name.startsWith("debug=");
}

/**
 * A `pkcs11:` URI or a TPM `handle:` (as an argument or a flag's `=value`): for the bundle with the hardware
 * back-ends. (A malformed flag such as `-=pkcs11:…` goes there too, and is reported as the full CLI would.)
 */
function namesHardware(arg: string): boolean {
  const value = arg.startsWith("-") ? arg.slice(arg.indexOf("=") + 1) : arg;
  return value.slice(0, 7).toLowerCase() === "pkcs11:" || value.startsWith("handle:"); // isPkcs11Uri's rule
}
