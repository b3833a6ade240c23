/** doctor's checks for a signer alone (and the trust anchors a chain is checked against): no ARNs, no agent (a socket under `dir` that is not there), no CreateSession. */
import { join } from "node:path";
import { runChecks } from "../../src/doctor/checks.js";
import { AgentError } from "../../src/errors.js";

export function signerChecks(dir: string, signer: Parameters<typeof runChecks>[0]["signer"], trustAnchors?: string) {
  return runChecks(
    {
      signer,
      ...(trustAnchors === undefined ? {} : { trustAnchors }),
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
