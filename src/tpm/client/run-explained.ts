import { tryReadLockoutState } from "./lockout.js";
import type { Tpm } from "./tpm.js";
import { TpmResponseError } from "./tpm-error.js";
import { explainTpmError, type TpmOperation } from "./explain-error.js";
import { RC } from "../wire/response-code.js";

/** Runs one TPM step; a failure is explained, with the DA counters when a password was refused. */
export async function withExplanation<T>(tpm: Tpm, op: TpmOperation, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const needsLockout = e instanceof TpmResponseError && (e.is(RC.AUTH_FAIL) || e.rc === RC.LOCKOUT);
    throw explainTpmError(e, op, what, needsLockout ? await tryReadLockoutState(tpm) : undefined);
  }
}
