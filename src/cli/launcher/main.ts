#!/usr/bin/env node
// dist/cli.js, the bin. It first lets a running agent answer `credential-process --profile NAME`
// (agent-fast-path.ts): the line a credential_process setting runs for every `aws` command, which must start
// about as fast as Node itself. Long-running commands run from dist/daemon/, ES modules split per command:
// they load only what they use, which keeps their memory lower. `credential-process` runs from
// dist/credential-process.cjs (credential-process-entry.ts: the full CLI takes over when the key is not a
// file it can read), everything else from dist/cli-bundle.cjs; each bundle is compiled from the V8 code cache
// that the build wrote next to it, so that its JavaScript is not parsed on every run (run-bundle.ts). When the
// cache does not fit (another Node version, V8 flags in NODE_OPTIONS) V8 rejects it and compiles as usual. The
// bundles have no import() (the build turns it into require()): V8 does not keep the dynamic-import callback
// for functions restored from a cache. This file is compiled on every run without a cache: what a command line
// does not need is imported only when it does (esbuild leaves such modules uninitialised).
import type { FdOutput } from "../fd-output.js";
import { LONG_RUNNING_COMMANDS } from "../long-running.js";
import { mayNameProfile } from "./may-name-profile.js";

/** Built separately (scripts/build.mjs); a variable, so that the launcher's own build leaves it alone. */
const DAEMON_ENTRY = "./daemon/cli.mjs";

const argv = process.argv.slice(2);
void run().catch(async (error: unknown) => {
  // Only the launcher's own steps can fail here (e.g. dist/daemon/ missing from a broken installation):
  // the commands report their errors themselves.
  const { reportError, wantsDebug } = await import("../report-error.js");
  process.exit(reportError(error, await fdIo(), wantsDebug(argv)));
});

async function run(): Promise<void> {
  if (mayNameProfile(argv)) {
    const { answerFromAgent } = await import("./agent-fast-path.js");
    await exitWith(answerFromAgent(argv, await fdIo()));
  }
  if (LONG_RUNNING_COMMANDS.has(argv[0] ?? "")) return void (await import(DAEMON_ENTRY));
  const { CLI_BUNDLE_FILE, CREDENTIAL_PROCESS_BUNDLE_FILE, runBundle } = await import("./run-bundle.js");
  if (argv[0] === "credential-process" && !argv.some(namesHardwareOrHelp)) {
    const entry = runBundle(__dirname, CREDENTIAL_PROCESS_BUNDLE_FILE, { exports: {}, require, module: { exports: {} } });
    await exitWith((entry as typeof import("./credential-process-entry.js")).runCredentialProcess(argv, await fdIo()));
  }
  runBundle(__dirname, CLI_BUNDLE_FILE, { exports, require, module });
}

/** A `pkcs11:` URI or a TPM `handle:` (as an argument or a flag's `=value`), or help: for the full CLI at once. */
function namesHardwareOrHelp(arg: string): boolean {
  return /^(-{1,2}[\w-]+=)?(pkcs11:|handle:)/.test(arg) || arg === "-h" || arg === "--help";
}

let io: { stdout: FdOutput; stderr: FdOutput; env: NodeJS.ProcessEnv } | undefined;
async function fdIo(): Promise<NonNullable<typeof io>> {
  const { FdOutput } = await import("../fd-output.js");
  return (io ??= { stdout: new FdOutput(1), stderr: new FdOutput(2), env: process.env });
}

/** Exits with the code once the output is out; undefined (the command line is not taken) returns. */
async function exitWith(outcome: Promise<number | undefined>): Promise<void> {
  const code = await outcome;
  if (code === undefined) return;
  const { stdout, stderr } = await fdIo();
  await Promise.all([stdout.flush(), stderr.flush()]);
  process.exit(code);
}
