/**
 * How pin.ts presents a PIN: through raa_native's pkcs11Login, the Secret's own bytes (wiped after), never a string;
 * without the helper or for a module it may not reach, pkcs11js's C_Login with the PIN's text, UTF-8 only. The helper
 * is a stand-in here (what it does with real SoftHSM: native-test/pkcs11-native-login.test.ts).
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { Secret } from "../../src/secrets/secret.js";
import type { TokenContext } from "../../src/pkcs11/objects.js";
import { loginContextSpecific, loginUser, type PinSupply } from "../../src/pkcs11/pin.js";
import { forgetRejectedSecrets } from "../../src/secrets/rejected-secrets.js";

const native = vi.hoisted(() => ({ helper: undefined as { pkcs11Login?: (...args: unknown[]) => number } | undefined }));
vi.mock("../../src/os/native-helper.js", async (importOriginal) => ({
  ...await importOriginal<typeof import("../../src/os/native-helper.js")>(),
  loadNativeHelper: () => (native.helper ? { helper: native.helper } : { reason: "test" }),
}));

class Pkcs11 {}

let tokens = 0;

/**
 * A module whose pkcs11js C_Login records its arguments; `directReads` as module-loader.ts keeps it. A new path each:
 * pin.ts remembers per module and token which PIN logged it in.
 */
function token(): { context: TokenContext; stringLogins: unknown[][] } {
  const stringLogins: unknown[][] = [];
  const lib = { C_GetTokenInfo: () => ({ flags: 0 }), C_Login: (...args: unknown[]) => void stringLogins.push(args) };
  const token = { label: "t", manufacturer: "m", model: "x", serial: "1" };
  const slot = { handle: Buffer.from([1]), slotId: 1n, slotDescription: "", slotManufacturer: "", token, flags: 0 };
  const module = { lib, pkcs11: Pkcs11, info: { manufacturer: "m", description: "d" }, path: `/m${++tokens}.so`, directReads: undefined as boolean | undefined };
  return { context: { module, slot, session: Buffer.alloc(8, 2), generation: 0 } as unknown as TokenContext, stringLogins };
}

const supplying = (...bytes: Buffer[]): PinSupply => ({ description: "file pin", read: async () => Secret.fromBytes(bytes.shift()!) });

beforeEach(() => {
  forgetRejectedSecrets();
  native.helper = undefined;
});

describe("with raa_native", () => {
  it("C_Login gets the Secret's own Buffer (no copy, no string), zeroed right after; pkcs11js's C_Login is not called", async () => {
    const { context, stringLogins } = token();
    const pin = Buffer.from("4711-pin");
    const seen: unknown[][] = [];
    native.helper = { pkcs11Login: (...args) => (seen.push([...args, Buffer.from(args[5] as Buffer)]), 0) };
    await loginUser(context, supplying(pin));
    expect(seen).toHaveLength(1);
    const [lib, pkcs11, path, session, userType, bytes, copy] = seen[0]!;
    expect([lib, pkcs11, path, session, userType]).toEqual([context.module.lib, Pkcs11, context.module.path, context.session, 1]);
    expect(bytes).toBe(pin); // the very Buffer the Secret holds
    expect((copy as Buffer).toString()).toBe("4711-pin"); // what the module read
    expect(pin.every((b) => b === 0)).toBe(true);
    expect(stringLogins).toEqual([]);
  });

  it("a CK_RV is reported as pkcs11js's would be: CKR_PIN_INCORRECT is PIN_INCORRECT, remembered, not presented again; the PIN wiped", async () => {
    const { context } = token();
    const calls: number[] = [];
    native.helper = { pkcs11Login: (...args) => (calls.push(args[4] as number), 0xa0) };
    const pins = [Buffer.from("wrong-1"), Buffer.from("wrong-1")];
    const supply = supplying(...pins);
    await expect(loginUser(context, supply)).rejects.toMatchObject({
      code: "PIN_INCORRECT", message: 'token "t" (serial 1) rejected the PIN from file pin (CKR_PIN_INCORRECT); the token reports no retry-counter warning',
    });
    await expect(loginUser(context, supply)).rejects.toThrow(/already rejected the PIN from file pin; it was not presented again/);
    expect(calls).toEqual([1]);
    expect(pins.map((p) => p.every((b) => b === 0))).toEqual([true, true]);
  });

  it("CKR_USER_ALREADY_LOGGED_IN from it counts as logged in, as from pkcs11js", async () => {
    const { context } = token();
    native.helper = { pkcs11Login: () => 0x100 };
    await expect(loginUser(context, supplying(Buffer.from("1234")))).resolves.toBeUndefined();
  });

  it("the context-specific login goes the same way, as CKU_CONTEXT_SPECIFIC, the PIN left to its owner (RememberedPin)", () => {
    const { context, stringLogins } = token();
    const seen: unknown[] = [];
    native.helper = { pkcs11Login: (...args) => (seen.push(args[4], args[5]), 0) };
    const pin = Secret.fromUtf8("ctx-pin");
    loginContextSpecific(context, pin, "file ctx");
    expect(seen[0]).toBe(2);
    expect(pin.use((b) => [b === seen[1], b.toString()])).toEqual([true, "ctx-pin"]);
    expect(stringLogins).toEqual([]);
  });

  it("a PIN file's bytes that are not UTF-8 are presented as they are", async () => {
    const { context } = token();
    const read: string[] = [];
    native.helper = { pkcs11Login: (...args) => (read.push((args[5] as Buffer).toString("hex")), 0) };
    await loginUser(context, supplying(Buffer.from([0x31, 0xe9, 0xff])));
    expect(read).toEqual(["31e9ff"]);
  });

  it("RAA_NOT_DIRECT (a module it may not reach): pkcs11js's C_Login this time, and from then on without asking the helper", async () => {
    const { context, stringLogins } = token();
    let asked = 0;
    native.helper = {
      pkcs11Login: () => {
        asked++;
        throw Object.assign(new Error("pkcs11Login: lib must be a pkcs11js PKCS11"), { code: "RAA_NOT_DIRECT" });
      },
    };
    await loginUser(context, supplying(Buffer.from("1111")));
    await loginUser(context, supplying(Buffer.from("1111")));
    expect([asked, context.module.directReads]).toEqual([1, false]);
    expect(stringLogins).toEqual([[context.session, 1, "1111"], [context.session, 1, "1111"]]);
  });

  it("a TypeError (thrown before C_Login: a lib or session it cannot take): pkcs11js's C_Login this once, the helper asked again next time, the PIN wiped", async () => {
    const { context, stringLogins } = token();
    let asked = 0;
    native.helper = { pkcs11Login: () => { asked++; throw new TypeError("a PKCS#11 handle must be a Buffer of sizeof(CK_ULONG) bytes"); } };
    const pins = [Buffer.from("5555"), Buffer.from("5555")];
    await loginUser(context, supplying(pins[0]!));
    await loginUser(context, supplying(pins[1]!));
    expect([asked, context.module.directReads, stringLogins.length]).toEqual([2, undefined, 2]);
    expect(pins.every((p) => p.every((b) => b === 0))).toBe(true);
  });

  it("a CK_RV other than CKR_OK is never followed by pkcs11js's C_Login: the PIN reaches the token once (native-test/pkcs11-wrong-pin-tries.test.ts counts it)", async () => {
    for (const rv of [0xa0, 0xa1, 0xa2, 0x30, 0x5, 0x103, 0x80000001]) {
      const { context, stringLogins } = token();
      native.helper = { pkcs11Login: () => rv };
      await expect(loginUser(context, supplying(Buffer.from(`pin-${rv}`)))).rejects.toBeDefined();
      expect(stringLogins, `0x${rv.toString(16)}`).toEqual([]);
    }
  });

  it("any other failure of the helper is the login's failure: no second way, no retry", async () => {
    const { context, stringLogins } = token();
    native.helper = { pkcs11Login: () => { throw Object.assign(new Error("raa_native: Node-API call failed"), { code: "ENOMEM" }); } };
    await expect(loginUser(context, supplying(Buffer.from("2222")))).rejects.toMatchObject({ code: "PKCS11_ERROR" });
    expect(stringLogins).toEqual([]);
  });
});

describe("without raa_native", () => {
  it("pkcs11js's C_Login with the PIN's text, and the bytes wiped", async () => {
    const { context, stringLogins } = token();
    const pin = Buffer.from("3333");
    await loginUser(context, supplying(pin));
    expect(stringLogins).toEqual([[context.session, 1, "3333"]]);
    expect(pin.every((b) => b === 0)).toBe(true);
  });

  it("a PIN whose bytes are not UTF-8 is refused before any C_Login (it would reach the token as U+FFFD, a counted wrong try)", async () => {
    // Before: presented as "1\ufffd\ufffd", mangled.
    const { context, stringLogins } = token();
    const pin = Buffer.from([0x31, 0xe9, 0xff]);
    await expect(loginUser(context, supplying(pin))).rejects.toMatchObject({
      code: "INPUT_INVALID", message: 'the user PIN from file pin holds bytes that are not UTF-8; it was not presented to token "t" (serial 1)',
      hint: "without the native helper (raa_native) a PIN reaches the token as text: a mangled one would count as a failed try; set the token's PIN to UTF-8 text",
    });
    expect(() => loginContextSpecific(context, Secret.fromBytes(Buffer.from([0xc3])), "file ctx")).toThrow(
      'the context-specific PIN from file ctx holds bytes that are not UTF-8; it was not presented to token "t" (serial 1)',
    );
    expect(stringLogins).toEqual([]);
    expect(pin.every((b) => b === 0)).toBe(true);
  });
});
