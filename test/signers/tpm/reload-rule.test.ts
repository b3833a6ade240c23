import { describe, expect, it } from "vitest";
import { DeviceError } from "../../../src/errors.js";
import { TpmResponseError } from "../../../src/tpm/client/tpm-error.js";
import { reloadReason, sessionOutOfStep } from "../../../src/signers/tpm/reload-rule.js";
import { SessionIntegrityError } from "../../../src/tpm/sessions/auth-session.js";
import { TpmWireError } from "../../../src/tpm/wire/codec.js";
import { TpmConnectionLost } from "../../../src/tpm/transport/transport.js";

const sign = (rc: number) => new TpmResponseError("TPM2_Sign", rc);

describe("which failures make the TPM signer load its key again and retry once", () => {
  it.each([
    [0x910, "TPM_RC_REFERENCE_H0: the key handle is not loaded (swtpm restarted)"],
    [0x911, "TPM_RC_REFERENCE_H1"],
    [0x916, "TPM_RC_REFERENCE_H6"],
    [0x918, "TPM_RC_REFERENCE_S0: the HMAC or policy session is not loaded"],
    [0x91e, "TPM_RC_REFERENCE_S6"],
    [0x18b, "TPM_RC_HANDLE on handle 1 (a persistent key evicted, or a flushed transient)"],
    [0x184, "TPM_RC_VALUE on handle 1 (the kernel resource manager's 'not loaded')"],
  ])("rc 0x%s reloads, whether or not a signature succeeded before (%s)", (rc) => {
    expect(reloadReason(sign(rc), false)).toBeDefined();
    expect(reloadReason(sign(rc), true)).toBeDefined();
  });

  it.each([
    [0x98e, "TPM_RC_AUTH_FAIL (session 1): counted by dictionary-attack protection"],
    [0x9a2, "TPM_RC_BAD_AUTH (session 1)"],
    [0x8e, "TPM_RC_AUTH_FAIL without a number"],
    [0xa2, "TPM_RC_BAD_AUTH without a number"],
    [0x921, "TPM_RC_LOCKOUT"],
    [0x99d, "TPM_RC_POLICY_FAIL (session 1)"],
    [0x1c4, "TPM_RC_VALUE on parameter 1 (PolicyPCR: PCRs changed)"],
    [0x128, "TPM_RC_PCR_CHANGED"],
    [0x12f, "TPM_RC_AUTH_UNAVAILABLE"],
    [0x1cb, "TPM_RC_HANDLE on a parameter (FlushContext of a handle not loaded)"],
    [0x98b, "TPM_RC_HANDLE on a session"],
    [0x19c, "TPM_RC_KEY on handle 1 (not a signing key)"],
    [0x101, "TPM_RC_FAILURE"],
    [0x902, "TPM_RC_OBJECT_MEMORY"],
  ])("rc 0x%s is reported as it is, never retried (%s)", (rc) => {
    expect(reloadReason(sign(rc), false)).toBeUndefined();
    expect(reloadReason(sign(rc), true)).toBeUndefined();
  });

  it("a lost connection reloads only once a signature has succeeded: before that, the lost command may have been a counted wrong password", () => {
    const lost = new TpmConnectionLost("TPM_ERROR", "the TPM at unix:/x closed the connection");
    expect(reloadReason(lost, true)).toMatch(/connection/);
    expect(reloadReason(lost, false)).toBeUndefined();
  });

  it("other errors (an unreachable TPM, plain device errors, bugs) are not retried", () => {
    expect(reloadReason(new DeviceError("TPM_UNAVAILABLE", "cannot connect to the TPM at unix:/x: ECONNREFUSED"), true)).toBeUndefined();
    expect(reloadReason(new DeviceError("TPM_ERROR", "malformed response"), true)).toBeUndefined();
    expect(reloadReason(new Error("bug"), true)).toBeUndefined();
    expect(reloadReason(undefined, true)).toBeUndefined();
  });

  it("an answer that failed its HMAC check or could not be read puts the session out of step (the key is dropped, not retried)", () => {
    const malformed = (cause: Error) => new DeviceError("TPM_ERROR", `malformed response to TPM2_Sign: ${cause.message}`, { cause });
    expect(sessionOutOfStep(malformed(new SessionIntegrityError("the TPM's response HMAC does not match")))).toBe(true);
    expect(sessionOutOfStep(malformed(new TpmWireError("truncated authorization area")))).toBe(true);
    expect(reloadReason(malformed(new SessionIntegrityError("the TPM's response HMAC does not match")), true)).toBeUndefined();
    expect(sessionOutOfStep(sign(0x98e))).toBe(false);
    expect(sessionOutOfStep(new TpmConnectionLost("TPM_ERROR", "the TPM at unix:/x closed the connection"))).toBe(false);
    expect(sessionOutOfStep(new DeviceError("TPM_ERROR", "malformed response"))).toBe(false);
    expect(sessionOutOfStep(undefined)).toBe(false);
  });
});
