/**
 * Where the token PIN comes from and how it is presented. A PIN is wiped right after C_Login, except one needed for every
 * signature (CKA_ALWAYS_AUTHENTICATE); a rejected PIN is reported once, with the retry counters, and never presented again.
 */
import { isUtf8 } from "node:buffer";
import { AuthError, DeviceError, InputError, type AgentError } from "../errors.js";
import {
  aboutToUseSecret, describeSecretSource, localPathOfFileUri, promptFor, readSecret, type SecretSource,
} from "../secrets/secret-source.js";
import { Secret } from "../secrets/secret.js";
import { rememberRejected, secretDigest, wasRejected } from "../secrets/rejected-secrets.js";
import type { TokenContext } from "./objects.js";
import { ckrName, pkcs11Failure } from "./pkcs11-errors.js";
import { currentTokenFlags, describeToken, hasPinPad, tokensAreFiles, type TokenSlot } from "./slots.js";
import { fieldBytes } from "./token-identity.js";
import { initPinCommand, tokenFamily, unblockHint } from "./unblock-hint.js";
import type { Pkcs11UriPin } from "./uri.js";
import { CKF, CKU } from "./constants.js";
import { pkcs11ErrorOf } from "./binding.js";
import { directCall } from "./module-loader.js";

export interface PinSupply {
  /** Where the PIN comes from, for messages (never the PIN). */
  readonly description: string;
  /** A fresh copy the caller owns and must wipe. */
  read(): Promise<Secret>;
}

export function pinFromUri(pin: Pkcs11UriPin): PinSupply {
  if (pin.kind === "value") {
    const read = async () => {
      aboutToUseSecret();
      return pin.value.clone();
    };
    return { description: "pin-value in the URI", read };
  }
  const path = pinSourcePath(pin.source);
  return { description: `pin-source file ${path}`, read: () => readSecret({ kind: "file", path }, "the URI's pin-source") };
}

/** RFC 7512 leaves pin-source's form to the application: a file path or a file: URI here. */
export function pinSourcePath(source: string): string {
  const hint = "give a file path or a file: URI, e.g. pin-source=file:/run/secrets/token-pin";
  if (source.startsWith("file://")) {
    const path = localPathOfFileUri(source);
    if (path === undefined) throw new InputError("PKCS11_URI_INVALID", `pin-source=${source} names no local file (another host, or an encoded /)`, { hint });
    return path;
  }
  if (source.startsWith("file:")) return source.slice(5);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(source)) {
    throw new InputError("PKCS11_URI_INVALID", `pin-source=${source.split(":")[0]}:… is not supported`, { hint });
  }
  return source;
}

/** A SecretSource from the command line or config (`--pkcs11-pin-file`, `-env`, …). */
export function pinFromSource(
  source: SecretSource, what: string, env: NodeJS.ProcessEnv, signal?: AbortSignal,
): PinSupply {
  return { description: describeSecretSource(source), read: () => readSecret(source, what, env, signal) };
}

export function givenUserPin(
  uriPin: Pkcs11UriPin | undefined, source: SecretSource | undefined, what: string, env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): PinSupply | undefined {
  if (uriPin) return pinFromUri(uriPin);
  return source ? pinFromSource(source, what, env, signal) : undefined;
}

/**
 * Where the user PIN comes from when none is given: a prompt, or none at all on a token with a PIN pad. `give`: the
 * options that give it, as the caller names them (flags or options).
 */
export function userPinPrompt(
  slot: TokenSlot, prompt: boolean | undefined, give: string, signal?: AbortSignal,
): PinSupply | undefined {
  if (hasPinPad(slot)) return undefined;
  const token = describeToken(slot.token);
  const source = promptFor(`User PIN for ${token}: `, `the user PIN of ${token}`, prompt, "pkcs11.pin");
  const what = `the user PIN of ${token} (give it with ${give})`;
  return pinFromSource(source, what, process.env, signal);
}

/** Reads its source once and hands out copies until wiped: for PINs needed on every signature. */
export class RememberedPin implements PinSupply {
  #secret: Secret | undefined;

  constructor(private readonly source: PinSupply) {}

  get description(): string {
    return this.source.description;
  }

  async read(): Promise<Secret> {
    this.#secret ??= await this.source.read();
    return this.#secret.clone();
  }

  /** The remembered PIN, for the synchronous signing path; undefined until read() has run once. */
  peek(): Secret | undefined {
    return this.#secret;
  }

  wipe(): void {
    this.#secret?.wipe();
    this.#secret = undefined;
  }
}

/** Per token, the keyed digest of the PIN that logged this process in: a token logged in takes any PIN. */
const loggedInWith = new Map<string, string>();

/**
 * C_Login(CKU_USER). With no PIN supply and a PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH), the token asks
 * for the PIN itself. "Already logged in" (another session of this process did it) counts as success, unless
 * that login was made with another PIN.
 */
export async function loginUser(context: TokenContext, supply: PinSupply | undefined): Promise<void> {
  refuseLockedPin(context);
  if (supply === undefined && !hasPinPad(context.slot)) throw new Error("loginUser needs a PIN supply");
  const lib = context.module.lib;
  const pin = await supply?.read();
  let seen: string | undefined;
  try {
    if (pin && supply) refuseEmptyPin(context, pin, supply.description);
    seen = pin && supply ? refuseRejectedPin(context, pin, supply.description) : undefined;
  } catch (error) {
    pin?.wipe();
    throw error;
  }
  let presented = true;
  try {
    if (pin) presented = presentPin(context, CKU.USER, pin);
    else lib.C_Login(context.session, CKU.USER);
  } catch (error) {
    if (ckrName(error) === "CKR_USER_ALREADY_LOGGED_IN") {
      const before = loggedInWith.get(tokenKey(context));
      if (!seen || !before || before === seen) return;
      const token = describeToken(context.slot.token);
      throw new AuthError("PIN_INCORRECT", `${token} is logged in with another PIN than the one from ${supply?.description}`, {
        hint: "fix the PIN there (another signer of this process keeps the token logged in, so it was not checked); if the token's PIN was changed to this one, restart",
      });
    }
    const failure = loginFailure(context, error, supply?.description ?? "the PIN entered on the PIN pad");
    throw seen && supply ? rememberFailure(context, failure, error, seen, supply.description) : failure;
  } finally {
    pin?.wipe();
  }
  if (!presented) throw notUtf8(context, supply!.description);
  // The PIN pad's PIN is not known: a PIN that logged in before says nothing of it.
  if (seen) loggedInWith.set(tokenKey(context), seen);
  else loggedInWith.delete(tokenKey(context));
  if (supply) context.debug?.(`pkcs11: logged in to ${describeToken(context.slot.token)} with the PIN from ${supply.description}`);
}

/**
 * C_Login(CKU_CONTEXT_SPECIFIC) between C_SignInit and C_Sign, for CKA_ALWAYS_AUTHENTICATE keys. `pin`: the one
 * remembered for every signature (RememberedPin.peek), wiped here once the token rejects it: it is never presented
 * again, and the signer, which then fails every call as this one, would keep it until closed.
 */
export function loginContextSpecific(context: TokenContext, pin: Secret, description: string): void {
  refuseEmptyPin(context, pin, description, "context-specific ");
  const seen = refuseRejectedPin(context, pin, description, "context-specific ");
  let presented: boolean;
  try {
    presented = presentPin(context, CKU.CONTEXT_SPECIFIC, pin);
  } catch (error) {
    const failure = loginFailure(context, error, description, "context-specific ");
    if (rejectedAsWrong(failure, error)) pin.wipe();
    throw rememberFailure(context, failure, error, seen, description, "context-specific ");
  }
  if (!presented) throw notUtf8(context, description, "context-specific ");
}

/**
 * C_Login with `pin`'s own bytes: through raa_native's pkcs11Login, a pointer into them (the caller wipes them). Without
 * the helper, or for a module it may not reach (RAA_NOT_DIRECT, remembered as for reads), pkcs11js's C_Login, which
 * takes only a string: one V8 cannot wipe, and pkcs11js copies it into memory it frees unwiped, so a long-running
 * process keeps the PIN in its heap until overwritten. That path takes UTF-8 only: other bytes would reach the token as
 * U+FFFD, a wrong PIN that costs a try; false then, nothing presented. A failed call throws as pkcs11js throws it.
 */
function presentPin(context: TokenContext, userType: number, pin: Secret): boolean {
  return pin.use((bytes) => {
    const { module } = context;
    // Undefined: nothing presented (directCall).
    const rv = directCall(module, (helper) => helper.pkcs11Login?.(module.lib, module.pkcs11, module.path, context.session, userType, bytes));
    if (rv !== undefined) {
      if (rv !== CKR_OK) throw pkcs11ErrorOf(rv);
      return true;
    }
    if (!isUtf8(bytes)) return false;
    module.lib.C_Login(context.session, userType, bytes.toString("utf8"));
    return true;
  });
}

const CKR_OK = 0;

/** A PIN whose bytes are not UTF-8, which pkcs11js cannot present as they are (presentPin). */
function notUtf8(context: TokenContext, source: string, kind = "user "): InputError {
  const token = describeToken(context.slot.token);
  return new InputError("INPUT_INVALID", `the ${kind}PIN from ${source} holds bytes that are not UTF-8; it was not presented to ${token}`, {
    hint: "without the native helper (raa_native) a PIN reaches the token as text: a mangled one would count as a failed try; set the token's PIN to UTF-8 text",
  });
}

/** An empty PIN is never a PIN the user meant (an empty file or variable): presented, it would cost a try. */
function refuseEmptyPin(context: TokenContext, pin: Secret, source: string, kind = "user "): void {
  if (!pin.isEmpty) return;
  const token = describeToken(context.slot.token);
  const message = `the ${kind}PIN from ${source} is empty; it was not presented to ${token}`;
  throw new InputError("PASSWORD_REQUIRED", message, {
    hint: "give the PIN there: an empty one would only count as a failed try on the token",
  });
}

/**
 * A PIN a token rejected is not presented to it again by this process (why: rejected-secrets.ts). Returns the PIN's
 * digest, to remember should the token reject it now.
 */
function refuseRejectedPin(context: TokenContext, pin: Secret, source: string, kind = ""): string {
  const seen = secretDigest([kind, tokenKey(context)], pin);
  const rejection = wasRejected(seen);
  if (!rejection) return seen;
  const token = describeToken(context.slot.token);
  if (rejection === "unanswered") {
    const message = `${token} did not answer when the ${kind}PIN from ${source} was presented; it was not presented again`;
    throw new DeviceError("PKCS11_ERROR", message, { hint: UNANSWERED_HINT });
  }
  const again = `already rejected the ${kind}PIN from ${source}; it was not presented again`;
  throw new AuthError("PIN_INCORRECT", `${token} ${again}`, {
    hint: "fix the PIN there; if the token's PIN was changed to this one, restart (a reload refuses it too)",
  });
}

/** A token by its serial's and label's bytes: `caf\xe9` and `caf\xff`, both `caf\ufffd` as text, are two tokens. */
const tokenKey = ({ module, slot }: TokenContext) => [module.path, fieldBytes(slot.token, "serial").toString("hex"), fieldBytes(slot.token, "label").toString("hex")].join("\0");

/** Whether the token refused the PIN as wrong (a try on its counter); an expired PIN is the right one. */
function rejectedAsWrong(failure: Error, error: unknown): boolean {
  return failure instanceof AuthError && failure.code === "PIN_INCORRECT" && ckrName(error) !== "CKR_PIN_EXPIRED";
}

/** C_Login failures after which the token may have checked the PIN, and counted it if wrong (a key pulled meanwhile). */
const OUTCOME_UNKNOWN = new Set(["CKR_DEVICE_ERROR", "CKR_DEVICE_REMOVED", "CKR_TOKEN_NOT_PRESENT", "CKR_FUNCTION_FAILED", "CKR_GENERAL_ERROR"]);
const UNANSWERED_HINT = "a wrong PIN may have counted on the token's retry counter: check the token (re-insert it), then restart";

/** Remembers a PIN the token rejected, or may have counted: the failure, as the user sees it. */
function rememberFailure(
  context: TokenContext, failure: AgentError, error: unknown, seen: string, source: string, kind = "",
): AgentError {
  if (rejectedAsWrong(failure, error)) rememberRejected(seen);
  const name = ckrName(error);
  if (name === undefined || !OUTCOME_UNKNOWN.has(name) || failedBeforePin(context, name)) return failure;
  rememberRejected(seen, "unanswered");
  const message = `${failure.message}, after the ${kind}PIN from ${source} was presented; it is not presented again`;
  return new DeviceError("PKCS11_ERROR", message, { cause: error, hint: UNANSWERED_HINT });
}

/** A PIN the token already reports as blocked is not presented: that could only fail, or worse. */
function refuseLockedPin(context: TokenContext): void {
  const flags = currentTokenFlags(context.module, context.slot) ?? context.slot.flags;
  if (flags & CKF.USER_PIN_LOCKED) {
    throw new AuthError("PIN_LOCKED", `the user PIN of ${describeToken(context.slot.token)} is blocked (CKF_USER_PIN_LOCKED); it was not presented`, {
      hint: unblockHintFor(context),
    });
  }
}

function unblockHintFor(context: TokenContext): string {
  return unblockHint(tokenFamily(context.slot, context.module.info), { label: context.slot.token.label, slotId: context.slot.slotId, modulePath: context.module.path });
}

function loginFailure(context: TokenContext, error: unknown, source: string, kind = ""): AgentError {
  const name = ckrName(error);
  const token = describeToken(context.slot.token);
  if (name === "CKR_PIN_INCORRECT" || name === "CKR_PIN_INVALID" || name === "CKR_PIN_LEN_RANGE") {
    const flags = currentTokenFlags(context.module, context.slot);
    const nowLocked = flags !== undefined && (flags & CKF.USER_PIN_LOCKED) !== 0;
    return new AuthError("PIN_INCORRECT", `${token} rejected the ${kind}PIN from ${source} (${name}); ${describePinFlags(flags)}`, {
      cause: error,
      hint: nowLocked
        ? `that was the last try: ${unblockHintFor(context)}`
        : "it was tried once and will not be tried again, so that the token does not lock; fix the PIN and run again",
    });
  }
  if (name === "CKR_PIN_LOCKED") {
    return new AuthError("PIN_LOCKED", `the ${kind}PIN of ${token} is blocked (CKR_PIN_LOCKED)`, {
      cause: error,
      hint: unblockHintFor(context),
    });
  }
  if (name === "CKR_PIN_EXPIRED") {
    return new AuthError("PIN_INCORRECT", `the ${kind}PIN of ${token} has expired (CKR_PIN_EXPIRED)`, {
      cause: error,
      hint: "change it with the token's tools (e.g. pkcs11-tool --change-pin)",
    });
  }
  if (failedBeforePin(context, name)) {
    return pkcs11Failure(`${kind === "" ? "C_Login" : "C_Login (context-specific)"} on ${token}`, error,
      "the module keeps its tokens in files, and another process logging in at the same moment may have been "
        + "rewriting this one: try again (C_Login is never repeated by itself)");
  }
  if (name === "CKR_USER_PIN_NOT_INITIALIZED") {
    const initPin = initPinCommand({ label: context.slot.token.label, slotId: context.slot.slotId, modulePath: context.module.path });
    return pkcs11Failure(`C_Login on ${token}`, error, `its user PIN was never set: set one as the security officer (\`${initPin}\`)`);
  }
  return pkcs11Failure(`${kind === "" ? "C_Login" : "C_Login (context-specific)"} on ${token}`, error);
}

/**
 * SoftHSM rewrites the token's file at every C_Login: one at the same moment in another process can make this one fail
 * before the PIN is checked (the token then looks blank), with a false or no hint.
 */
function failedBeforePin(context: TokenContext, name: string | undefined): boolean {
  const listedWithPin = (context.slot.flags & CKF.USER_PIN_INITIALIZED) !== 0;
  const beforePin = name === "CKR_GENERAL_ERROR" || (name === "CKR_USER_PIN_NOT_INITIALIZED" && listedWithPin);
  return beforePin && tokensAreFiles(context.module);
}

/** What CK_TOKEN_INFO.flags say about the PIN retry counter, in words. */
export function describePinFlags(flags: number | undefined): string {
  if (flags === undefined) return "the token's retry counter could not be read";
  if (flags & CKF.USER_PIN_LOCKED) return "the token now reports the PIN as locked (CKF_USER_PIN_LOCKED)";
  if (flags & CKF.USER_PIN_FINAL_TRY) return "the token reports one try left before the PIN locks (CKF_USER_PIN_FINAL_TRY)";
  if (flags & CKF.USER_PIN_COUNT_LOW) return "the token reports failed tries on its counter, more than one try left (CKF_USER_PIN_COUNT_LOW)";
  return "the token reports no retry-counter warning";
}

