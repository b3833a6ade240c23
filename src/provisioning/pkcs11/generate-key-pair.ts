import type { Template } from "pkcs11js";
import { DeviceError, InputError } from "../../errors.js";
import type { TokenContext } from "../../signers/pkcs11/objects.js";
import { describeCkr, pkcs11Failure } from "../../signers/pkcs11/pkcs11-errors.js";
import { describeToken } from "../../signers/pkcs11/slots.js";
import { CKA, CKK, CKM, CKO } from "./attributes.js";
import { objectsUsing } from "./find-objects.js";
import { CURVE_OID_DER, type KeySpec } from "./key-spec.js";

export interface TokenKeyRequest {
  readonly spec: KeySpec;
  /** CKA_ID shared by the key pair (and later the certificate). */
  readonly id: Buffer;
  /** CKA_LABEL shared by the key pair (and later the certificate). */
  readonly label: string;
}

export interface GeneratedTokenKey {
  readonly publicKey: Buffer;
  readonly privateKey: Buffer;
}

/**
 * Generates a key pair that never leaves the token: the private key is a token object with
 * CKA_SENSITIVE=true, CKA_EXTRACTABLE=false and CKA_SIGN=true (nothing else: no decrypt, unwrap or
 * derive), the public key a token object with the same CKA_ID and CKA_LABEL so that one URI finds both.
 * Refuses when any object already uses the id or label, and checks afterwards that the token really made
 * the private key sensitive and non-extractable (PKCS#11 lets a token ignore template attributes it does
 * not support, in which case the key is destroyed again).
 */
export function generateTokenKeyPair(context: TokenContext, request: TokenKeyRequest): GeneratedTokenKey {
  const token = describeToken(context.slot.token);
  const used = objectsUsing(context, request.id, request.label);
  if (used.byId > 0 || used.byLabel > 0) {
    const what = [used.byId > 0 ? `id ${request.id.toString("hex")}` : "", used.byLabel > 0 ? `label "${request.label}"` : ""].filter(Boolean).join(" and ");
    throw new InputError("OBJECT_EXISTS", `${token} already has objects with ${what}`, {
      hint: "choose another id and label; keygen never replaces or shares an existing key's identity",
    });
  }
  const common: Template = [
    { type: CKA.TOKEN, value: true },
    { type: CKA.ID, value: request.id },
    { type: CKA.LABEL, value: request.label },
  ];
  const spec = request.spec;
  const publicTemplate: Template = [
    { type: CKA.CLASS, value: CKO.PUBLIC_KEY },
    ...common,
    { type: CKA.PRIVATE, value: false },
    { type: CKA.VERIFY, value: true },
    { type: CKA.ENCRYPT, value: false },
    { type: CKA.WRAP, value: false },
    ...(spec.kind === "RSA"
      ? [{ type: CKA.MODULUS_BITS, value: spec.bits }, { type: CKA.PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) }]
      : [{ type: CKA.EC_PARAMS, value: CURVE_OID_DER[spec.curve] }]),
  ];
  const privateTemplate: Template = [
    { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
    { type: CKA.KEY_TYPE, value: spec.kind === "RSA" ? CKK.RSA : CKK.EC },
    ...common,
    { type: CKA.PRIVATE, value: true },
    { type: CKA.SENSITIVE, value: true },
    { type: CKA.EXTRACTABLE, value: false },
    { type: CKA.SIGN, value: true },
    { type: CKA.DECRYPT, value: false },
    { type: CKA.UNWRAP, value: false },
    ...(spec.kind === "EC" ? [{ type: CKA.DERIVE, value: false }] : []),
  ];
  const mechanism = { mechanism: spec.kind === "RSA" ? CKM.RSA_PKCS_KEY_PAIR_GEN : CKM.EC_KEY_PAIR_GEN };
  const { lib } = context.module;
  const session = context.session.handle;
  let pair: GeneratedTokenKey;
  try {
    pair = lib.C_GenerateKeyPair(session, mechanism, publicTemplate, privateTemplate);
  } catch (error) {
    throw pkcs11Failure(`generating a ${spec.name} key pair on ${token}`, error, generationHint(error, spec));
  }
  const check = lib.C_GetAttributeValue(session, pair.privateKey, [
    { type: CKA.SENSITIVE },
    { type: CKA.EXTRACTABLE },
    { type: CKA.TOKEN },
  ]);
  const flags = check.map((a) => a.value instanceof Buffer && a.value.length > 0 && a.value[0] !== 0);
  if (!(flags[0] === true && flags[1] === false && flags[2] === true)) {
    for (const handle of [pair.privateKey, pair.publicKey]) {
      try {
        lib.C_DestroyObject(session, handle);
      } catch {
        /* reported below either way */
      }
    }
    throw new DeviceError("PKCS11_ERROR", `${token} did not create a sensitive, non-extractable token key; the generated key was destroyed`, {
      hint: "this token cannot hold keys that way; use another token or a TPM",
    });
  }
  return pair;
}

function generationHint(error: unknown, spec: KeySpec): string | undefined {
  const text = describeCkr(error);
  if (/CKR_MECHANISM_INVALID|CKR_MECHANISM_PARAM_INVALID|CKR_DOMAIN_PARAMS_INVALID|CKR_TEMPLATE_INCONSISTENT|CKR_ATTRIBUTE_VALUE_INVALID/.test(text)) {
    return `the token may not support ${spec.name} keys; try another --key-type`;
  }
  return undefined;
}
