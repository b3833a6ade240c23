import { describe, expect, it } from "vitest";
import { AuthError } from "../../src/errors.js";
import { Pkcs11Error } from "../../src/pkcs11/binding.js";
import { ckrName, describeCkr, isSessionLost, pkcs11Failure } from "../../src/pkcs11/pkcs11-errors.js";

describe("isSessionLost: the return codes after which the signer opens a new session and logs in again", () => {
  it.each([
    "CKR_DEVICE_REMOVED", "CKR_TOKEN_NOT_PRESENT", "CKR_TOKEN_NOT_RECOGNIZED", "CKR_SESSION_HANDLE_INVALID", "CKR_SESSION_CLOSED",
    "CKR_OBJECT_HANDLE_INVALID", "CKR_KEY_HANDLE_INVALID", "CKR_SLOT_ID_INVALID", "CKR_CRYPTOKI_NOT_INITIALIZED", "CKR_USER_NOT_LOGGED_IN",
  ])("%s: lost", (name) => {
    expect(isSessionLost(new Pkcs11Error(name, 1))).toBe(true);
  });

  // A wrong PIN must never count as a lost session: the recovery logs in again, a second try on the token's counter.
  it.each(["CKR_PIN_INCORRECT", "CKR_PIN_LOCKED", "CKR_PIN_EXPIRED", "CKR_GENERAL_ERROR", "CKR_DEVICE_ERROR", "CKR_FUNCTION_FAILED"])(
    "%s: not lost",
    (name) => {
      expect(isSessionLost(new Pkcs11Error(name, 1))).toBe(false);
    },
  );

  it("only a message that starts with the CKR name is a return code: not text that mentions one, nor a non-Error", () => {
    expect(isSessionLost(new Error("the module said CKR_DEVICE_REMOVED"))).toBe(false);
    expect(ckrName(new Error("see CKR_PIN_INCORRECT"))).toBeUndefined();
    expect(isSessionLost("CKR_DEVICE_REMOVED")).toBe(false);
    expect(ckrName(new Error("CKR_DEVICE_REMOVED:50"))).toBe("CKR_DEVICE_REMOVED");
  });
});

describe("describeCkr", () => {
  it("the name, with the code in hex when there is one; other errors as their message", () => {
    expect(describeCkr(new Pkcs11Error("CKR_DEVICE_REMOVED", 0x32))).toBe("CKR_DEVICE_REMOVED (0x32)");
    expect(describeCkr(new Error("CKR_VENDOR_DEFINED"))).toBe("CKR_VENDOR_DEFINED");
    expect(describeCkr(new Pkcs11Error("CKR_OK", 0))).toBe("CKR_OK");
    expect(describeCkr(new Error("no such file"))).toBe("no such file");
    expect(describeCkr(42)).toBe("42");
  });
});

describe("pkcs11Failure", () => {
  it("an AgentError passes as it is; another error becomes PKCS11_ERROR, with a hint only when one is given", () => {
    const auth = new AuthError("PIN_INCORRECT", "rejected");
    expect(pkcs11Failure("C_Login", auth, "ignored")).toBe(auth);
    const cause = new Pkcs11Error("CKR_DEVICE_ERROR", 0x30);
    expect(pkcs11Failure("C_Sign", cause)).toMatchObject({ code: "PKCS11_ERROR", message: "C_Sign failed: CKR_DEVICE_ERROR (0x30)", cause, hint: undefined });
    expect(pkcs11Failure("C_Sign", cause, "check it")).toMatchObject({ hint: "check it" });
  });
});
