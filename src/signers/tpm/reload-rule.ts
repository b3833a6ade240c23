/**
 * When a failed TPM signature may be tried again after loading the key afresh (new connection, new
 * sessions): only when the TPM lost our objects, never when it judged an authorization. The TPM checks the
 * handle and session areas before any authorization, so "not loaded" answers cost no dictionary-attack try.
 */
import { TpmResponseError } from "../../tpm/client/tpm-error.js";
import { SessionIntegrityError } from "../../tpm/sessions/auth-session.js";
import { TpmConnectionLost } from "../../tpm/transport/transport.js";
import { TpmWireError } from "../../tpm/wire/codec.js";
import { RC } from "../../tpm/wire/response-code.js";

/**
 * Why the key should be loaded again before one more attempt, or undefined when the error must be
 * reported as it is. `authorizationProven`: a signature with this signer's key and password already
 * succeeded, so a command lost on the wire cannot have been a wrong-password attempt the TPM counted.
 */
export function reloadReason(error: unknown, authorizationProven: boolean): string | undefined {
  if (error instanceof TpmConnectionLost) {
    return authorizationProven ? "the connection to the TPM was lost" : undefined;
  }
  if (!(error instanceof TpmResponseError)) return undefined;
  const rc = error.rc;
  if (rc >= RC.REFERENCE_H0 && rc <= RC.REFERENCE_H0 + 6) return "the TPM no longer holds the loaded key (was it restarted?)";
  if (rc >= RC.REFERENCE_S0 && rc <= RC.REFERENCE_S0 + 6) return "the TPM no longer holds the key's session (was it restarted?)";
  // A handle-area error on a transient or session handle: TPM_RC_HANDLE or TPM_RC_VALUE (resource managers).
  if ((error.is(RC.HANDLE) || error.is(RC.VALUE)) && error.decoded.handle !== undefined) return "the TPM no longer holds the loaded key";
  return undefined;
}

/**
 * Whether the TPM answered but the answer failed its HMAC check or could not be read: the key's session then no
 * longer knows the TPM's nonce, and the next command through it would fail its HMAC — reported as a wrong
 * password and counted by dictionary-attack protection. The key is dropped (the next use loads it with fresh
 * sessions), but the step is not retried: the answer may have been altered on purpose.
 */
export function sessionOutOfStep(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof SessionIntegrityError || cause instanceof TpmWireError;
}
