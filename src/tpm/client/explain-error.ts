/** Turns TPM response codes into errors a user can act on (which password, lockout counters, policy, parent, memory). */
import { AuthError, DeviceError, InputError, type AgentError, type ErrorCode } from "../../errors.js";
import type { Tpm } from "./tpm.js";
import { GetCapability } from "../wire/commands.js";
import { TpmResponseError } from "./tpm-error.js";
import { handleType, hex32, TPM_CAP, TPM_HT, TPM_PT, TPM_RH } from "../wire/constants.js";
import { RC } from "../wire/response-code.js";

/** Dictionary-attack state read with GetCapability(TPM_PROPERTIES) after an authorization failure. */
interface LockoutState {
  readonly failedTries: number;
  readonly maxTries: number;
  /** Seconds after which one failure is forgotten (0: never). */
  readonly recoveryTime: number;
}

/** Needs no authorization; undefined when unreadable (the explanation then goes without numbers). */
async function tryReadLockoutState(tpm: Tpm): Promise<LockoutState | undefined> {
  const params = { capability: TPM_CAP.TPM_PROPERTIES, property: TPM_PT.LOCKOUT_COUNTER, propertyCount: 3 };
  const result = await tpm.execute(GetCapability, {}, params).catch(() => undefined);
  if (!result) return undefined;
  const data = result.response.capabilityData;
  const props = new Map(data.capability === TPM_CAP.TPM_PROPERTIES ? data.tpmProperties.map((p) => [p.property, p.value]) : []);
  return {
    failedTries: props.get(TPM_PT.LOCKOUT_COUNTER) ?? 0,
    maxTries: props.get(TPM_PT.MAX_AUTH_FAIL) ?? 0,
    recoveryTime: props.get(TPM_PT.LOCKOUT_INTERVAL) ?? 0,
  };
}

/**
 * What we were doing when the TPM said no. `option`: how the caller gives the password a hint names (for a parent
 * or hierarchy, default `--tpm-parent-password`; for a key, `--tpm-key-password` or `tpm.keyPassword`).
 */
type TpmOperation =
  | { readonly kind: "create-primary"; readonly hierarchy: number; readonly option?: string }
  | { readonly kind: "read-public"; readonly handle: number; readonly role: "key" | "parent" }
  | { readonly kind: "load"; readonly parent: number; readonly option?: string }
  | { readonly kind: "policy"; readonly statement: string }
  | { readonly kind: "sign"; readonly keyHasEmptyAuthFlag: boolean; readonly option: string };

const PARENT_PASSWORD = "--tpm-parent-password";

function lockoutSentence(state: LockoutState | undefined): string {
  if (!state) return "";
  const left = Math.max(0, state.maxTries - state.failedTries);
  return `; ${state.failedTries} failed attempt(s) counted, ${left} left before the TPM locks out DA-protected keys`;
}

export function lockoutError(state: LockoutState | undefined, cause?: unknown): AuthError {
  let when = "until its owner clears it";
  if (state && state.recoveryTime > 0) {
    const seconds = Math.max(1, state.failedTries - state.maxTries + 1) * state.recoveryTime;
    when = `for about ${seconds} s (one failure is forgiven every ${state.recoveryTime} s) or until its owner clears it`;
  }
  return new AuthError("TPM_LOCKOUT", `the TPM is in dictionary-attack lockout and refuses password-protected keys ${when}`, {
    cause,
    hint: "do not retry with guessed passwords; the owner can reset it with `tpm2_dictionarylockout --clear-lockout`",
  });
}

/**
 * The error to report for `e` raised during `op`. Errors that are not TPM response codes pass through.
 * `lockout` is the DA state when it could be read (only needed for AUTH_FAIL and LOCKOUT).
 */
export function explainTpmError(e: unknown, op: TpmOperation, what: string, lockout?: LockoutState): unknown {
  if (!(e instanceof TpmResponseError)) return e;
  const raw = `(${e.decoded.name}, rc 0x${e.rc.toString(16)})`;
  if (e.rc === RC.LOCKOUT) return lockoutError(lockout, e);
  const fail = (type: typeof AgentError, code: ErrorCode, message: string, hint?: string) => new type(code, message, { cause: e, hint });
  const authFailed = e.is(RC.AUTH_FAIL) || e.is(RC.BAD_AUTH);
  const missing = e.is(RC.HANDLE) || e.is(RC.VALUE);
  const counted = e.is(RC.AUTH_FAIL) ? lockoutSentence(lockout) : " (the object is exempt from lockout, the attempt was not counted)";
  if (op.kind === "create-primary" && authFailed) {
    const name = Object.entries(TPM_RH).find(([, h]) => h === op.hierarchy)?.[0].toLowerCase() ?? hex32(op.hierarchy);
    const hint = `give the hierarchy password with ${op.option ?? PARENT_PASSWORD}; it is not retried`;
    return fail(AuthError, "TPM_AUTH_FAILED", `wrong password for the TPM ${name} hierarchy ${raw}`, hint);
  }
  // A transient handle (handle:0x80…) is never loaded in our connection: TPM_RC_REFERENCE_H0, a warning.
  if (op.kind === "read-public" && (missing || e.rc === RC.REFERENCE_H0)) {
    const kind = handleType(op.handle) === TPM_HT.PERSISTENT ? "persistent " : "";
    const role = op.role === "parent" ? " (the key's parent)" : "";
    const message = `${what}: there is no ${kind}TPM object at ${hex32(op.handle)}${role}`;
    return fail(InputError, "TPM_KEY_INVALID", message, "list persistent handles with `tpm2_getcap handles-persistent`");
  }
  if (op.kind === "load") {
    const parent = hex32(op.parent);
    if (authFailed) {
      const hint = `give it with ${op.option ?? PARENT_PASSWORD}; it is not retried`;
      return fail(AuthError, "TPM_AUTH_FAILED", `wrong password for the TPM parent key ${parent}${counted} ${raw}`, hint);
    }
    // The parameters are the file's private and public blobs (TPM_RC_SIZE for an empty one, _VALUE, _KEY…).
    if (e.is(RC.INTEGRITY) || e.is(RC.BINDING) || e.decoded.parameter !== undefined) {
      const message = `${what}: the TPM cannot load this key: it was made on another TPM, under another parent, or the file is damaged`;
      return fail(InputError, "TPM_KEY_INVALID", `${message} ${raw}`);
    }
    if (missing) return fail(InputError, "TPM_KEY_INVALID", `${what}: the key's parent ${parent} does not exist on this TPM ${raw}`);
  }
  // TPM_RC_VALUE on a parameter is a PCR mismatch; on the session handle it means the session is gone.
  const policyFailed = (e.is(RC.VALUE) && e.decoded.handle === undefined) || e.rc === RC.PCR_CHANGED || e.is(RC.POLICY_FAIL);
  if (op.kind === "policy" && policyFailed) {
    const message = `${what}: the TPM refused the key's policy: ${op.statement} does not hold any more ${raw}`;
    const hint = "the key is bound to PCR values that have changed (e.g. after a firmware or boot-chain update); re-create the key for the new state";
    return fail(AuthError, "TPM_POLICY_FAILED", message, hint);
  }
  if (op.kind === "sign") {
    if (authFailed) {
      const hint = op.keyHasEmptyAuthFlag
        ? `the key file says the key has no password; if it has one, give it with ${op.option} ` +
          "(tpm2_encodeobject before tpm2-tools 5.7 wrote that flag inverted)"
        : `wrong passwords are never retried; check ${op.option} / its file or variable`;
      return fail(AuthError, "TPM_AUTH_FAILED", `wrong TPM key password${counted} ${raw}`, hint);
    }
    if (e.rc === RC.AUTH_UNAVAILABLE) {
      const message = `${what}: the key can only be used with a policy session, but no policy for it is known ${raw}`;
      return fail(InputError, "TPM_KEY_INVALID", message, "use the key's TSS2 file with its policy instead of the handle");
    }
    if (e.is(RC.POLICY_FAIL)) {
      return fail(AuthError, "TPM_POLICY_FAILED", `${what}: the key's policy in the file does not match the key's authPolicy ${raw}`);
    }
    if (e.is(RC.KEY) || e.is(RC.ATTRIBUTES) || e.is(RC.TICKET)) {
      const why = e.is(RC.TICKET)
        ? "restricted TPM signing keys (attestation keys) are not supported"
        : "this TPM key cannot sign (restricted or not a signing key)";
      return fail(InputError, "PRIVATE_KEY_UNSUPPORTED", `${what}: ${why} ${raw}`);
    }
  }
  if (e.rc === RC.OBJECT_MEMORY || e.rc === RC.SESSION_MEMORY) {
    const hint = "use /dev/tpmrm0, or flush objects left by other tools (tpm2_flushcontext -t / -s)";
    return fail(DeviceError, "TPM_ERROR", `the TPM has no room for more loaded objects or sessions ${raw}`, hint);
  }
  if (e.rc === RC.FAILURE) {
    const hint = "a TPM simulator started without --flags not-need-init must first receive CMD_INIT (swtpm_ioctl -i)";
    return fail(DeviceError, "TPM_ERROR", `the TPM is in failure mode ${raw}`, hint);
  }
  return e;
}

/** Runs one TPM step; a failure is explained, with the DA counters when a password was refused. */
export async function withExplanation<T>(tpm: Tpm, op: TpmOperation, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const needsLockout = e instanceof TpmResponseError && (e.is(RC.AUTH_FAIL) || e.rc === RC.LOCKOUT);
    throw explainTpmError(e, op, what, needsLockout ? await tryReadLockoutState(tpm) : undefined);
  }
}
