/**
 * A PKCS#11 library is process-wide: one C_Finalize ends the sessions of all its users (module-loader.ts).
 * - Two signers opened at the same moment (two fromRolesAnywhere providers' first calls) each loaded their own
 *   module: closing the first finalised the library under the second, whose session died
 *   ("session … lost (CKR_CRYPTOKI_NOT_INITIALIZED)") and had to log in again.
 * - A library initialised already (the application's own pkcs11js, or a provider in another worker thread: their
 *   C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED) was finalised by our last close(), under its owner; and
 *   a worker thread finalised one that other threads were using ("searching the token failed:
 *   CKR_CRYPTOKI_NOT_INITIALIZED" in a sibling worker).
 */
import { beforeEach, describe, expect, it, vi } from "vitest";

const state = vi.hoisted(() => ({ calls: [] as string[], alreadyInitialized: false, mainThread: true }));
vi.mock("node:worker_threads", () => ({
  get isMainThread() {
    return state.mainThread;
  },
}));
vi.mock("../../src/pkcs11/addon-status.js", () => ({
  requirePkcs11js: () => ({
    PKCS11: class {
      load = () => state.calls.push("load");
      C_Initialize = () => {
        state.calls.push("C_Initialize");
        if (state.alreadyInitialized) throw new Error("CKR_CRYPTOKI_ALREADY_INITIALIZED:401");
      };
      C_GetInfo = () => ({ manufacturerID: "Test", libraryDescription: "Fake", libraryVersion: { major: 1, minor: 0 } });
      C_Finalize = () => state.calls.push("C_Finalize");
      close = () => state.calls.push("close");
    },
  }),
}));
const { acquireModule } = await import("../../src/pkcs11/module-loader.js");

const choice = { path: "libfake-pkcs11.so", origin: "test", option: "pkcs11.library" };
beforeEach(() => Object.assign(state, { calls: [], alreadyInitialized: false, mainThread: true }));

describe("acquireModule", () => {
  it("called twice at once, loads the library once; the first release leaves it initialised for the other", async () => {
    const [a, b] = await Promise.all([acquireModule(choice), acquireModule(choice)]);
    expect(b.module).toBe(a.module);
    a.release();
    expect(state.calls).toEqual(["load", "C_Initialize"]);
    b.release();
    expect(state.calls).toEqual(["load", "C_Initialize", "C_Finalize", "close"]);
  });

  it("never finalises a library someone else in the process initialised (CKR_CRYPTOKI_ALREADY_INITIALIZED)", async () => {
    state.alreadyInitialized = true;
    (await acquireModule(choice)).release();
    expect(state.calls).toEqual(["load", "C_Initialize", "close"]);
  });

  it("in a worker thread, never finalises the library: other threads may be using it", async () => {
    state.mainThread = false;
    (await acquireModule(choice)).release();
    expect(state.calls).toEqual(["load", "C_Initialize", "close"]);
  });
});
