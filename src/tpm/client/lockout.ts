import { GetCapability } from "../wire/commands.js";
import { TPM_CAP, TPM_PT } from "../wire/constants.js";
import type { Tpm } from "./tpm.js";

/** Dictionary-attack state read with GetCapability(TPM_PROPERTIES) after an authorization failure. */
export interface LockoutState {
  readonly failedTries: number;
  readonly maxTries: number;
  /** Seconds after which one failure is forgotten (0: never). */
  readonly recoveryTime: number;
}

/**
 * TPM_PT_LOCKOUT_COUNTER, _MAX_AUTH_FAIL and _LOCKOUT_INTERVAL (no authorization needed), or undefined when
 * they cannot be read (the explanation then goes without numbers).
 */
export async function tryReadLockoutState(tpm: Tpm): Promise<LockoutState | undefined> {
  try {
    const { response } = await tpm.execute(GetCapability, {}, { capability: TPM_CAP.TPM_PROPERTIES, property: TPM_PT.LOCKOUT_COUNTER, propertyCount: 3 });
    const data = response.capabilityData;
    const props = new Map(data.capability === TPM_CAP.TPM_PROPERTIES ? data.tpmProperties.map((p) => [p.property, p.value]) : []);
    return {
      failedTries: props.get(TPM_PT.LOCKOUT_COUNTER) ?? 0,
      maxTries: props.get(TPM_PT.MAX_AUTH_FAIL) ?? 0,
      recoveryTime: props.get(TPM_PT.LOCKOUT_INTERVAL) ?? 0,
    };
  } catch {
    return undefined;
  }
}
