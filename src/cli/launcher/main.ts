#!/usr/bin/env node
// dist/cli.js, the bin. It first lets a running agent answer `credential-process --profile NAME`
// (agent-fast-path.ts): the line a credential_process setting runs for every `aws` command, which must start
// about as fast as Node itself. Long-running commands run from dist/daemon/, ES modules split per command:
// they load only what they use, which keeps their memory lower. Everything else runs the CLI bundle
// (dist/cli-bundle.cjs) compiled from the V8 code cache that the build wrote next to it, so that ~500 KB of
// JavaScript is not parsed on every run (run-bundle.ts). When the cache does not fit (another Node version,
// V8 flags in NODE_OPTIONS) V8 rejects it and compiles as usual. The bundle has no import() (the build turns
// it into require()): V8 does not keep the dynamic-import callback for functions restored from a cache.
import { answerFromAgent } from "./agent-fast-path.js";
import { FdOutput } from "../fd-output.js";
import { LONG_RUNNING_COMMANDS } from "../long-running.js";
import { reportError, wantsDebug } from "../report-error.js";

/** Built separately (scripts/build.mjs); a variable, so that the launcher's own build leaves it alone. */
const DAEMON_ENTRY = "./daemon/cli.mjs";

const stdout = new FdOutput(1);
const stderr = new FdOutput(2);
void answerFromAgent(process.argv.slice(2), { stdout, stderr, env: process.env }).then(async (code) => {
  if (code === undefined) {
    // Loaded only now: the agent's answer needs none of it.
    if (LONG_RUNNING_COMMANDS.has(process.argv[2] ?? "")) return void (await import(DAEMON_ENTRY));
    const { runCliBundle } = await import("./run-bundle.js");
    return runCliBundle(__dirname, { exports, require, module });
  }
  await Promise.all([stdout.flush(), stderr.flush()]);
  process.exit(code);
}).catch((error: unknown) => {
  // Only the launcher's own steps can fail here (e.g. dist/daemon/ missing from a broken installation):
  // the commands report their errors themselves.
  process.exit(reportError(error, { stdout, stderr, env: process.env }, wantsDebug(process.argv)));
});
