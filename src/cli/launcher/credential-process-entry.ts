// The entry of dist/credential-process.cjs: `credential-process` with a key file, in a bundle without what
// hardware keys, PKCS#12 files, ML-DSA certificates and the other commands need (~30 % of the full CLI's start-up
// is loading code). Should the command line need any of that (full-cli-needed.ts), nothing of this run is
// shown and the launcher runs it again with the full CLI: the output is held until the run is over.
import type { TextOutput } from "../command.js";
import { FdOutput } from "../fd-output.js";
import { main } from "../main.js";
import { pendingWarnings, printProcessWarnings } from "../process-warnings.js";
import { failIfUnfinished, reportError } from "../report-error.js";
import { fullCliNeeded } from "./full-cli-needed.js";
import { protectSecrets } from "../../os/native-helper.js";
import { beforeFirstSecretRead } from "../../secrets/secret-source.js";

/** Runs `argv` (credential-process …); resolves to its exit code once its output is out, or to undefined when the full CLI must run it. */
export async function runCredentialProcess(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const [stdout, stderr] = [new FdOutput(1), new FdOutput(2)];
  const held: [TextOutput, string | Uint8Array][] = [];
  const holding = (out: TextOutput): TextOutput => ({
    write: (text) => held.push([out, text]) > 0,
    get isTTY() {
      return out.isTTY;
    },
  });
  const heldStderr = holding(stderr);
  printProcessWarnings(heldStderr);
  beforeFirstSecretRead(protectSecrets); // a PIN or password: no inspector, no core file (native-helper.ts)
  const settled = failIfUnfinished(stderr);
  let code = await main(argv, { stdout: holding(stdout), stderr: heldStderr, env });
  await pendingWarnings();
  settled();
  if (fullCliNeeded()) return undefined;
  try {
    for (const [out, text] of held) out.write(text);
  } catch (error) {
    code = reportError(error, { stdout, stderr, env }, false); // stdout cannot be written (fd-output.ts): one line
  }
  await Promise.all([stdout.flush(), stderr.flush()]);
  return code;
}
