import { describe, expect, it } from "vitest";
import { TpmResponseError } from "../../src/tpm/client/tpm-error.js";
import { explainTpmError, lockoutError } from "../../src/tpm/client/explain-error.js";

const rc = (code: number, cmd = "TPM2_Sign") => new TpmResponseError(cmd, code);
const lockout = { failedTries: 2, maxTries: 32, recoveryTime: 7200 };
const sign = (keyHasEmptyAuthFlag: boolean, option = "--tpm-key-password") => ({ kind: "sign", keyHasEmptyAuthFlag, option }) as const;

describe("TPM errors users can act on", () => {
  it("wrong key password, DA-protected: counted, with what is left", () => {
    const e = explainTpmError(rc(0x98e), sign(false), "k", lockout) as Error & { code: string };
    expect(e.code).toBe("TPM_AUTH_FAILED");
    expect(e.message).toBe("wrong TPM key password; 2 failed attempt(s) counted, 30 left before the TPM locks out DA-protected keys (TPM_RC_AUTH_FAIL, rc 0x98e)");
  });

  it("wrong key password on a noDA key: not counted; an emptyAuth file gets the tpm2_encodeobject hint", () => {
    const e = explainTpmError(rc(0x9a2), sign(true), "k") as Error & { hint: string };
    expect(e.message).toMatch(/exempt from lockout, the attempt was not counted/);
    expect(e.hint).toMatch(/^the key file says .* give it with --tpm-key-password \(tpm2_encodeobject/);
    // As the caller gives the password: fromRolesAnywhere's option, not a CLI flag.
    expect(explainTpmError(rc(0x9a2), sign(true, "tpm.keyPassword"), "k")).toMatchObject({ hint: expect.stringMatching(/ give it with tpm\.keyPassword \(/) });
  });

  it("lockout: when it ends and how to clear it", () => {
    const e = explainTpmError(rc(0x921), sign(false), "k", { failedTries: 33, maxTries: 32, recoveryTime: 10 }) as Error & { code: string; hint: string };
    expect(e.code).toBe("TPM_LOCKOUT");
    expect(e.message).toMatch(/for about 20 s \(one failure is forgiven every 10 s\)/);
    expect(lockoutError(undefined).message).toMatch(/until its owner clears it/);
  });

  it("hierarchy and parent passwords are named as such", () => {
    expect((explainTpmError(rc(0x9a2, "TPM2_CreatePrimary"), { kind: "create-primary", hierarchy: 0x4000000b }, "k") as Error).message).toMatch(/^wrong password for the TPM endorsement hierarchy/);
    expect((explainTpmError(rc(0x98e, "TPM2_Load"), { kind: "load", parent: 0x81000002 }, "k") as Error).message).toMatch(/^wrong password for the TPM parent key 0x81000002/);
  });

  it("the parent password's hint names it as the caller gives it (option), else the CLI's flag", () => {
    const primary = (option?: string) => ({ kind: "create-primary", hierarchy: 0x40000001, option }) as const;
    const load = (option?: string) => ({ kind: "load", parent: 0x81000002, option }) as const;
    const hint = (op: Parameters<typeof explainTpmError>[1]) => (explainTpmError(rc(0x98e), op, "k") as { hint: string }).hint;
    expect(hint(primary())).toBe("give the hierarchy password with --tpm-parent-password; it is not retried");
    expect(hint(primary("tpm.parentPassword"))).toBe("give the hierarchy password with tpm.parentPassword; it is not retried");
    expect(hint(load())).toBe("give it with --tpm-parent-password; it is not retried");
    expect(hint(load("tpm.parentPassword"))).toBe("give it with tpm.parentPassword; it is not retried");
  });

  it("a key from another TPM or parent, a missing handle, policy failures, a key that cannot sign", () => {
    expect(explainTpmError(rc(0x1df, "TPM2_Load"), { kind: "load", parent: 0x40000001 }, "key.pem")).toMatchObject({ code: "TPM_KEY_INVALID", message: expect.stringMatching(/made on another TPM/) });
    // Any parameter of TPM2_Load is the file's blobs: an empty private blob (TPM_RC_SIZE, parameter 1) was exit 5
    // "TPM2_Load failed", and TPM_RC_VALUE on the public area said that the parent does not exist.
    for (const code of [0x1d5, 0x2c4, 0x2da]) {
      expect(explainTpmError(rc(code, "TPM2_Load"), { kind: "load", parent: 0x40000001 }, "key.pem")).toMatchObject({
        code: "TPM_KEY_INVALID",
        message: expect.stringMatching(/^key\.pem: the TPM cannot load this key: .* the file is damaged/),
      });
    }
    expect(explainTpmError(rc(0x18b, "TPM2_Load"), { kind: "load", parent: 0x81000007 }, "k")).toMatchObject({ message: expect.stringMatching(/parent 0x81000007 does not exist/) });
    expect(explainTpmError(rc(0x18b, "TPM2_ReadPublic"), { kind: "read-public", handle: 0x81000009, role: "key" }, "k")).toMatchObject({
      message: "k: there is no persistent TPM object at 0x81000009",
    });
    // handle:0x80000001 (transient, never loaded in our connection) was exit 5 "TPM2_ReadPublic failed: TPM_RC_REFERENCE_H0".
    expect(explainTpmError(rc(0x910, "TPM2_ReadPublic"), { kind: "read-public", handle: 0x80000001, role: "key" }, "k")).toMatchObject({
      code: "TPM_KEY_INVALID",
      message: "k: there is no TPM object at 0x80000001",
    });
    expect(explainTpmError(rc(0x1c4, "TPM2_PolicyPCR"), { kind: "policy", statement: "the PCR policy on PCR 7 (sha256)" }, "k")).toMatchObject({ code: "TPM_POLICY_FAILED" });
    // TPM_RC_VALUE on the session handle (0x184: not loaded, as a resource manager says) is not a PCR mismatch:
    // it stays a device error, so that the signer loads the key again instead of failing for good.
    expect(explainTpmError(rc(0x184, "TPM2_PolicyPCR"), { kind: "policy", statement: "the PCR policy on PCR 7 (sha256)" }, "k")).toMatchObject({ code: "TPM_ERROR" });
    // TPM_RC_POLICY_FAIL on TPM2_Sign's session 1: the file's policy replayed, but the key's authPolicy differs.
    expect(explainTpmError(rc(0x99d), sign(false), "k")).toMatchObject({
      code: "TPM_POLICY_FAILED",
      category: "auth",
      message: expect.stringMatching(/^k: the key's policy in the file does not match the key's authPolicy \(/),
    });
    expect(explainTpmError(rc(0x12f), sign(false), "k")).toMatchObject({ code: "TPM_KEY_INVALID" });
    expect(explainTpmError(rc(0x3e0), sign(false), "k")).toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED" });
  });

  it("resource exhaustion and failure mode get a hint; other codes and non-TPM errors pass through", () => {
    expect(explainTpmError(rc(0x902, "TPM2_Load"), { kind: "load", parent: 0x40000001 }, "k")).toMatchObject({ hint: expect.stringMatching(/tpm2_flushcontext/) });
    expect(explainTpmError(rc(0x101), sign(false), "k")).toMatchObject({ hint: expect.stringMatching(/CMD_INIT/) });
    const other = rc(0x2c3);
    expect(explainTpmError(other, sign(false), "k")).toBe(other);
    const plain = new Error("x");
    expect(explainTpmError(plain, sign(false), "k")).toBe(plain);
  });
});

describe("explanations whose condition no other test decided", () => {
  it("lockout with recovery 0: only the owner clears it (no 'for about 0 s')", () => {
    const e = explainTpmError(rc(0x921), sign(false), "k", { failedTries: 33, maxTries: 32, recoveryTime: 0 }) as Error;
    expect(e.message).toBe("the TPM is in dictionary-attack lockout and refuses password-protected keys until its owner clears it");
    expect(e.cause).toBeInstanceOf(TpmResponseError);
  });

  it("load: a refused parameter or an integrity/binding failure is a key from elsewhere; a missing parent is named", () => {
    const load = { kind: "load", parent: 0x81000001 } as const;
    for (const code of [0x19f /* INTEGRITY */, 0x1a5 /* BINDING */, 0x1d5 /* SIZE, parameter 1 */]) {
      expect(explainTpmError(rc(code, "TPM2_Load"), load, "k")).toMatchObject({ code: "TPM_KEY_INVALID", message: expect.stringMatching(/^k: the TPM cannot load this key: it was made on another TPM/) });
    }
    expect(explainTpmError(rc(0x18b, "TPM2_Load"), load, "k")).toMatchObject({ code: "TPM_KEY_INVALID", message: "k: the key's parent 0x81000001 does not exist on this TPM (TPM_RC_HANDLE, rc 0x18b)" });
  });

  it("sign: KEY, ATTRIBUTES or TICKET cannot sign; no room for objects; read-public names the parent role", () => {
    for (const [code, why] of [[0x1dc, /cannot sign \(restricted or not a signing key\)/], [0x182, /cannot sign \(restricted/], [0x1e0, /attestation keys\) are not supported/]] as const) {
      expect(explainTpmError(rc(code), sign(false), "k")).toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED", message: expect.stringMatching(why) });
    }
    expect(explainTpmError(rc(0x902), sign(false), "k")).toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/^the TPM has no room for more loaded objects or sessions/) });
    expect(explainTpmError(rc(0x903), sign(false), "k")).toMatchObject({ code: "TPM_ERROR" });
    const readPublic = (role: "key" | "parent") => ({ kind: "read-public", handle: 0x81000001, role }) as const;
    expect(explainTpmError(rc(0x18b, "TPM2_ReadPublic"), readPublic("parent"), "k")).toMatchObject({ message: "k: there is no persistent TPM object at 0x81000001 (the key's parent)" });
    expect(explainTpmError(rc(0x18b, "TPM2_ReadPublic"), readPublic("key"), "k")).toMatchObject({ message: "k: there is no persistent TPM object at 0x81000001" });
    // Another refusal of ReadPublic is not "no object there".
    expect(explainTpmError(rc(0x101, "TPM2_ReadPublic"), readPublic("key"), "k")).toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/failure mode/) });
  });
});
