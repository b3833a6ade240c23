/** Recognising PKCS#11 return codes in the errors pkcs11js throws, turning them into AgentErrors, or dropping them (clean-up calls). */
import { DeviceError, InputError, isAgentError, type AgentError } from "../errors.js";

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
