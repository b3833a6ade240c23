import { describe, expect, it } from "vitest";
import { decodeResponseCode, formatResponseCode } from "../../src/tpm/wire/response-code.js";

describe("TPM_RC decoding", () => {
  it.each([
    [0x98e, "TPM_RC_AUTH_FAIL", { session: 1 }],
    [0x9a2, "TPM_RC_BAD_AUTH", { session: 1 }],
    [0x99d, "TPM_RC_POLICY_FAIL", { session: 1 }],
    [0x1c4, "TPM_RC_VALUE", { parameter: 1 }],
    [0x2d2, "TPM_RC_SCHEME", { parameter: 2 }],
    [0x3e0, "TPM_RC_TICKET", { parameter: 3 }],
    [0x18b, "TPM_RC_HANDLE", { handle: 1 }],
    [0x1cb, "TPM_RC_HANDLE", { parameter: 1 }],
    [0x1df, "TPM_RC_INTEGRITY", { parameter: 1 }],
    [0x19c, "TPM_RC_KEY", { handle: 1 }],
  ] as const)("format 1: 0x%s is %s", (rc, name, where) => {
    const d = decodeResponseCode(rc);
    expect(d.kind).toBe("error");
    expect(d.name).toBe(name);
    expect(d).toMatchObject(where);
  });

  it.each([
    [0x100, "TPM_RC_INITIALIZE", "error"],
    [0x101, "TPM_RC_FAILURE", "error"],
    [0x12f, "TPM_RC_AUTH_UNAVAILABLE", "error"],
    [0x125, "TPM_RC_AUTH_MISSING", "error"],
    [0x142, "TPM_RC_COMMAND_SIZE", "error"],
    [0x921, "TPM_RC_LOCKOUT", "warning"],
    [0x922, "TPM_RC_RETRY", "warning"],
    [0x902, "TPM_RC_OBJECT_MEMORY", "warning"],
  ] as const)("format 0: 0x%s is %s (%s)", (rc, name, kind) => {
    const d = decodeResponseCode(rc);
    expect(d.name).toBe(name);
    expect(d.kind).toBe(kind);
    expect(d.base).toBe(rc);
  });

  it("codes from a software layer (the kernel resource manager) and TPM 1.2 codes are told apart", () => {
    expect(decodeResponseCode(0x000b0143)).toMatchObject({ kind: "software", name: "resource manager:TPM_RC_COMMAND_CODE" });
    expect(decodeResponseCode(0x1e).kind).toBe("tpm12");
  });

  it("formats one readable line", () => {
    expect(formatResponseCode(0x98e)).toBe("TPM_RC_AUTH_FAIL (session 1, rc 0x98e): the authorization HMAC check failed and the DA counter was incremented");
  });
});

describe("TPM_RC decoding: the kinds a mutant could swap unnoticed", () => {
  it("0 is success; a resource manager's or another software layer's code says who reported it", () => {
    const success = { rc: 0, kind: "success", base: 0, name: "TPM_RC_SUCCESS", description: "success" };
    expect(decodeResponseCode(0)).toEqual(success);
    expect(decodeResponseCode(0x000b0143).description).toBe("reported by the resource manager, not the TPM");
    expect(decodeResponseCode(0x00090101)).toMatchObject({
      kind: "software",
      name: "software layer 9:TPM_RC_FAILURE",
      description: "reported by the software layer 9, not the TPM",
    });
    expect(decodeResponseCode(0x000b0000).name).toBe("resource manager:unknown");
  });

  it("TPM 1.2 and vendor codes are named with their number", () => {
    const tpm12 = { name: "TPM 1.2 code 0x1e", description: "not a TPM 2.0 response" };
    expect(decodeResponseCode(0x1e)).toMatchObject(tpm12);
    const vendor = { rc: 0x501, kind: "vendor", base: 0x501, name: "vendor code 0x501", description: "vendor-defined" };
    expect(decodeResponseCode(0x501)).toEqual(vendor);
  });

  it("REFERENCE_H0…H6 and S0…S6 name the handle or session by its place; the codes after them are unknown", () => {
    expect(decodeResponseCode(0x911)).toMatchObject({
      kind: "warning", name: "TPM_RC_REFERENCE_H1",
      description: "handle 2 of the handle area refers to a transient object or session that is not loaded",
    });
    expect(decodeResponseCode(0x916).name).toBe("TPM_RC_REFERENCE_H6");
    expect(decodeResponseCode(0x917)).toMatchObject({ name: "TPM_RC_WARN_0x17", description: "unknown warning" });
    expect(decodeResponseCode(0x91e)).toMatchObject({
      name: "TPM_RC_REFERENCE_S6", description: "session 7 of the authorization area is not loaded",
    });
  });

  it("one line says which parameter or handle the TPM refused, or nothing when it names none", () => {
    expect(formatResponseCode(0x1c4)).toMatch(/^TPM_RC_VALUE \(parameter 1, rc 0x1c4\): \S/);
    expect(formatResponseCode(0x18b)).toMatch(/^TPM_RC_HANDLE \(handle 1, rc 0x18b\): \S/);
    expect(formatResponseCode(0x101)).toMatch(/^TPM_RC_FAILURE \(rc 0x101\): \S/);
  });
});
