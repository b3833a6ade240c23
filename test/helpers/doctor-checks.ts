/** doctor's checks for a signer alone: no ARNs, no agent (a socket under `dir` that is not there), no CreateSession. */
import { join } from "node:path";
import { runChecks } from "../../src/doctor/checks.js";
import { AgentError } from "../../src/errors.js";

export function signerChecks(dir: string, signer: Parameters<typeof runChecks>[0]["signer"]) {
  return runChecks(
    {
      signer,
      session: new AgentError("INPUT_MISSING", "no ARNs in this test"),
      endpoint: {},
      agentSocket: join(dir, "no-agent.sock"),
      createSession: false,
      warningDays: 30,
      env: {},
    },
    () => undefined,
  );
}
