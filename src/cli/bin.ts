#!/usr/bin/env node
// The shipped entry point, built to dist/cli.js as one small CommonJS file: Node starts CommonJS without
// the ESM loader, and the fast path answers agent-served credential_process calls from this file alone.
// Every other command line loads the command modules (an ESM bundle split per command) through main.js.
import type { CliIo } from "./command.js";
import { runFastPath } from "./fast-path.js";
import { FdOutput } from "./fd-output.js";
import { reportError, wantsDebug } from "./report-error.js";

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const answered = await runFastPath(argv, io);
    if (answered !== undefined) return answered;
  } catch (error) {
    return reportError(error, io, wantsDebug(argv));
  }
  const { main } = await import("./main.js");
  return main(argv, io);
}

const stdout = new FdOutput(1);
const stderr = new FdOutput(2);
void run(process.argv.slice(2), { stdout, stderr, env: process.env }).then(async (code) => {
  await Promise.all([stdout.flush(), stderr.flush()]);
  // Exit even if a library left a handle open (keep-alive socket, token module).
  process.exit(code);
});
