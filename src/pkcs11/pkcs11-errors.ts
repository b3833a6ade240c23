/** Recognising PKCS#11 return codes in the errors pkcs11js throws, turning them into AgentErrors, or dropping them (clean-up calls). */
import { DeviceError, InputError, isAgentError, type AgentError } from "../errors.js";
import { Pkcs11Error } from "./binding.js";

/** The `CKR_*` name of a pkcs11js error, or undefined for anything else. */
export function ckrName(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const match = /^(CKR_[A-Z0-9_]+)/.exec(error.message);
  return match?.[1];
}

/** `CKR_PIN_INCORRECT (0xA0)`: the way these codes are written in the PKCS#11 standard and in vendor docs. */
export function describeCkr(error: unknown): string {
  const name = ckrName(error);
  if (name === undefined) return error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" && code > 0 ? `${name} (0x${code.toString(16).toUpperCase()})` : name;
}

/**
 * Return codes meaning the session, or the handles it gave out, are gone because the token went away
 * (unplugged, re-inserted, or the module re-initialised): recovered by opening a new session.
 */
const SESSION_LOST = new Set([
  "CKR_DEVICE_REMOVED",
  "CKR_TOKEN_NOT_PRESENT",
  "CKR_TOKEN_NOT_RECOGNIZED",
  "CKR_SESSION_HANDLE_INVALID",
  "CKR_SESSION_CLOSED",
  "CKR_OBJECT_HANDLE_INVALID",
  "CKR_KEY_HANDLE_INVALID",
  "CKR_SLOT_ID_INVALID",
  "CKR_CRYPTOKI_NOT_INITIALIZED",
  "CKR_USER_NOT_LOGGED_IN",
]);

export function isSessionLost(error: unknown): boolean {
  const name = ckrName(error);
  return name !== undefined && SESSION_LOST.has(name);
}

/**
 * For clean-up calls whose failure changes nothing (shutting down, or the first error is the one to report); true
 * if it worked.
 */
export function quietly(action: () => void): boolean {
  try {
    action();
    return true;
  } catch {
    return false;
  }
}

export function pkcs11Failure(what: string, error: unknown, hint?: string): AgentError {
  if (isAgentError(error)) return error;
  return new DeviceError("PKCS11_ERROR", `${what} failed: ${describeCkr(error)}`, { cause: error, ...(hint ? { hint } : {}) });
}

/** Several objects or tokens match where one was needed; the message lists the candidates' full URIs (20 at most). */
export class Pkcs11AmbiguousError extends InputError {
  readonly candidates: readonly string[];

  constructor(what: string, candidates: readonly string[], hint: string) {
    const more = candidates.length > 20 ? [`… and ${candidates.length - 20} more`] : [];
    super("PKCS11_AMBIGUOUS", `${what}:\n  ${[...candidates.slice(0, 20), ...more].join("\n  ")}`, { hint });
    this.candidates = candidates;
  }
}

/** Names of the return codes a C_GetAttributeValue answers with (PKCS#11 v2.40 §5.1.5, §5.7), by code. */
const CKR_NAMES: Readonly<Record<number, string>> = {
  0x2: "CKR_HOST_MEMORY", 0x3: "CKR_SLOT_ID_INVALID", 0x5: "CKR_GENERAL_ERROR", 0x6: "CKR_FUNCTION_FAILED",
  0x7: "CKR_ARGUMENTS_BAD", 0x11: "CKR_ATTRIBUTE_SENSITIVE", 0x12: "CKR_ATTRIBUTE_TYPE_INVALID",
  0x30: "CKR_DEVICE_ERROR", 0x31: "CKR_DEVICE_MEMORY", 0x32: "CKR_DEVICE_REMOVED", 0x60: "CKR_KEY_HANDLE_INVALID",
  0x82: "CKR_OBJECT_HANDLE_INVALID", 0xb0: "CKR_SESSION_CLOSED", 0xb3: "CKR_SESSION_HANDLE_INVALID",
  0xe0: "CKR_TOKEN_NOT_PRESENT", 0xe1: "CKR_TOKEN_NOT_RECOGNIZED", 0x101: "CKR_USER_NOT_LOGGED_IN",
  0x150: "CKR_BUFFER_TOO_SMALL", 0x190: "CKR_CRYPTOKI_NOT_INITIALIZED",
};

/** A return code a module gave outside pkcs11js (raa_native's pkcs11Attributes), as pkcs11js would have thrown it. */
export function returnCodeError(rv: number): Pkcs11Error {
  return new Pkcs11Error(CKR_NAMES[rv] ?? (rv >= 0x80000000 ? "CKR_VENDOR_DEFINED" : "CKR_UNKNOWN"), rv);
}
