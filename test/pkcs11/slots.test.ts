import { describe, expect, it } from "vitest";
import { CKF } from "../../src/pkcs11/constants.js";
import type { Pkcs11Module } from "../../src/pkcs11/module-loader.js";
import { listTokenSlots } from "../../src/pkcs11/slots.js";
import { Pkcs11AmbiguousError } from "../../src/pkcs11/pkcs11-errors.js";

/** A module with one slot, its fixed-size text fields as pkcs11js hands them over (32 or 64 characters, padded). */
function moduleWithToken(label: string): Pkcs11Module {
  const fixed = (text: string, size: number) => text.padEnd(size, " ");
  const lib = {
    C_GetSlotList: () => [Buffer.from([3, 0, 0, 0, 0, 0, 0, 0])],
    C_GetSlotInfo: () => ({ slotDescription: fixed("Slot 3", 64), manufacturerID: fixed("Vendor", 32) }),
    C_GetTokenInfo: () => ({
      label: fixed(label, 32),
      manufacturerID: fixed("Vendor", 32),
      model: fixed("M1", 16),
      serialNumber: fixed("0042", 16),
      flags: CKF.TOKEN_INITIALIZED,
    }),
  };
  return { lib } as unknown as Pkcs11Module;
}

describe("listTokenSlots", () => {
  it("reads the blank-padded fields without their padding, keeping a leading blank", () => {
    const [slot] = listTokenSlots(moduleWithToken(" spaced label"));
    expect(slot).toMatchObject({ slotId: 3n, slotDescription: "Slot 3", slotManufacturer: "Vendor" });
    expect(slot!.token).toEqual({ label: " spaced label", manufacturer: "Vendor", model: "M1", serial: "0042" });
  });

  it("cuts a field at a NUL, as a module that writes a C string into the fixed-size field leaves it", () => {
    const [slot] = listTokenSlots(moduleWithToken("device\0\u0001stale bytes"));
    expect(slot!.token.label).toBe("device");
  });
});

describe("listTokenSlots with a module that lists a slot twice", () => {
  it("lists it once", () => {
    const module = moduleWithToken("device");
    const slot = Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]);
    (module.lib as unknown as Record<string, unknown>).C_GetSlotList = () => [slot, Buffer.from(slot), slot];
    expect(listTokenSlots(module)).toHaveLength(1);
  });
});

describe("Pkcs11AmbiguousError", () => {
  it("lists at most 20 candidates (10,000 slots showing one token made one 880 KB message), keeping all of them on the error", () => {
    const uris = Array.from({ length: 10_000 }, (_, i) => `pkcs11:token=t;slot-id=${i}`);
    const e = new Pkcs11AmbiguousError("pkcs11:token=t matches 10000 tokens", uris, "add slot-id");
    const lines = e.message.split("\n");
    expect(lines).toHaveLength(22);
    expect(lines[20]).toBe("  pkcs11:token=t;slot-id=19");
    expect(lines[21]).toBe("  … and 9980 more");
    expect(e.candidates).toHaveLength(10_000);
    expect(new Pkcs11AmbiguousError("x", uris.slice(0, 20), "h").message.split("\n")).toHaveLength(21);
  });
});
