/**
 * pkcs11js's native addon (build/Release/pkcs11.node) with the two things its JavaScript wrapper (index.js) adds
 * that this project relies on: return-code errors as `CKR_NAME` with a numeric `code`, and output buffers cut to
 * the length the token wrote. index.js itself is not loaded: it copies the addon's ~660 constants into its exports
 * with an object spread, which V8 builds one property and one hidden class at a time — ~14 M instructions and a
 * young-generation collection on every cold `credential-process` with a token key (~7 % of it), for constants this
 * project declares itself (constants.ts). Its callback and promise variants are not offered.
 */
import type { PKCS11 } from "pkcs11js";

/** The host's byte order, in which the addon hands over handles and CK_ULONG attribute values. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A CK_ULONG (a slot handle, CKA_CLASS, CKA_KEY_TYPE, …) from its 4 or 8 bytes; undefined for any other length. */
export function ckUlong(bytes: Buffer, littleEndian = HOST_LITTLE_ENDIAN): bigint | undefined {
  if (bytes.length === 8) return littleEndian ? bytes.readBigUInt64LE(0) : bytes.readBigUInt64BE(0);
  if (bytes.length === 4) return BigInt(littleEndian ? bytes.readUInt32LE(0) : bytes.readUInt32BE(0));
  return undefined;
}

/** What the addon exports (the constants aside). */
export interface Pkcs11Addon {
  readonly PKCS11: new () => object;
}

/** A failed call: the return code's name as the message, as pkcs11js's own wrapper reported it. */
export class Pkcs11Error extends Error {
  override readonly name = "Pkcs11Error";

  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/**
 * Names of the return codes C_GetAttributeValue and C_Login answer with (PKCS#11 v2.40 §5.1.5, §5.6, §5.7; C_Login's
 * PIN codes as tokens give them: CKR_PIN_INVALID, CKR_PIN_LEN_RANGE, CKR_PIN_EXPIRED), by code.
 */
const CKR_NAMES: Readonly<Record<number, string>> = {
  0x2: "CKR_HOST_MEMORY", 0x3: "CKR_SLOT_ID_INVALID", 0x5: "CKR_GENERAL_ERROR", 0x6: "CKR_FUNCTION_FAILED",
  0x7: "CKR_ARGUMENTS_BAD", 0x11: "CKR_ATTRIBUTE_SENSITIVE", 0x12: "CKR_ATTRIBUTE_TYPE_INVALID",
  0x30: "CKR_DEVICE_ERROR", 0x31: "CKR_DEVICE_MEMORY", 0x32: "CKR_DEVICE_REMOVED", 0x50: "CKR_FUNCTION_CANCELED",
  0x54: "CKR_FUNCTION_NOT_SUPPORTED", 0x60: "CKR_KEY_HANDLE_INVALID", 0x82: "CKR_OBJECT_HANDLE_INVALID",
  0x91: "CKR_OPERATION_NOT_INITIALIZED", 0xa0: "CKR_PIN_INCORRECT", 0xa1: "CKR_PIN_INVALID", 0xa2: "CKR_PIN_LEN_RANGE",
  0xa3: "CKR_PIN_EXPIRED", 0xa4: "CKR_PIN_LOCKED", 0xb0: "CKR_SESSION_CLOSED", 0xb3: "CKR_SESSION_HANDLE_INVALID",
  0xb7: "CKR_SESSION_READ_ONLY_EXISTS", 0xe0: "CKR_TOKEN_NOT_PRESENT", 0xe1: "CKR_TOKEN_NOT_RECOGNIZED",
  0x100: "CKR_USER_ALREADY_LOGGED_IN", 0x101: "CKR_USER_NOT_LOGGED_IN", 0x102: "CKR_USER_PIN_NOT_INITIALIZED",
  0x103: "CKR_USER_TYPE_INVALID", 0x104: "CKR_USER_ANOTHER_ALREADY_LOGGED_IN", 0x105: "CKR_USER_TOO_MANY_TYPES",
  0x150: "CKR_BUFFER_TOO_SMALL", 0x190: "CKR_CRYPTOKI_NOT_INITIALIZED",
};

/** A return code a module gave outside pkcs11js (raa_native's pkcs11Attributes, pkcs11Login), as pkcs11js would have thrown it. */
export function pkcs11ErrorOf(rv: number): Pkcs11Error {
  return new Pkcs11Error(CKR_NAMES[rv] ?? (rv >= 0x80000000 ? "CKR_VENDOR_DEFINED" : "CKR_UNKNOWN"), rv);
}

/**
 * The functions that write into a caller's buffer and return the length written, with that buffer's argument
 * index: they return the written part of the buffer instead.
 */
const OUTPUT_ARGUMENT: Readonly<Record<string, number>> = {
  C_Digest: 2,
  C_Sign: 2,
  C_Encrypt: 2,
  C_Decrypt: 2,
  C_DigestFinal: 1,
  C_SignFinal: 1,
  C_EncryptFinal: 1,
  C_DecryptFinal: 1,
  C_EncryptUpdate: 2,
  C_DecryptUpdate: 2,
  C_SignRecover: 2,
  C_VerifyRecover: 2,
  C_WrapKey: 4,
  C_DigestEncryptUpdate: 2,
  C_DecryptDigestUpdate: 2,
  C_SignEncryptUpdate: 2,
  C_DecryptVerifyUpdate: 2,
};

/** The PKCS11 class over `addon`: each `C_*` function with typed return-code errors. */
export function pkcs11Class(addon: Pkcs11Addon): new () => PKCS11 {
  const native = addon.PKCS11;
  const base = native.prototype as Record<string, unknown>;
  class Pkcs11 extends native {}
  for (const name of Object.getOwnPropertyNames(base)) {
    const call = base[name];
    if (!name.startsWith("C_") || name.endsWith("Callback") || typeof call !== "function") continue;
    const output = OUTPUT_ARGUMENT[name];
    // C_FindObjects without a count: the one handle found, or null.
    const single = name === "C_FindObjects";
    const wrapped = function (this: object, ...args: unknown[]): unknown {
      try {
        if (single && args.length < 2) return (call.apply(this, [...args, 1]) as unknown[])[0] ?? null;
        const result: unknown = call.apply(this, args);
        return output === undefined || typeof result !== "number" ? result : (args[output] as Buffer).subarray(0, result);
      } catch (error) {
        throw returnCodeError(error);
      }
    };
    Object.defineProperty(Pkcs11.prototype, name, { value: wrapped, writable: true, configurable: true });
  }
  return Pkcs11 as unknown as new () => PKCS11;
}

/**
 * The addon throws `Error("CKR_PIN_INCORRECT:160")` for a return code other than CKR_OK (the name, a colon, the
 * code in decimal), TypeErrors for bad arguments, and plain Errors for anything else. Read from the message, never
 * the stack: formatting a stack with a frame in a large bundle makes V8 build that file's line table (~7 M).
 * Anything else thrown (a value without a string form, too) becomes an Error that says what it was.
 */
function returnCodeError(error: unknown): unknown {
  if (!(error instanceof Error)) {
    const what = typeof error === "string" ? `"${error}"` : `a value of type ${typeof error}`;
    return new Error(`the module threw ${what}`);
  }
  if (error instanceof TypeError || !error.message.startsWith("CKR_")) return error;
  const colon = error.message.indexOf(":");
  const code = colon > 0 ? Number(error.message.slice(colon + 1)) : NaN;
  return Number.isInteger(code) ? new Pkcs11Error(error.message.slice(0, colon), code) : error;
}
