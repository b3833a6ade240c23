/**
 * directCall (module-loader.ts): the one way raa_native's login and token-info calls reach a module, and isNotDirect,
 * the one failure that ends them for that module. The helper is a stand-in (real SoftHSM: native-test/pkcs11-native-login*).
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Pkcs11Module } from "../../src/pkcs11/module-loader.js";
import { directCall } from "../../src/pkcs11/module-loader.js";
import { isNotDirect, type NativeHelper } from "../../src/os/native-helper.js";

const native = vi.hoisted(() => ({ helper: undefined as object | undefined }));
vi.mock("../../src/os/native-helper.js", async (importOriginal) => ({
  ...await importOriginal<typeof import("../../src/os/native-helper.js")>(),
  loadNativeHelper: () => (native.helper ? { helper: native.helper } : { reason: "test" }),
}));

const moduleWith = (directReads?: boolean) => ({ directReads }) as unknown as Pkcs11Module;

beforeEach(() => {
  native.helper = undefined;
});

describe("directCall", () => {
  it("without the helper, or once the module is known not direct, the call is not made: undefined", () => {
    const calls: unknown[] = [];
    const call = (helper: NativeHelper) => (calls.push(helper), "called");
    expect(directCall(moduleWith(), call)).toBeUndefined();
    native.helper = {};
    expect(directCall(moduleWith(false), call)).toBeUndefined();
    expect(calls).toEqual([]);
    expect(directCall(moduleWith(true), call)).toBe("called");
    expect(calls).toEqual([native.helper]);
  });
});

describe("isNotDirect", () => {
  it("only an error whose code is RAA_NOT_DIRECT; anything thrown, even undefined or null, is a plain false", () => {
    expect(isNotDirect(Object.assign(new Error("x"), { code: "RAA_NOT_DIRECT" }))).toBe(true);
    for (const thrown of [undefined, null, 0, "RAA_NOT_DIRECT", new Error("RAA_NOT_DIRECT"), { code: "raa_not_direct" }]) {
      expect(isNotDirect(thrown)).toBe(false);
    }
  });
});
