/**
 * The PKCS11 class over pkcs11js's native addon (src/pkcs11/binding.ts), with a stand-in for the addon that behaves
 * as its native code does: return codes thrown as `Error("CKR_NAME:decimal")`, output functions returning the length
 * written. (native-test/pkcs11-*.test.ts run the real addon against SoftHSM.)
 */
import { describe, expect, it } from "vitest";
import { ckUlong, pkcs11Class, Pkcs11Error, pkcs11ErrorOf } from "../../src/pkcs11/binding.js";
import { describeCkr, ckrName, isSessionLost } from "../../src/pkcs11/pkcs11-errors.js";

class FakeNative {
  C_Login(_session: Buffer, _user: number, pin: string): void {
    if (pin !== "1234") throw new Error("CKR_PIN_INCORRECT:160");
  }
  C_GetSlotList(present: unknown): number[] {
    if (typeof present !== "boolean") throw new TypeError("Argument 0 has wrong type. Should be a Boolean");
    return [1, 2];
  }
  C_Finalize(): void {
    throw new Error("something the module said");
  }
  C_Sign(_session: Buffer, _data: Buffer, out: Buffer): number {
    out.fill(7, 0, 3);
    return 3;
  }
  C_FindObjects(_session: Buffer, count: number): Buffer[] {
    return [Buffer.from([1]), Buffer.from([2])].slice(0, count);
  }
  C_SignCallback(): string {
    return "untouched";
  }
}

const lib = new (pkcs11Class({ PKCS11: FakeNative }))();
const session = Buffer.alloc(8);

describe("pkcs11js's native addon as the PKCS11 class", () => {
  it("turns a return code into a Pkcs11Error: the CKR name as the message, the code as a number", () => {
    const error = (() => {
      try {
        lib.C_Login(session, 1, "0000");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(Pkcs11Error);
    expect(error).toMatchObject({ name: "Pkcs11Error", message: "CKR_PIN_INCORRECT", code: 160 });
    expect(ckrName(error)).toBe("CKR_PIN_INCORRECT");
    expect(describeCkr(error)).toBe("CKR_PIN_INCORRECT (0xA0)");
    expect(() => lib.C_Login(session, 1, "1234")).not.toThrow();
  });

  it("passes argument errors and other errors on as they are", () => {
    expect(() => lib.C_GetSlotList("yes" as unknown as boolean)).toThrow(TypeError);
    expect(() => lib.C_Finalize()).toThrow(new Error("something the module said"));
    expect(lib.C_GetSlotList(true)).toEqual([1, 2]);
  });

  it("returns the written part of an output buffer", () => {
    const out = Buffer.alloc(64);
    const signature = lib.C_Sign(session, Buffer.from("data"), out);
    expect(signature).toEqual(Buffer.from([7, 7, 7]));
    expect(signature.buffer).toBe(out.buffer);
  });

  it("C_FindObjects: a batch with a count, the first handle or null without", () => {
    expect(lib.C_FindObjects(session, 64)).toHaveLength(2);
    expect(lib.C_FindObjects(session)).toEqual(Buffer.from([1]));
  });

  it("leaves the callback variants alone", () => {
    expect((lib as unknown as FakeNative).C_SignCallback()).toBe("untouched");
  });
});

describe("ckUlong", () => {
  it("reads 8- and 4-byte values in the byte order given (the host's by default)", () => {
    expect(ckUlong(Buffer.from("0300000001000000", "hex"), true)).toBe(0x1_0000_0003n);
    expect(ckUlong(Buffer.from("0000000100000003", "hex"), false)).toBe(0x1_0000_0003n);
    expect(ckUlong(Buffer.from("03000080", "hex"), true)).toBe(0x8000_0003n);
    expect(ckUlong(Buffer.from("80000003", "hex"), false)).toBe(0x8000_0003n);
    const native = Buffer.alloc(8);
    new BigUint64Array(native.buffer, native.byteOffset, 1)[0] = 42n;
    expect(ckUlong(native)).toBe(42n);
  });

  it("has no value for any other length", () => {
    expect(ckUlong(Buffer.alloc(0))).toBeUndefined();
    expect(ckUlong(Buffer.alloc(2))).toBeUndefined();
  });
});

describe("a call that throws something other than an Error", () => {
  class Throwing {
    C_Login(): void {
      throw Object.create(null); // no string form at all
    }
    C_Logout(): void {
      throw "token gone";
    }
  }
  const throwing = new (pkcs11Class({ PKCS11: Throwing }))();

  it("is an Error saying what was thrown, which every error path can print", () => {
    expect(() => throwing.C_Login(session, 1, "1234")).toThrow(new Error("the module threw a value of type object"));
    expect(() => throwing.C_Logout(session)).toThrow(new Error('the module threw "token gone"'));
  });
});

describe("pkcs11ErrorOf: a return code raa_native's read got, as pkcs11js would have thrown it", () => {
  it("names the codes C_GetAttributeValue answers with, and keeps the code of any other", () => {
    expect(describeCkr(pkcs11ErrorOf(0x11))).toBe("CKR_ATTRIBUTE_SENSITIVE (0x11)");
    expect(isSessionLost(pkcs11ErrorOf(0xb3))).toBe(true);
    expect(describeCkr(pkcs11ErrorOf(0x80000001))).toBe("CKR_VENDOR_DEFINED (0x80000001)");
    expect(describeCkr(pkcs11ErrorOf(0x1234))).toBe("CKR_UNKNOWN (0x1234)");
  });
});
