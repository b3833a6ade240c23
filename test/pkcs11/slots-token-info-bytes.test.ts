/**
 * listTokenSlots with what raa_native's pkcs11TokenInfo answers (round 41, S38; the helper itself is exercised on real
 * SoftHSM in native-test/pkcs11-label-bytes*.test.ts): tokens are listed without the helper, with a CK_RV from it, or
 * when it cannot take the module (RAA_NOT_DIRECT: remembered, not asked again; a TypeError: a stand-in lib); its bytes
 * are kept, cut as the text is, only when one field is not UTF-8.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { CKF } from "../../src/pkcs11/constants.js";
import type { Pkcs11Module } from "../../src/pkcs11/module-loader.js";

const native = vi.hoisted(() => ({ load: {} as object, calls: 0 }));
vi.mock("../../src/os/native-helper.js", async (actual) => ({ ...(await actual<object>()), loadNativeHelper: () => native.load }));
const { listTokenSlots } = await import("../../src/pkcs11/slots.js");

const text = (value: string, size: number) => value.padEnd(size, " ");
const bytes = (value: Buffer | string, size: number) => Buffer.concat([Buffer.from(value), Buffer.alloc(size, " ")]).subarray(0, size);
function moduleWithToken(): Pkcs11Module {
  const lib = {
    C_GetSlotList: () => [Buffer.from([3, 0, 0, 0, 0, 0, 0, 0])],
    C_GetSlotInfo: () => ({ slotDescription: text("Slot 3", 64), manufacturerID: text("Vendor", 32) }),
    C_GetTokenInfo: () => ({ label: text("caf\ufffd", 32), manufacturerID: text("Vendor", 32), model: text("M1", 16), serialNumber: text("0042", 16), flags: CKF.TOKEN_INITIALIZED }),
  };
  return { lib, pkcs11: class {}, path: "/usr/lib/m.so", directReads: undefined } as unknown as Pkcs11Module;
}
const answer = (label: Buffer | string) => ({ label: bytes(label, 32), manufacturerID: bytes("Vendor", 32), model: bytes("M1", 16), serialNumber: bytes("0042", 16) });
const helper = (pkcs11TokenInfo: (...args: unknown[]) => unknown) => {
  native.load = { helper: { pkcs11TokenInfo: (...args: unknown[]) => (native.calls++, pkcs11TokenInfo(...args)) } };
};
const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);

beforeEach(() => {
  native.load = {};
  native.calls = 0;
});

describe("listTokenSlots and raa_native's pkcs11TokenInfo", () => {
  it("keeps the bytes of a field that is not UTF-8, all four fields, cut at a NUL and without trailing blanks", async () => {
    helper(() => answer(Buffer.concat([latin1, Buffer.from("\0junk")])));
    const [slot] = await listTokenSlots(moduleWithToken());
    expect(slot!.token.bytes).toEqual({ label: latin1, manufacturer: Buffer.from("Vendor"), model: Buffer.from("M1"), serial: Buffer.from("0042") });
    helper(() => answer(Buffer.concat([Buffer.from([0xe9]), Buffer.alloc(30, " "), Buffer.from([0xff])])));
    expect((await listTokenSlots(moduleWithToken()))[0]!.token.bytes?.label).toEqual(Buffer.from(`e9${"20".repeat(30)}ff`, "hex"));
  });

  it("keeps no bytes when every field is UTF-8 (up to its NUL)", async () => {
    for (const label of ["caf", Buffer.from([0x00, 0xe9])]) {
      helper(() => answer(label));
      expect((await listTokenSlots(moduleWithToken()))[0]!.token).not.toHaveProperty("bytes");
    }
  });

  it("lists the token by its text without the helper, with a CK_RV from it, or with a TypeError (a stand-in lib)", async () => {
    native.load = { reason: "not part of this installation" };
    expect((await listTokenSlots(moduleWithToken()))[0]!.token).toEqual({ label: "caf\ufffd", manufacturer: "Vendor", model: "M1", serial: "0042" });
    for (const read of [() => 0xe0, () => { throw new TypeError("pkcs11TokenInfo(lib, PKCS11, modulePath, slot)"); }]) {
      helper(read);
      const module = moduleWithToken();
      expect((await listTokenSlots(module))[0]!.token).not.toHaveProperty("bytes");
      expect(module.directReads).toBeUndefined();
    }
  });

  it("RAA_NOT_DIRECT: the token listed by its text, and the helper not asked again for that module", async () => {
    helper(() => { throw Object.assign(new Error("pkcs11TokenInfo: lib is not the pkcs11js that loaded this module"), { code: "RAA_NOT_DIRECT" }); });
    const module = moduleWithToken();
    expect((await listTokenSlots(module))[0]!.token.label).toBe("caf\ufffd");
    expect([module.directReads, native.calls]).toEqual([false, 1]);
    await listTokenSlots(module);
    expect(native.calls).toBe(1);
  });

  it("keeps the bytes of a label that is UTF-8 holding U+FFFD: the token's own (round 43, L2), named by them", async () => {
    const replacement = Buffer.from("caf\ufffd");
    helper(() => answer(replacement));
    expect((await listTokenSlots(moduleWithToken()))[0]!.token.bytes?.label).toEqual(replacement);
  });

  it("a failure of the helper other than RAA_NOT_DIRECT or a TypeError is thrown, naming the slot (round 43, L2)", async () => {
    helper(() => { throw new Error("pkcs11TokenInfo: out of memory"); });
    await expect(listTokenSlots(moduleWithToken())).rejects.toMatchObject({
      code: "PKCS11_ERROR", message: "reading the token in slot 3 of the PKCS#11 module /usr/lib/m.so failed: pkcs11TokenInfo: out of memory",
    });
  });

  it("passes the module's lib, class, path and the slot's handle", async () => {
    const seen: unknown[][] = [];
    helper((...args) => (seen.push(args), answer(latin1)));
    const module = moduleWithToken();
    await listTokenSlots(module);
    expect(seen).toEqual([[module.lib, module.pkcs11, "/usr/lib/m.so", Buffer.from([3, 0, 0, 0, 0, 0, 0, 0])]]);
  });
});
