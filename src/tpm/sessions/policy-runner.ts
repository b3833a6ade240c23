import { permanentEntity, type Tpm } from "../client/tpm.js";
import { explainTpmError } from "../client/explain-error.js";
import { describePcrSelection, POLICY_COMMANDS, type PolicyStatement } from "../keys/policy.js";
import { PolicyRestart, type AnyCommand } from "../wire/commands.js";
import { hex32 } from "../wire/constants.js";
import type { AuthSession } from "./auth-session.js";

/**
 * Replays a key file's policy statements in a policy session, from a fresh start, fail-fast. PolicyPassword
 * is replaced by PolicyAuthValue in a salted session: both give the same policy digest, and PolicyAuthValue
 * proves knowledge of the password with an HMAC instead of sending it.
 */
export async function runPolicy(tpm: Tpm, session: AuthSession, statements: readonly PolicyStatement[], what: string): Promise<void> {
  const policySession = permanentEntity(session.handle);
  await tpm.execute(PolicyRestart, { sessionHandle: policySession }, {});
  session.policyMode = "none";
  for (const s of statements) {
    const command = s.command === "PolicyPassword" && session.salted ? "PolicyAuthValue" : s.command;
    try {
      await tpm.execute(POLICY_COMMANDS[command] as AnyCommand, { policySession }, s);
    } catch (e) {
      const statement =
        s.command === "PolicyPCR"
          ? `the PCR policy on ${describePcrSelection(s.pcrs)}`
          : s.command === "PolicyCommandCode"
            ? `PolicyCommandCode(${hex32(s.code)})`
            : s.command;
      throw explainTpmError(e, { kind: "policy", statement }, what);
    }
    if (command === "PolicyAuthValue") session.policyMode = "authValue";
    if (command === "PolicyPassword") session.policyMode = "password";
  }
}
