/** Sessions and objects on a token over the raw binding: one search, attributes, certificates, keys and their public halves. */
import type { Template } from "pkcs11js";
import { isUtf8 } from "node:buffer";
import { createPublicKey, type KeyObject } from "node:crypto";
import { DeviceError, escapeQuoted } from "../errors.js";
import { Certificate, EC_PUBLIC_KEY, assertRsaModulusSize } from "../x509/certificate.js";
import { readSingle, TAG, unlessMalformed } from "../encoding/der.js";
import { derBitString, derOid, derSequence } from "../encoding/der-writer.js";
import type { DebugLog } from "../debug-log.js";
import type { Pkcs11Module } from "./module-loader.js";
import { ckrName, describeCkr, isSessionLost, pkcs11Failure, quietly } from "./pkcs11-errors.js";
import { isNotDirect, loadNativeHelper } from "../os/native-helper.js";
import { curveFromEcParams } from "../encoding/signature-encoding.js";
import { describeToken, tokenUri, type TokenSlot } from "./slots.js";
import { MODULE_WITHHOLDS_CERTIFICATE, REWRITE_CERTIFICATE, REWRITE_PEM_CERTIFICATE, type UnreadableCertificate } from "./unreadable-certificate.js";
import { looksLikePem } from "../encoding/pem.js";
import { formatPkcs11Uri, withAttributes, type Pkcs11Uri } from "./uri.js";
import { ckUlong, pkcs11ErrorOf } from "./binding.js";
import { CKA, CKC_X_509, CKF, CKK, CKO } from "./constants.js";
import { ecPublicKey, rsaPublicKey } from "../encoding/public-key.js";

export type { Template } from "pkcs11js";

/** An open session on one token, with what is needed to talk about it. */
export interface TokenContext {
  readonly module: Pkcs11Module;
  readonly slot: TokenSlot;
  readonly session: Buffer;
  /** The module generation the session was opened in (see Pkcs11Module.reinitialize). */
  readonly generation: number;
  readonly debug?: DebugLog | undefined;
}

/** A read-only session (the signer's), or a read-write one (creating objects). */
export function openSession(module: Pkcs11Module, slot: TokenSlot, debug?: DebugLog, readWrite = false): TokenContext {
  try {
    const session = module.lib.C_OpenSession(slot.handle, readWrite ? CKF.SERIAL_SESSION | CKF.RW_SESSION : CKF.SERIAL_SESSION);
    return { module, slot, session, generation: module.generation, debug };
  } catch (error) {
    const token = describeToken(slot.token);
    if (readWrite) throw pkcs11Failure(`opening a read-write session on ${token}`, error);
    throw new DeviceError("PKCS11_ERROR", `cannot open a session on ${token}: ${describeCkr(error)}`, { cause: error });
  }
}

/** The token may be gone: the session is dead either way. */
export function closeSession(context: TokenContext): void {
  quietly(() => context.module.lib.C_CloseSession(context.session));
}

/** What a search asks for; absent attributes match anything. */
export interface ObjectFilter {
  readonly class?: number | undefined;
  readonly id?: Buffer | undefined;
  readonly label?: string | undefined;
  readonly value?: Buffer | undefined;
  /** CKA_SUBJECT: the DER name (certificates). */
  readonly subject?: Buffer | undefined;
}

const FILTER_ATTRIBUTES = { class: CKA.CLASS, id: CKA.ID, label: CKA.LABEL, value: CKA.VALUE, subject: CKA.SUBJECT } as const;

/** More objects than any token holds: a module whose C_FindObjects never ends its answer is stopped here. */
const MAX_FOUND = 10_000;

/** Handles of the objects matching the filter (all of them, in batches; at most MAX_FOUND), each once. */
export function findObjects(context: TokenContext, filter: ObjectFilter): Buffer[] {
  const { lib } = context.module;
  const present = (Object.keys(FILTER_ATTRIBUTES) as (keyof ObjectFilter)[]).filter((name) => filter[name] !== undefined);
  const template: Template = present.map((name) => ({ type: FILTER_ATTRIBUTES[name], value: filter[name] }));
  try {
    lib.C_FindObjectsInit(context.session, template);
    // A module that returns a handle twice: one object, not two that nothing tells apart.
    const found = new Map<string, Buffer>();
    let answered = 0;
    try {
      for (;;) {
        const batch = lib.C_FindObjects(context.session, 64);
        for (const handle of batch) found.set(handle.toString("hex"), handle);
        answered += batch.length;
        if (batch.length < 64) break;
        if (answered > MAX_FOUND) {
          const token = describeToken(context.slot.token);
          throw new DeviceError("PKCS11_ERROR", `searching ${token} found more than ${MAX_FOUND} objects`, {
            hint: "its PKCS#11 module keeps answering C_FindObjects: check the module",
          });
        }
      }
    } finally {
      lib.C_FindObjectsFinal(context.session);
    }
    return [...found.values()];
  } catch (error) {
    throw pkcs11Failure("searching the token", error);
  }
}

/**
 * Why attributes of one object came back undefined, for the caller to say which object and why. Those the object
 * does not have, or an object gone meanwhile, leave nothing here.
 */
export interface UnreadAttributes {
  /** Bounded attributes ({@link MAX_ATTRIBUTE_BYTES}) larger than their bound. */
  readonly tooLarge: Set<number>;
  /** Attributes the module would not give, with its answer: `CKR_ATTRIBUTE_SENSITIVE (0x11)`. */
  readonly refused: Map<number, string>;
  /** The first read that failed as a device or module failure (CKR_DEVICE_ERROR, CKR_GENERAL_ERROR, …). */
  failure?: unknown;
}

export const unreadAttributes = (): UnreadAttributes => ({ tooLarge: new Set(), refused: new Map() });

/**
 * Answers about one attribute (PKCS#11 v2.40 §5.2 C_GetAttributeValue): the object will not show it, or does not
 * have it. A module may also fail the whole call with one of these; the attributes are then asked one by one.
 */
const ATTRIBUTE_ANSWERS = new Set(["CKR_ATTRIBUTE_SENSITIVE", "CKR_ATTRIBUTE_TYPE_INVALID", "CKR_BUFFER_TOO_SMALL"]);

/** Attributes the agent can do without (PKCS#11 v2.40's CKA_PUBLIC_KEY_INFO; CKA_ALWAYS_AUTHENTICATE, false when absent). */
const OPTIONAL: ReadonlySet<number> = new Set([CKA.PUBLIC_KEY_INFO, CKA.ALWAYS_AUTHENTICATE]);

/** The object is gone (deleted meanwhile), or shows this only after a login: it is left out without a word. */
const NOT_SHOWN = /(OBJECT|KEY)_HANDLE_INVALID|NOT_LOGGED_IN/;

/**
 * Several attributes in one C_GetAttributeValue, each undefined when the token does not know it or will not show
 * it. One such attribute fails the whole call (CKR_ATTRIBUTE_TYPE_INVALID, _SENSITIVE): then they are asked one by one.
 * So does an object gone meanwhile (CKR_OBJECT_HANDLE_INVALID); a token or session gone is a PKCS11_ERROR.
 * `unread`: the attributes of {@link MAX_ATTRIBUTE_BYTES} are read only up to their bound, and what was not read is
 * told there (see {@link UnreadAttributes}).
 */
export function readAttributes(context: TokenContext, handle: Buffer, types: readonly number[], unread?: UnreadAttributes): (Buffer | undefined)[] {
  return readUpTo(context, handle, types, unread, FIRST_READ_BYTES);
}

/** {@link readAttributes} with the bounded attributes read into buffers of `bytes` (or their bound, if less). */
function readUpTo(context: TokenContext, handle: Buffer, types: readonly number[], unread: UnreadAttributes | undefined, bytes: number): (Buffer | undefined)[] {
  // That expected failure (every SoftHSM credential-process has one) gets no stack trace, which nothing would read.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const bound = (type: number) => (unread ? MAX_ATTRIBUTE_BYTES[type] : undefined);
  try {
    const preset = (type: number) => (bound(type) ? { value: Buffer.alloc(Math.min(bound(type)!, bytes)) } : {});
    const values = (unread && boundedRead(context, handle, types, bound)) ||
      context.module.lib.C_GetAttributeValue(context.session, handle, types.map((type) => ({ type, ...preset(type) }))).map((a) => a.value);
    return types.map((type, i) => {
      const value = values[i];
      if (value === false) {
        unread!.tooLarge.add(type);
        return undefined;
      }
      if (!(value instanceof Buffer)) {
        // CKR_OK with CK_UNAVAILABLE_INFORMATION for it: a module that does not fail the call for one attribute.
        unread?.refused.set(type, "CKR_OK without a value");
        return undefined;
      }
      // A module that answers a short buffer with CKR_OK and the length it needs has had the value read whole by
      // pkcs11js (into a buffer of that length): beyond the bound it is refused all the same, and never grown to.
      if (bound(type) !== undefined && value.length > bound(type)!) {
        unread!.tooLarge.add(type);
        return undefined;
      }
      return value;
    });
  } catch (error) {
    const name = ckrName(error);
    if (isSessionLost(error) && !NOT_SHOWN.test(name!)) {
      throw pkcs11Failure(`reading ${describeToken(context.slot.token)}`, error);
    }
    if (types.length > 1) return types.map((type) => readUpTo(context, handle, [type], unread, bytes)[0]);
    const type = types[0]!;
    if (name === "CKR_BUFFER_TOO_SMALL" && bound(type)) {
      // 256, 1 KiB, 4 KiB, 16 KiB, 64 KiB: a module that answers it at every size stops at the bound.
      if (bytes < bound(type)!) return readUpTo(context, handle, types, unread, bytes * 4);
      unread!.tooLarge.add(type);
    } else if (name !== undefined && ATTRIBUTE_ANSWERS.has(name)) {
      unread?.refused.set(type, describeCkr(error));
    } else if (OPTIONAL.has(type)) {
      // Older modules fail the call for an attribute they do not know (CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR): one the
      // agent can do without is then absent, as it was before such failures became errors.
      context.debug?.(`pkcs11: attribute 0x${type.toString(16)} not read: ${describeCkr(error)}`);
    } else if (name === undefined || !NOT_SHOWN.test(name)) {
      if (unread) unread.failure ??= error;
    }
    return [undefined];
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * The attributes read by raa_native (the project's addon) through the function list pkcs11js holds for the module:
 * the lengths first, then only the values within their bound, with nothing lost (pkcs11js's bounded read loses the
 * buffer the value fits in: {@link FIRST_READ_BYTES}). That list and no other: p11-kit-proxy, the default module,
 * gives a new uninitialised instance at each C_GetFunctionList. Undefined without the addon, or once it found (error
 * code RAA_NOT_DIRECT) the module not loaded under that name or `lib` not the pkcs11js that loaded it: pkcs11js reads
 * from then on. A failed call is thrown as pkcs11js throws it; so is any other failure of the addon (a length the
 * module gives that cannot be allocated: ENOMEM), as this read's alone: readUpTo asks the attributes one by one, and
 * the one that fails again is a failure of the object (PKCS11_ERROR), the next read direct again. A transient failure
 * never sends every later read, for the life of an agent, to pkcs11js's leaking one.
 */
function boundedRead(context: TokenContext, handle: Buffer, types: readonly number[], bound: (type: number) => number | undefined): (Buffer | null | false)[] | undefined {
  const read = loadNativeHelper().helper?.pkcs11Attributes;
  const { module } = context;
  if (read === undefined || module.directReads === false) return undefined;
  let answer: ReturnType<typeof read>;
  try {
    answer = read(module.lib, module.pkcs11, module.path, context.session, handle, types, types.map((type) => bound(type) ?? -1));
  } catch (error) {
    if (!isNotDirect(error)) throw error;
    module.directReads = false;
    return undefined;
  }
  // Too small at the length the module itself gave: the object grew meanwhile, or the module will not give it.
  if (answer === CKR_BUFFER_TOO_SMALL && types.length === 1) return [false];
  if (typeof answer === "number") throw pkcs11ErrorOf(answer);
  return answer;
}


/**
 * The most bytes of these attributes {@link readAttributes} reads of an object. pkcs11js reads any value whole, and
 * keeps two copies of its own: a 128 MiB CKA_VALUE took 631 MiB of RSS. It has no call that asks the length alone, but
 * a value given in the template is the buffer the module writes into, and one too small fails with
 * CKR_BUFFER_TOO_SMALL before anything is copied. The largest certificates in use (ML-DSA-87's ~10 KiB, whole chains)
 * stay below 64 KiB; no real label or id comes near 1 KiB; an RSA-8192 modulus is 1 KiB, a P-521 point 136 bytes, a
 * named curve's parameters a dozen; an SPKI is below 1.1 KiB for RSA-8192 and 2.6 KiB for ML-DSA-87 (which a token
 * may hold: it is then left out as a key type it does not sign with, not as a hostile object).
 */
const MAX_ATTRIBUTE_BYTES: Readonly<Record<number, number>> = {
  [CKA.VALUE]: 65_536,
  [CKA.ID]: 1024,
  [CKA.LABEL]: 1024,
  [CKA.MODULUS]: 1024,
  [CKA.PUBLIC_EXPONENT]: 1024,
  [CKA.EC_PARAMS]: 1024,
  [CKA.EC_POINT]: 1024,
  [CKA.PUBLIC_KEY_INFO]: 4096,
};

/**
 * Without raa_native ({@link boundedRead}): the buffer a bounded attribute is first read into; each
 * CKR_BUFFER_TOO_SMALL tries one 4 times larger, up to the bound. pkcs11js 2.1.7 never frees the copy it makes of that buffer when the value fits (it reads the value again
 * into one of its size): starting small keeps that loss near the value's own size (2,000 reads of a 1.2 KiB
 * certificate object: +147 MiB RSS with one 64 KiB buffer). No call of pkcs11js reads a length alone or bounded
 * without that copy.
 */
const FIRST_READ_BYTES = 256;

const CKR_BUFFER_TOO_SMALL = 0x150;

export function readFlag(context: TokenContext, handle: Buffer, type: number): boolean | undefined {
  return flag(readAttributes(context, handle, [type])[0]);
}

export function createObject(context: TokenContext, template: Template): Buffer {
  return context.module.lib.C_CreateObject(context.session, template);
}

export function destroyObject(context: TokenContext, handle: Buffer): void {
  context.module.lib.C_DestroyObject(context.session, handle);
}

export function generateKeyPair(context: TokenContext, mechanism: number, publicKey: Template, privateKey: Template) {
  return context.module.lib.C_GenerateKeyPair(context.session, { mechanism }, publicKey, privateKey);
}

export interface CertificateObject {
  readonly id: Buffer;
  readonly label: string;
  readonly certificate: Certificate;
  /** Full URI of the object: token identity, id, object, type=cert. */
  readonly uri: Pkcs11Uri;
  readonly slot: TokenSlot;
}

type TokenKeyType = "RSA" | "EC";

interface PublicAttributes {
  readonly modulus?: Buffer | undefined;
  readonly publicExponent?: Buffer | undefined;
  /** EC: DER OID of the curve. */
  readonly ecParams?: Buffer | undefined;
  /** EC: CKA_EC_POINT, which a few modules also put on the private key. */
  readonly ecPoint?: Buffer | undefined;
  /** CKA_PUBLIC_KEY_INFO (PKCS#11 2.40): the SPKI, when the token fills it in. */
  readonly publicKeyInfo?: Buffer | undefined;
}

export interface PrivateKeyObject extends PublicAttributes {
  readonly handle: Buffer;
  readonly id: Buffer;
  readonly label: string;
  /** undefined for key types Roles Anywhere cannot use (DSA, EdDSA, …). */
  readonly keyType: TokenKeyType | undefined;
  readonly canSign: boolean;
  readonly alwaysAuthenticate: boolean;
  readonly uri: Pkcs11Uri;
}

/** A private key of a type Roles Anywhere can use. */
export type UsableKey = PrivateKeyObject & { readonly keyType: TokenKeyType };


/** `unreadable`: told the certificate objects skipped because they could not be used. */
export function findCertificates(
  context: TokenContext,
  filter: ObjectFilter,
  unreadable?: UnreadableCertificate[],
): CertificateObject[] {
  const found: CertificateObject[] = [];
  for (const handle of findObjects(context, { ...filter, class: CKO.CERTIFICATE })) {
    const types = [CKA.CLASS, CKA.CERTIFICATE_TYPE, CKA.LABEL, CKA.ID, CKA.VALUE];
    const unread = unreadAttributes();
    const [cls, certificateType, labelBytes, idBytes, value] = readAttributes(context, handle, types, unread);
    const { id, label } = names(labelBytes, idBytes);
    const uri = objectUri(context.slot, id, label, "cert");
    failed(unread, "certificate", uri);
    const withheld = refusedReason(unread, CKA.VALUE);
    if ((value === undefined && unread.tooLarge.size === 0 && !withheld) || !ofClass(context, cls, CKO.CERTIFICATE)) continue;
    let reason = tooLargeReason(unread.tooLarge, "certificate the agent can use is") ?? withheld ?? typeRefusal(number(certificateType));
    let hint = withheld ? MODULE_WITHHOLDS_CERTIFICATE : REWRITE_CERTIFICATE;
    if (reason === undefined) {
      try {
        found.push({ id, label, certificate: new Certificate(value!, "its CKA_VALUE"), uri, slot: context.slot });
        continue;
      } catch (error) {
        reason = (error as Error).message;
        if (looksLikePem(value!)) hint = REWRITE_PEM_CERTIFICATE;
      }
    }
    context.debug?.(`pkcs11: skipping certificate object "${escapeQuoted(label)}": ${reason}`);
    unreadable?.push({ uri, reason, hint });
  }
  return found;
}

/** A device or module failure reading the object is the token's error, with its code: never "not found". */
function failed(unread: UnreadAttributes, what: string, uri: Pkcs11Uri): void {
  if (unread.failure !== undefined) throw pkcs11Failure(`reading the ${what} object ${formatPkcs11Uri(uri)}`, unread.failure);
}

/** Why an object is left out when the module would not give `type`, which the agent cannot do without. */
function refusedReason(unread: UnreadAttributes, type: number): string | undefined {
  const answer = unread.refused.get(type);
  return answer === undefined ? undefined : `its PKCS#11 module does not give its CKA_${ckaName(type)}: it answers ${answer}`;
}

const ckaName = (type: number): string => Object.entries(CKA).find(([, t]) => t === type)?.[0] ?? `0x${type.toString(16)}`;

/** Why an object is left out when {@link readAttributes} found an attribute larger than its bound; `none`: what has none. */
function tooLargeReason(tooLarge: ReadonlySet<number>, none: string): string | undefined {
  const [large] = tooLarge;
  if (large === undefined) return undefined;
  return `its CKA_${ckaName(large)} is larger than ${MAX_ATTRIBUTE_BYTES[large]} bytes, which no ${none}`;
}

/** Why a certificate object is not read as a certificate at all. */
function typeRefusal(certificateType: number | undefined): string | undefined {
  if (certificateType !== undefined && certificateType !== CKC_X_509) {
    return `its CKA_CERTIFICATE_TYPE is 0x${certificateType.toString(16)}, not CKC_X_509: the agent reads X.509 certificates only`;
  }
  return undefined;
}

/** An object left out, and why. */
export interface SkippedObject {
  readonly uri: Pkcs11Uri;
  readonly reason: string;
}

/**
 * `skipped`: told the private key objects left out because an attribute is larger than any real key's, or the module
 * would not give their CKA_KEY_TYPE.
 */
export function findPrivateKeys(context: TokenContext, filter: ObjectFilter, skipped?: SkippedObject[]): PrivateKeyObject[] {
  return findObjects(context, { ...filter, class: CKO.PRIVATE_KEY }).flatMap((handle) => {
    const types = [CKA.CLASS, CKA.LABEL, CKA.ID, CKA.KEY_TYPE, CKA.SIGN, CKA.ALWAYS_AUTHENTICATE, CKA.PUBLIC_KEY_INFO];
    const unread = unreadAttributes();
    const [cls, labelBytes, idBytes, ckk, sign, always, publicKeyInfo] = readAttributes(context, handle, types, unread);
    const { id, label } = names(labelBytes, idBytes);
    const uri = objectUri(context.slot, id, label, "private");
    failed(unread, "private key", uri);
    if (!ofClass(context, cls, CKO.PRIVATE_KEY)) return [];
    const keyType = keyTypeOf(ckk);
    const publicHalf = publicAttributes(context, handle, keyType, publicKeyInfo, unread);
    failed(unread, "private key", uri);
    const reason = tooLargeReason(unread.tooLarge, "key the agent can use has") ?? refusedReason(unread, CKA.KEY_TYPE);
    if (reason !== undefined) {
      context.debug?.(`pkcs11: skipping private key object "${escapeQuoted(label)}": ${reason}`);
      skipped?.push({ uri, reason });
      return [];
    }
    return {
      handle,
      id,
      label,
      keyType,
      // An unreadable CKA_SIGN is treated as "allowed": the token will say so at C_SignInit if not.
      canSign: flag(sign) ?? true,
      alwaysAuthenticate: flag(always) ?? false,
      uri,
      ...publicHalf,
    };
  });
}

/** The key's public half as node:crypto sees it, without a certificate. */
export function publicKeyOf(context: TokenContext, key: PrivateKeyObject): KeyObject | undefined {
  return ownPublicKey(context, key) ?? publicKeyObjects(context, key)[0];
}

/** The public half the private key object itself carries: a difference from the certificate is a real mismatch. */
export function ownPublicKey(context: TokenContext, key: PrivateKeyObject): KeyObject | undefined {
  try {
    return publicKeyFrom(key.keyType, key);
  } catch (error) {
    context.debug?.(`pkcs11: cannot read the public key of "${escapeQuoted(key.label)}": ${describeCkr(error)}`);
    return undefined;
  }
}

/**
 * The public halves of the public-key objects that share the private key's CKA_ID (and key type): how
 * SoftHSM, OpenSC's PIV driver and ykcs11 (from the card's metadata or attestation) expose an EC key's point.
 */
export function publicKeyObjects(context: TokenContext, key: PrivateKeyObject): KeyObject[] {
  if (key.id.length === 0 || key.keyType === undefined) return [];
  let handles: Buffer[];
  try {
    handles = findObjects(context, { class: CKO.PUBLIC_KEY, id: key.id });
  } catch (error) {
    context.debug?.(`pkcs11: cannot search the public keys for "${escapeQuoted(key.label)}": ${describeCkr(error)}`);
    return [];
  }
  const found: KeyObject[] = [];
  for (const handle of handles) {
    const unread = unreadAttributes();
    const [ckk, publicKeyInfo] = readAttributes(context, handle, [CKA.KEY_TYPE, CKA.PUBLIC_KEY_INFO], unread);
    const keyType = number(ckk) === undefined || keyTypeOf(ckk) === key.keyType ? key.keyType : undefined;
    const attributes = publicAttributes(context, handle, keyType, publicKeyInfo, unread);
    const reason = tooLargeReason(unread.tooLarge, "key has") ?? (unread.failure === undefined ? undefined : describeCkr(unread.failure));
    if (reason !== undefined) {
      // A fallback for the proof only: the key's own signature tells what the token does.
      context.debug?.(`pkcs11: skipping a public-key object with the id of "${escapeQuoted(key.label)}": ${reason}`);
      continue;
    }
    try {
      const publicKey = publicKeyFrom(keyType, { ...attributes, ecParams: key.ecParams ?? attributes.ecParams });
      if (publicKey) found.push(publicKey);
    } catch {
      context.debug?.(`pkcs11: skipping a malformed public-key object with the id of "${escapeQuoted(key.label)}"`);
    }
  }
  return found;
}

/**
 * Whether an object found has the class searched for (when it could be read): an object of another class, which a
 * module that ignores the search template returns (a public key with the key's id and label), is left out, not used.
 */
function ofClass(context: TokenContext, cls: Buffer | undefined, wanted: number): boolean {
  if (cls === undefined || number(cls) === wanted) return true;
  context.debug?.(`pkcs11: the module found an object of class ${number(cls)} searching for class ${wanted}; left out`);
  return false;
}

/** A label that is not UTF-8 (another tool's Latin-1) is taken as none: no object= could select its bytes. */
function names(label: Buffer | undefined, id: Buffer | undefined): { id: Buffer; label: string } {
  return { id: id ?? Buffer.alloc(0), label: label !== undefined && isUtf8(label) ? label.toString("utf8") : "" };
}

/** A CK_BBOOL attribute's value, or undefined when it could not be read. */
function flag(value: Buffer | undefined): boolean | undefined {
  return value !== undefined && value.length > 0 ? value[0] !== 0 : undefined;
}

/** A CK_ULONG attribute as a number (every value this project compares is small). */
function number(value: Buffer | undefined): number | undefined {
  const n = value && ckUlong(value);
  return n === undefined ? undefined : Number(n);
}

function keyTypeOf(ckk: Buffer | undefined): TokenKeyType | undefined {
  const n = number(ckk);
  return n === CKK.RSA ? "RSA" : n === CKK.EC ? "EC" : undefined;
}

/** `publicKeyInfo`: CKA_PUBLIC_KEY_INFO, read with the object's other attributes; `unread` as readAttributes's. */
function publicAttributes(
  context: TokenContext,
  handle: Buffer,
  keyType: TokenKeyType | undefined,
  publicKeyInfo: Buffer | undefined,
  unread: UnreadAttributes,
): PublicAttributes {
  const [modulus, publicExponent] = keyType === "RSA" ? readAttributes(context, handle, [CKA.MODULUS, CKA.PUBLIC_EXPONENT], unread) : [];
  const [ecParams, ecPoint] = keyType === "EC" ? readAttributes(context, handle, [CKA.EC_PARAMS, CKA.EC_POINT], unread) : [];
  return { modulus, publicExponent, ecParams, ecPoint, publicKeyInfo: publicKeyInfo !== undefined && publicKeyInfo.length > 0 ? publicKeyInfo : undefined };
}

function publicKeyFrom(keyType: TokenKeyType | undefined, a: PublicAttributes): KeyObject | undefined {
  if (a.publicKeyInfo) return rsaSizeChecked(createPublicKey({ key: a.publicKeyInfo, format: "der", type: "spki" }));
  // A modulus or exponent of no bytes or zeros only is a module's placeholder: no public key shown, not another key.
  const { modulus: n, publicExponent: e } = a;
  const nonZero = (bytes: Buffer | undefined): bytes is Buffer => bytes?.some((b) => b !== 0) ?? false;
  if (keyType === "RSA" && nonZero(n) && nonZero(e)) return rsaSizeChecked(rsaPublicKey(n, e));
  if (keyType === "EC" && a.ecPoint) return ecPointPublicKey(a.ecPoint, a.ecParams);
  return undefined;
}

/** A token's public key above 16384-bit RSA is treated as unreadable (the callers skip it). */
const rsaSizeChecked = (key: KeyObject): KeyObject => assertRsaModulusSize(key, "the token's public key", "PKCS11_ERROR");

function ecPointPublicKey(point: Buffer, ecParams: Buffer | undefined): KeyObject | undefined {
  const curve = curveFromEcParams(ecParams);
  if (!curve && ecParams?.[0] === TAG.OID) return otherCurveKey(point, ecParams);
  const raw = curve && uncompressedPoint(point, curve.fieldBytes);
  if (!curve || !raw) return undefined;
  return ecPublicKey(curve.name, raw.subarray(1, 1 + curve.fieldBytes), raw.subarray(1 + curve.fieldBytes));
}

/**
 * A key on a named curve the agent does not sign with (P-224): node:crypto, which checks the point, names its curve
 * for the refusal. From the SPKI of its CKA_EC_PARAMS and point.
 */
function otherCurveKey(point: Buffer, ecParams: Buffer): KeyObject {
  const wrapped = unlessMalformed(() => readSingle(point, TAG.OCTET_STRING).content);
  const raw = wrapped !== undefined && wrapped.length % 2 === 1 && wrapped[0] === 0x04 ? wrapped : point;
  const spki = derSequence(derSequence(derOid(EC_PUBLIC_KEY), ecParams), derBitString(raw));
  return createPublicKey({ key: spki, format: "der", type: "spki" });
}

/** CKA_EC_POINT is a DER OCTET STRING around the point (spec) or, on some tokens, the bare point. */
function uncompressedPoint(value: Buffer, fieldBytes: number): Buffer | undefined {
  const size = 1 + 2 * fieldBytes;
  if (value.length === size && value[0] === 0x04) return value;
  if (value[0] === 0x04 && value[1] === size && value.length === size + 2) return value.subarray(2);
  if (value[0] === 0x04 && value[1] === 0x81 && value[2] === size && value.length === size + 3) return value.subarray(3);
  return undefined;
}

function objectUri(slot: TokenSlot, id: Buffer, label: string, type: "cert" | "private"): Pkcs11Uri {
  return withAttributes(tokenUri(slot), { id: id.length > 0 ? id : undefined, object: label || undefined, type });
}
