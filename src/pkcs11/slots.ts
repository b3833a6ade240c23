/** Slots with a token present, their identity, and how a URI's token/slot/library attributes select them. */
import { isUtf8 } from "node:buffer";
import { setTimeout as delay } from "node:timers/promises";
import { DeviceError, escapeQuoted, shellWord } from "../errors.js";
import { ckUlong } from "./binding.js";
import { CKF } from "./constants.js";
import type { DebugLog } from "../debug-log.js";
import { directCall, labelKnown, unpad, type LibraryInfo, type Pkcs11Module } from "./module-loader.js";
import { ckrName, describeCkr, Pkcs11AmbiguousError, pkcs11Failure } from "./pkcs11-errors.js";
import { fieldBytes, type TokenFieldBytes, type TokenFieldName, type TokenIdentity } from "./token-identity.js";
import { tokenFamily } from "./unblock-hint.js";
import { formatPkcs11Uri, trailingBlanksStart, withoutQuery, type Pkcs11Uri, type TokenField } from "./uri.js";


export interface TokenSlot {
  readonly handle: Buffer;
  readonly slotId: bigint;
  readonly slotDescription: string;
  readonly slotManufacturer: string;
  readonly token: TokenIdentity;
  /** CK_TOKEN_INFO.flags when the slot was listed. */
  readonly flags: number;
}

/** C_GetSlotList's return codes that mean "no token (yet)"; any other failure is the module's, not an absent token. */
const NO_TOKEN_YET = new Set(["CKR_TOKEN_NOT_PRESENT", "CKR_DEVICE_REMOVED"]);

/** C_GetSlotInfo's and C_GetTokenInfo's: the token (or its reader) went since C_GetSlotList, or is none this module reads. */
const TOKEN_GONE = new Set([...NO_TOKEN_YET, "CKR_SLOT_ID_INVALID", "CKR_TOKEN_NOT_RECOGNIZED"]);

/** Listings of a module whose tokens are files, while a URI in `wanted` matches none, and the pause between them. */
const FILE_TOKEN_LISTINGS = 4;
const FILE_TOKEN_PAUSE_MS = 100;

/**
 * Every slot with an initialised token, once; slots whose token went meanwhile (tokenGone) are skipped. Any other
 * failure to read a slot is thrown, naming it: that token may be the one asked for, and another must not be chosen.
 * A C_GetSlotList failure other than NO_TOKEN_YET is thrown: --wait-for-device must not wait it out.
 * A module whose tokens are files (SoftHSM) rewrites a token's file at every C_Login: another process listing
 * then may find it blank or unreadable. While a URI in `wanted` matches no token, or a token of it could not be read
 * (CKR_GENERAL_ERROR: that one may be the token a URI without token= meant), such a module is listed again
 * (listing costs no PIN try; C_Login is never repeated), FILE_TOKEN_LISTINGS times at most, pausing on a timer:
 * a daemon (serve, agent) answers its other requests meanwhile.
 */
export async function listTokenSlots(
  module: Pkcs11Module, debug?: DebugLog, wanted: readonly (Pkcs11Uri | undefined)[] = [],
): Promise<TokenSlot[]> {
  for (let listing = 1; ; listing++) {
    const [slots, unread] = listSlotsOnce(module, debug);
    const missing = wanted.some((uri) => uri && !slots.some((slot) => slotMatches(uri, slot, module.info)));
    // A token skipped mid-rewrite may be the one a URI without token= meant: the one left would be taken (its PIN
    // presented to the other token, or the other's key of the same label used) where the URI matched it, or two.
    const another = unread > 0 && wanted.some((uri) => uri !== undefined);
    if (!(missing || another) || listing === FILE_TOKEN_LISTINGS || !tokensAreFiles(module)) return slots;
    const why = missing ? "no token matches yet" : "a token could not be read (another process may be rewriting it)";
    debug?.(`pkcs11: ${why}; listing the slots again (${listing} of ${FILE_TOKEN_LISTINGS - 1})`);
    await delay(FILE_TOKEN_PAUSE_MS);
  }
}

/** SoftHSM keeps each token in files, and tpm2-pkcs11 in an SQLite store, that other processes rewrite. */
export function tokensAreFiles(module: Pkcs11Module): boolean {
  const anyToken = { token: { label: "", manufacturer: "", model: "", serial: "" }, slotDescription: "" };
  const family = tokenFamily(anyToken, module.info); // by the module alone
  return family === "softhsm" || family === "tpm2-pkcs11";
}

/** The slots, and how many were skipped as their token's files being rewritten (tokenGone's CKR_GENERAL_ERROR). */
function listSlotsOnce(module: Pkcs11Module, debug?: DebugLog): [TokenSlot[], number] {
  let handles: Buffer[];
  try {
    handles = module.lib.C_GetSlotList(true);
  } catch (error) {
    debug?.(`pkcs11: C_GetSlotList failed: ${describeCkr(error)}`);
    if (NO_TOKEN_YET.has(ckrName(error) ?? "")) return [[], 0];
    const hint = "check the module's own configuration and logs; a smart-card module needs pcscd running";
    throw pkcs11Failure(`listing the slots of the PKCS#11 module ${module.path}`, error, hint);
  }
  const slots: TokenSlot[] = [];
  let unread = 0;
  const seen = new Set<string>(); // a module that lists a slot twice: one token, not two that nothing tells apart
  for (const handle of handles) {
    if (seen.has(handle.toString("hex"))) continue;
    seen.add(handle.toString("hex"));
    try {
      const slotInfo = module.lib.C_GetSlotInfo(handle);
      const tokenInfo = module.lib.C_GetTokenInfo(handle);
      if ((tokenInfo.flags & CKF.TOKEN_INITIALIZED) === 0) {
        debug?.(`pkcs11: skipping slot ${slotIdOf(handle)}: its token is not initialised`);
        continue;
      }
      const bytes = tokenFieldBytes(module, handle);
      slots.push({
        handle,
        slotId: slotIdOf(handle),
        slotDescription: unpad(slotInfo.slotDescription),
        slotManufacturer: unpad(slotInfo.manufacturerID),
        token: {
          label: unpad(tokenInfo.label),
          manufacturer: unpad(tokenInfo.manufacturerID),
          model: unpad(tokenInfo.model),
          serial: unpad(tokenInfo.serialNumber),
          ...(bytes ? { bytes } : {}),
        },
        flags: tokenInfo.flags,
      });
    } catch (error) {
      if (!tokenGone(module, error)) throw unreadableSlot(module, handle, error);
      if (ckrName(error) === "CKR_GENERAL_ERROR") unread++;
      debug?.(`pkcs11: skipping slot ${slotIdOf(handle)}: ${describeCkr(error)}`);
    }
  }
  return [slots, unread];
}

/**
 * TOKEN_GONE, and CKR_GENERAL_ERROR from a module whose tokens are files: SoftHSM's answer for a token whose files were
 * removed (or are being rewritten by another process's login, which the listing again in listTokenSlots waits out).
 */
function tokenGone(module: Pkcs11Module, error: unknown): boolean {
  const name = ckrName(error) ?? "";
  return TOKEN_GONE.has(name) || (name === "CKR_GENERAL_ERROR" && tokensAreFiles(module));
}

function unreadableSlot(module: Pkcs11Module, handle: Buffer, error: unknown) {
  return pkcs11Failure(`reading the token in slot ${slotIdOf(handle)} of the PKCS#11 module ${module.path}`, error,
    "no token was chosen, as this one might be the one asked for: check that token (re-insert it) and the module's logs");
}

/**
 * The token's fields as the module wrote them, read by raa_native's pkcs11TokenInfo, when one is not UTF-8 or holds
 * U+FFFD (else the text pkcs11js gave says it all; its U+FFFD may stand for a byte it dropped, these bytes say it is the
 * token's own). Undefined without the helper, for a module it may not reach (RAA_NOT_DIRECT, remembered as for reads
 * and logins), for a lib it cannot take (a TypeError: a stand-in), or when the call fails (the token going: pkcs11js's
 * call just succeeded).
 */
function tokenFieldBytes(module: Pkcs11Module, handle: Buffer): TokenFieldBytes | undefined {
  const info = directCall(module, (helper) => helper.pkcs11TokenInfo?.(module.lib, module.pkcs11, module.path, handle));
  if (info === undefined || typeof info === "number") return undefined;
  const bytes = { label: unpadBytes(info.label), manufacturer: unpadBytes(info.manufacturerID), model: unpadBytes(info.model), serial: unpadBytes(info.serialNumber) };
  return Object.values(bytes).every((field) => isUtf8(field) && !field.includes(REPLACEMENT)) ? undefined : Object.freeze(bytes);
}

/** U+FFFD in UTF-8: pkcs11js's text for a byte that is not UTF-8, or the label's own character. */
const REPLACEMENT = Buffer.from("\ufffd", "utf8");

/** {@link unpad} for bytes: cut at a NUL, without trailing blanks. */
function unpadBytes(field: Buffer): Buffer {
  const nul = field.indexOf(0);
  const cut = nul < 0 ? field : field.subarray(0, nul);
  return Buffer.from(cut.subarray(0, trailingBlanksStart(cut)));
}

export function currentTokenFlags(module: Pkcs11Module, slot: TokenSlot): number | undefined {
  try {
    return module.lib.C_GetTokenInfo(slot.handle).flags;
  } catch {
    return undefined;
  }
}

function slotIdOf(handle: Buffer): bigint {
  return ckUlong(handle) ?? 0n;
}

/** Whether the URI's token, slot and library attributes all agree with this slot (absent ones match). */
export function slotMatches(uri: Pkcs11Uri, slot: TokenSlot, library: LibraryInfo): boolean {
  // The token's fields by their bytes: `token=caf%E9` is the label caf\xe9, not caf\xff (both caf\ufffd as text).
  const fields: [TokenField | undefined, TokenFieldName][] = [[uri.token, "label"], [uri.manufacturer, "manufacturer"], [uri.model, "model"], [uri.serial, "serial"]];
  if (fields.some(([wanted, field]) => wanted !== undefined && !fieldBytes(slot.token, field).equals(typeof wanted === "string" ? Buffer.from(wanted, "utf8") : wanted))) return false;
  const checks: [string | bigint | undefined, string | bigint][] = [
    [uri.slotId, slot.slotId],
    [uri.slotDescription, slot.slotDescription],
    [uri.slotManufacturer, slot.slotManufacturer],
    [uri.libraryManufacturer, library.manufacturer],
    [uri.libraryDescription, library.description],
  ];
  if (checks.some(([wanted, actual]) => wanted !== undefined && wanted !== actual)) return false;
  const v = uri.libraryVersion;
  return v === undefined || (v.major === library.version.major && v.minor === library.version.minor);
}

/**
 * The URI naming this slot's token (no slot-id: SoftHSM and PC/SC renumber slots). A field whose bytes are not UTF-8
 * (Latin-1 `caf\xe9`) by those bytes, when raa_native read them (`token=caf%E9`: p11-kit finds it too), and so one whose
 * UTF-8 holds U+FFFD (`token=caf%EF%BF%BD`); without the helper, a field with U+FFFD is left out: pkcs11js writes it for
 * bytes that are not UTF-8, and `token=caf%EF%BF%BD` would name a label the token may not have.
 */
export function tokenUri(slot: Pick<TokenSlot, "token">): Pkcs11Uri {
  const { token } = slot;
  const field = (name: TokenFieldName): TokenField | undefined => token.bytes?.[name] ?? (labelKnown(token[name]) ? token[name] : undefined);
  const fields = { token: field("label"), manufacturer: field("manufacturer"), model: field("model"), serial: field("serial") };
  return Object.freeze(Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)));
}

/** CKF_PROTECTED_AUTHENTICATION_PATH: the PIN is entered on the reader's PIN pad, not given by us. */
export function hasPinPad(slot: TokenSlot): boolean {
  return (slot.flags & CKF.PROTECTED_AUTHENTICATION_PATH) !== 0;
}

/** The one slot the URI selects among `slots`, else "no token matches" or the list of the matching tokens. */
export function onlyMatchingSlot(
  uri: Pkcs11Uri, slots: readonly TokenSlot[], module: Pkcs11Module, hint: string, preferred?: TokenSlot,
): TokenSlot {
  const matching = slots.filter((s) => slotMatches(uri, s, module.info));
  if (matching.length === 1) return matching[0]!;
  if (preferred && matching.some((s) => s.handle.equals(preferred.handle))) return preferred;
  if (matching.length === 0) throw tokenNotFound(uri, slots, module);
  throw new Pkcs11AmbiguousError(`${formatPkcs11Uri(withoutQuery(uri))} matches ${matching.length} tokens`, matching.map((s) => formatPkcs11Uri(tokenUri(s))), hint);
}

export function tokenNotFound(uri: Pkcs11Uri, slots: readonly TokenSlot[], module: Pkcs11Module): DeviceError {
  const present = slots.map((s) => formatPkcs11Uri(tokenUri(s)));
  const none = `no token is present: insert it, or check the module (${module.path}) and its configuration`;
  const files = "its tokens are files, which another process logging in may have been rewriting: try again; if this "
    + `persists, check that the token exists (\`pkcs11-tool -L --module ${shellWord(module.path)}\`)`;
  const listed = present.length > 0 ? `tokens present: ${present.join(" ")}` : "no token is present";
  return new DeviceError("PKCS11_TOKEN_NOT_FOUND", `no token matches ${formatPkcs11Uri(withoutQuery(uri))}`, {
    hint: tokensAreFiles(module) ? `${listed}; ${files}` : present.length > 0 ? listed : none,
  });
}

/** `token "X" (serial 0042)`; `(no serial)` for an empty one, as a key's is `(no label, no id)`: a serial may be "none". */
export function describeToken(token: TokenIdentity): string {
  const [label, serial] = [quotedField(token, "label"), quotedField(token, "serial")];
  return serial === "" ? `token "${label}" (no serial)` : `token "${label}" (serial ${serial})`;
}

/**
 * A token field as written between a message's or listing's double quotes ({@link escapeQuoted}), a byte that is not
 * UTF-8 as `\xe9`: `\` is written `\\` there, so a label typed `caf\xe9` (`caf\\xe9`) never reads as the Latin-1 one.
 */
export function quotedField(token: TokenIdentity, field: TokenFieldName): string {
  const bytes = token.bytes?.[field];
  if (bytes === undefined) return escapeQuoted(token[field]);
  let out = "";
  for (let i = 0; i < bytes.length;) {
    const length = [1, 2, 3, 4].find((n) => i + n <= bytes.length && isUtf8(bytes.subarray(i, i + n)));
    out += length === undefined ? `\\x${bytes[i]!.toString(16).padStart(2, "0")}` : escapeQuoted(bytes.subarray(i, i + length).toString("utf8"));
    i += length ?? 1;
  }
  return out;
}
