// The CLI program, bundled into dist/cli-bundle.cjs and started by dist/cli.js (src/cli/launcher/main.ts).
import { FdOutput } from "./fd-output.js";
import { protectLongRunningProcess } from "./long-running.js";
import { main } from "./main.js";
import { PROGRAM } from "./report-error.js";

const stdout = new FdOutput(1);
const stderr = new FdOutput(2);
// The process, not main(): tests drive main() inside their own process.
protectLongRunningProcess(process.argv[2], stderr);
// The library reports what the user should fix but may go on with (e.g. a PIN file other users can read) as
// process warnings; the CLI prints each as one line of its own.
process.removeAllListeners("warning");
process.on("warning", (warning: Error & { code?: string }) => {
  const ours = warning.code?.startsWith("RAA_") ?? false;
  stderr.write(`${PROGRAM}: warning: ${ours ? "" : `${warning.name}: `}${warning.message}\n`);
});
void main(process.argv.slice(2), { stdout, stderr, env: process.env }).then(async (code) => {
  await Promise.all([stdout.flush(), stderr.flush()]);
  // Exit even if a library left a handle open (keep-alive socket, token module).
  process.exit(code);
});
