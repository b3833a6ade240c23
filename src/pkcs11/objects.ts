/** Finding certificates and keys on a token and reading the attributes the signer needs. */
import type * as Graphene from "graphene-pk11";
import { createPublicKey, type KeyObject } from "node:crypto";
import { Certificate, assertRsaModulusSize } from "../x509/certificate.js";
import type { DebugLog, Pkcs11Module } from "./module-loader.js";
import { describeCkr } from "./pkcs11-errors.js";
import { curveFromEcParams } from "../encoding/signature-encoding.js";
import { tokenUri, type TokenSlot } from "./slots.js";
import { withAttributes, type Pkcs11Uri } from "./uri.js";
import { CKA, CKF, CKK, CKO } from "./constants.js";
import { ecPublicKey, rsaPublicKey } from "../encoding/public-key.js";

// Buffer attributes are read by number (CKA): graphene maps some numbers to two names (CKA_EC_PARAMS is also
// CKA_ECDSA_PARAMS) and returns them under the other one.

/** An open session on one token, with what is needed to talk about it. */
export interface TokenContext {
  readonly module: Pkcs11Module;
  readonly slot: TokenSlot;
  readonly session: Graphene.Session;
  /** The module generation the session was opened in (see Pkcs11Module.reinitialize). */
  readonly generation: number;
  readonly debug?: DebugLog | undefined;
}

/** A read-only session (the signer's), or a read-write one (creating objects). */
export function openSession(module: Pkcs11Module, slot: TokenSlot, debug?: DebugLog, readWrite = false): TokenContext {
  const grapheneSlot = new module.graphene.Slot(slot.handle, module.module, module.lib);
  const session = grapheneSlot.open(readWrite ? CKF.SERIAL_SESSION | CKF.RW_SESSION : CKF.SERIAL_SESSION);
  return { module, slot, session, generation: module.generation, debug };
}

export function closeSession(context: TokenContext): void {
  try {
    context.session.close();
  } catch {
    /* the token may be gone; the session is dead either way */
  }
}

export interface ObjectFilter {
  readonly id?: Buffer | undefined;
  readonly label?: string | undefined;
}

export interface CertificateObject {
  readonly id: Buffer;
  readonly label: string;
  readonly certificate: Certificate;
  /** Full URI of the object: token identity, id, object, type=cert. */
  readonly uri: Pkcs11Uri;
  readonly slot: TokenSlot;
}

export type TokenKeyType = "RSA" | "EC";

export interface PrivateKeyObject {
  readonly object: Graphene.SessionObject;
  readonly id: Buffer;
  readonly label: string;
  /** undefined for key types Roles Anywhere cannot use (DSA, EdDSA, …). */
  readonly keyType: TokenKeyType | undefined;
  readonly canSign: boolean;
  readonly alwaysAuthenticate: boolean;
  readonly uri: Pkcs11Uri;
  /** RSA: modulus and public exponent, readable on most tokens even for sensitive keys. */
  readonly modulus?: Buffer | undefined;
  readonly publicExponent?: Buffer | undefined;
  /** EC: DER OID of the curve. */
  readonly ecParams?: Buffer | undefined;
  /** EC: CKA_EC_POINT, which a few modules also put on the private key. */
  readonly ecPoint?: Buffer | undefined;
  /** CKA_PUBLIC_KEY_INFO (PKCS#11 2.40): the SPKI, when the token fills it in. */
  readonly publicKeyInfo?: Buffer | undefined;
}

export function findCertificates(context: TokenContext, filter: ObjectFilter): CertificateObject[] {
  const found: CertificateObject[] = [];
  for (const object of find(context, CKO.CERTIFICATE, filter)) {
    const id = optional(() => object.getAttribute("id") as Buffer) ?? Buffer.alloc(0);
    const label = optional(() => object.getAttribute("label") as string) ?? "";
    const value = optional(() => object.getAttribute("value") as Buffer);
    if (value === undefined) continue;
    let certificate: Certificate;
    try {
      certificate = new Certificate(value);
    } catch {
      context.debug?.(`pkcs11: skipping certificate object "${label}": not an X.509 certificate`);
      continue;
    }
    found.push({ id, label, certificate, uri: objectUri(context.slot, id, label, "cert"), slot: context.slot });
  }
  return found;
}

export function findPrivateKeys(context: TokenContext, filter: ObjectFilter): PrivateKeyObject[] {
  return find(context, CKO.PRIVATE_KEY, filter).map((object) => readPrivateKey(context, object));
}

export function readPrivateKey(context: TokenContext, object: Graphene.SessionObject): PrivateKeyObject {
  const id = optional(() => object.getAttribute("id") as Buffer) ?? Buffer.alloc(0);
  const label = optional(() => object.getAttribute("label") as string) ?? "";
  const ckk = optional(() => object.getAttribute("keyType") as number);
  const keyType: TokenKeyType | undefined = ckk === CKK.RSA ? "RSA" : ckk === CKK.EC ? "EC" : undefined;
  const publicKeyInfo = optional(() => object.getAttribute(CKA.PUBLIC_KEY_INFO));
  return {
    object,
    id,
    label,
    keyType,
    // An unreadable CKA_SIGN is treated as "allowed": the token will say so at C_SignInit if not.
    canSign: optional(() => object.getAttribute("sign") as boolean) ?? true,
    alwaysAuthenticate: optional(() => object.getAttribute("alwaysAuth") as boolean) ?? false,
    uri: objectUri(context.slot, id, label, "private"),
    modulus: keyType === "RSA" ? optional(() => object.getAttribute(CKA.MODULUS)) : undefined,
    publicExponent: keyType === "RSA" ? optional(() => object.getAttribute(CKA.PUBLIC_EXPONENT)) : undefined,
    ecParams: keyType === "EC" ? optional(() => object.getAttribute(CKA.EC_PARAMS)) : undefined,
    ecPoint: keyType === "EC" ? optional(() => object.getAttribute(CKA.EC_POINT)) : undefined,
    publicKeyInfo: publicKeyInfo !== undefined && publicKeyInfo.length > 0 ? publicKeyInfo : undefined,
  };
}

/**
 * The key's public half as node:crypto sees it, without a certificate: from the private key's own
 * attributes, else from the public-key object that shares its CKA_ID.
 */
export function publicKeyOf(context: TokenContext, key: PrivateKeyObject): KeyObject | undefined {
  return ownPublicKey(context, key) ?? publicKeyObjects(context, key)[0];
}

/**
 * The public half the private key object itself carries: CKA_PUBLIC_KEY_INFO, the RSA modulus and exponent,
 * or an EC point. What the token says about the key object itself, so a difference from the certificate is
 * a real mismatch.
 */
export function ownPublicKey(context: TokenContext, key: PrivateKeyObject): KeyObject | undefined {
  try {
    if (key.publicKeyInfo) return rsaSizeChecked(createPublicKey({ key: key.publicKeyInfo, format: "der", type: "spki" }));
    if (key.keyType === "RSA" && key.modulus && key.publicExponent) return rsaSizeChecked(rsaPublicKey(key.modulus, key.publicExponent));
    if (key.keyType === "EC" && key.ecPoint) return ecPointPublicKey(key.ecPoint, key.ecParams);
  } catch (error) {
    context.debug?.(`pkcs11: cannot read the public key of ${key.label}: ${describeCkr(error)}`);
  }
  return undefined;
}

/**
 * The public halves of the public-key objects that share the private key's CKA_ID (and key type): how
 * SoftHSM, OpenSC's PIV driver and ykcs11 (from the card's metadata or attestation) expose an EC key's point.
 */
export function publicKeyObjects(context: TokenContext, key: PrivateKeyObject): KeyObject[] {
  if (key.id.length === 0 || key.keyType === undefined) return [];
  const found: KeyObject[] = [];
  let objects: Graphene.SessionObject[];
  try {
    objects = find(context, CKO.PUBLIC_KEY, { id: key.id });
  } catch (error) {
    context.debug?.(`pkcs11: cannot search the public keys for ${key.label}: ${describeCkr(error)}`);
    return [];
  }
  for (const object of objects) {
    const info = optional(() => object.getAttribute(CKA.PUBLIC_KEY_INFO));
    const ckk = optional(() => object.getAttribute("keyType") as number);
    try {
      if (info !== undefined && info.length > 0) {
        found.push(rsaSizeChecked(createPublicKey({ key: info, format: "der", type: "spki" })));
      } else if (key.keyType === "RSA" && (ckk === undefined || ckk === CKK.RSA)) {
        const modulus = optional(() => object.getAttribute(CKA.MODULUS));
        const exponent = optional(() => object.getAttribute(CKA.PUBLIC_EXPONENT));
        if (modulus && exponent) found.push(rsaSizeChecked(rsaPublicKey(modulus, exponent)));
      } else if (key.keyType === "EC" && (ckk === undefined || ckk === CKK.EC)) {
        const point = optional(() => object.getAttribute(CKA.EC_POINT));
        const params = key.ecParams ?? optional(() => object.getAttribute(CKA.EC_PARAMS));
        const publicKey = point && ecPointPublicKey(point, params);
        if (publicKey) found.push(publicKey);
      }
    } catch {
      context.debug?.(`pkcs11: skipping a malformed public-key object with the id of ${key.label}`);
    }
  }
  return found;
}

/** A token's public key above 16384-bit RSA is treated as unreadable (the callers skip it). */
const rsaSizeChecked = (key: KeyObject): KeyObject => assertRsaModulusSize(key, "the token's public key", "PKCS11_ERROR");

function ecPointPublicKey(point: Buffer, ecParams: Buffer | undefined): KeyObject | undefined {
  const curve = curveFromEcParams(ecParams);
  const raw = curve && uncompressedPoint(point, curve.fieldBytes);
  if (!curve || !raw) return undefined;
  return ecPublicKey(curve.name, raw.subarray(1, 1 + curve.fieldBytes), raw.subarray(1 + curve.fieldBytes));
}

/** CKA_EC_POINT is a DER OCTET STRING around the point (spec) or, on some tokens, the bare point. */
function uncompressedPoint(value: Buffer, fieldBytes: number): Buffer | undefined {
  const size = 1 + 2 * fieldBytes;
  if (value.length === size && value[0] === 0x04) return value;
  if (value[0] === 0x04 && value[1] === size && value.length === size + 2) return value.subarray(2);
  if (value[0] === 0x04 && value[1] === 0x81 && value[2] === size && value.length === size + 3) return value.subarray(3);
  return undefined;
}

export function objectUri(slot: TokenSlot, id: Buffer, label: string, type: "cert" | "private"): Pkcs11Uri {
  return withAttributes(tokenUri(slot), {
    ...(id.length > 0 ? { id } : {}),
    ...(label !== "" ? { object: label } : {}),
    type,
  });
}

function find(context: TokenContext, objectClass: number, filter: ObjectFilter): Graphene.SessionObject[] {
  const template: Record<string, unknown> = { class: objectClass };
  if (filter.id !== undefined) template["id"] = filter.id;
  if (filter.label !== undefined) template["label"] = filter.label;
  const collection = context.session.find(template as Graphene.ITemplate);
  const objects: Graphene.SessionObject[] = [];
  for (let i = 0; i < collection.length; i++) objects.push(collection.items(i));
  return objects;
}

function optional<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
