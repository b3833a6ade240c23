/**
 * Signers of one process that use the same PKCS#11 library share one initialised module (module-loader.ts): one
 * C_Finalize ends every session of the library. Two signers opened at the same moment (two fromRolesAnywhere
 * providers' first calls) each loaded their own: closing the first finalised the library under the second, whose
 * session died ("session … lost (CKR_CRYPTOKI_NOT_INITIALIZED)") and had to log in again.
 */
import { describe, expect, it, vi } from "vitest";

const calls: string[] = [];
vi.mock("../../src/pkcs11/addon-status.js", () => ({
  requirePkcs11js: () => ({
    PKCS11: class {
      load = () => calls.push("load");
      C_Initialize = () => calls.push("C_Initialize");
      C_GetInfo = () => ({ manufacturerID: "Test", libraryDescription: "Fake", libraryVersion: { major: 1, minor: 0 } });
      C_Finalize = () => calls.push("C_Finalize");
      close = () => calls.push("close");
    },
  }),
}));
const { acquireModule } = await import("../../src/pkcs11/module-loader.js");

describe("acquireModule called twice at once", () => {
  it("loads the library once; the first release leaves it initialised for the other", async () => {
    const choice = { path: "libfake-pkcs11.so", origin: "test", option: "pkcs11.library" };
    const [a, b] = await Promise.all([acquireModule(choice), acquireModule(choice)]);
    expect(b.module).toBe(a.module);
    a.release();
    expect(calls).toEqual(["load", "C_Initialize"]);
    b.release();
    expect(calls).toEqual(["load", "C_Initialize", "C_Finalize", "close"]);
  });
});
