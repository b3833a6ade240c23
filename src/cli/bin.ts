// The CLI program, bundled into dist/cli-bundle.cjs and started by dist/cli.js (src/cli/launcher/main.ts).
import { protectSecrets } from "../os/native-helper.js";
import { beforeFirstSecretRead } from "../secrets/secret-source.js";
import { FdOutput } from "./fd-output.js";
import { protectLongRunningProcess } from "./long-running.js";
import { main } from "./main.js";
import { pendingWarnings, printProcessWarnings } from "./process-warnings.js";
import { failIfUnfinished, reportError } from "./report-error.js";

const stdout = new FdOutput(1);
const stderr = new FdOutput(2);
// The process, not main(): tests drive main() inside their own process.
try {
  protectLongRunningProcess(process.argv[2], stderr);
} catch (error) {
  process.exit(reportError(error, { stdout, stderr, env: process.env }, false));
}
printProcessWarnings(stderr);
beforeFirstSecretRead(protectSecrets);
failIfUnfinished(stderr);
void main(process.argv.slice(2), { stdout, stderr, env: process.env }).then(async (code) => {
  await pendingWarnings();
  await Promise.all([stdout.flush(), stderr.flush()]);
  // Exit even if a library left a handle open (keep-alive socket, token module).
  process.exit(code);
});
