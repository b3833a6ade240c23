/** keygen on a token. Only the library's API is exported: its declarations must not reach the binding's types. */
import { randomBytes, type KeyObject } from "node:crypto";
import { DeviceError, InputError, UsageError } from "../../errors.js";
import {
  destroyObject, findObjects, findPrivateKeys, generateKeyPair, publicKeyOf, readAttributes,
} from "../../pkcs11/objects.js";
import type { Template, TokenContext } from "../../pkcs11/objects.js";
import { ckrName, describeCkr, pkcs11Failure, quietly } from "../../pkcs11/pkcs11-errors.js";
import { describeToken, tokenUri } from "../../pkcs11/slots.js";
import type { TokenIdentity } from "../../pkcs11/token-identity.js";
import { CKA, CKK, CKM, CKO } from "../../pkcs11/constants.js";
import { formatPkcs11Uri, parsePkcs11Uri, wipeUriPin, type Pkcs11Uri } from "../../pkcs11/uri.js";
import { pinFromUri } from "../../pkcs11/pin.js";
import { keyWeaknesses, readKeyProperties } from "./key-properties.js";
import { KEY_SPEC, type KeySpec } from "../key-spec.js";
import type { Kinds } from "../../own-value.js";
import { curveFromEcParams, NAMED_CURVES } from "../../encoding/signature-encoding.js";
import { derOid } from "../../encoding/der-writer.js";
import { dropFailures } from "../../debug-log.js";
import { withTokenSession } from "../../pkcs11/token-session.js";
import { TOKEN_SESSION_KINDS, type TokenSessionOptions } from "../../pkcs11/token-session-options.js";
import { optionName, refuseWrongOptions } from "../../signers/options.js";

export interface TokenKeygenOptions extends TokenSessionOptions {
  /** Token (and optionally `id=` / `object=`) to create the key on. */
  readonly uri: string;
  readonly spec: KeySpec;
  /** CKA_ID; default: the URI's `id`, else 8 random bytes. */
  readonly id?: Buffer | undefined;
  /** CKA_LABEL; default: the URI's `object`. */
  readonly label?: string | undefined;
}

export interface TokenKeygenResult {
  /** Names the key pair and, after install-certificate, its certificate: use it for --private-key and --certificate. */
  readonly uri: string;
  readonly publicKey: KeyObject | undefined;
}

/** The checks that need no token (the URI's type, a label, a non-empty id, its pin-source): keygen makes them first. */
export function checkTokenKeygen(opts: TokenKeygenOptions): { label: string; id: Buffer | undefined } {
  const uri = wipeUriPin(parsePkcs11Uri(opts.uri));
  if (uri.pin) pinFromUri(uri.pin); // a pin-source refused (https:, another host's file://)
  if (uri.type !== undefined && uri.type !== "private") {
    throw new UsageError("USAGE", `keygen creates key pairs; drop type=${uri.type} from the URI`);
  }
  const label = opts.label ?? uri.object;
  const hint = `add object=<label> to the URI or pass ${optionName(opts.names, "label")}`;
  if (!label) throw new UsageError("USAGE", "the new key needs a label", { hint });
  const id = opts.id ?? uri.id;
  if (id?.length === 0) throw new UsageError("USAGE", "the key id may not be empty");
  return { label, id };
}

const KEYGEN_KINDS: Kinds = {
  ...TOKEN_SESSION_KINDS, uri: "string", spec: KEY_SPEC, id: [Buffer.isBuffer, "a Buffer"], label: "string",
};

export async function generateKeyOnToken(given: TokenKeygenOptions): Promise<TokenKeygenResult> {
  refuseWrongOptions("generateKeyOnToken", given, KEYGEN_KINDS, ["uri", "spec"]);
  const opts = { ...given, debug: dropFailures(given.debug) };
  const { label, id: givenId } = checkTokenKeygen(opts);
  const id = givenId ?? randomBytes(8);
  return withTokenSession(parsePkcs11Uri(opts.uri), opts, (context) => {
    const pair = generateTokenKeyPair(context, opts.spec, id, label, optionName(opts.names, "spec"));
    const [key] = findPrivateKeys(context, { id, label });
    if (!key) {
      // The module dropped or changed CKA_ID or CKA_LABEL: no URI would find the pair, yet it takes a key slot.
      const left = destroyPair(context, pair);
      throw new InputError("PKCS11_OBJECT_NOT_FOUND", `the generated key cannot be found on the token by its id and label; the key pair ${left}`);
    }
    return { uri: formatPkcs11Uri(tokenKeyUri(context.slot.token, id, label)), publicKey: publicKeyOf(context, key) };
  }, (option) => optionName(opts.names, option));
}

/**
 * token, serial, id and object: enough to find the key and its certificate, short enough to type. The token's label
 * and serial as tokenUri names them: by their bytes where they are not UTF-8 (`token=caf%E9`).
 */
export function tokenKeyUri(token: TokenIdentity, id: Buffer, label: string): Pkcs11Uri {
  const named = tokenUri({ token });
  // No label (or none that is UTF-8): an `object=` with nothing after it would select only objects labelled "".
  return { ...(named.token !== undefined ? { token: named.token } : {}), ...(named.serial?.length ? { serial: named.serial } : {}), id, ...(label ? { object: label } : {}) };
}

/**
 * The usage attributes keygen asks for, strictest first. Modules disagree on which of them a template may
 * name: tpm2-pkcs11 maps CKA_VERIFY to the TPM's decrypt bit and CKA_ENCRYPT to its sign bit, so a public
 * template that says VERIFY=true, ENCRYPT=false is refused (CKR_GENERAL_ERROR, "attr mismatch"). A module
 * that refuses one set gets the next; whatever it made is then read back and judged (keyWeaknesses).
 */
function usageTemplates(spec: KeySpec): { readonly name: string; readonly publicUsage: Template; readonly privateUsage: Template }[] {
  const signOnly: Template = [
    { type: CKA.SIGN, value: true },
    { type: CKA.SIGN_RECOVER, value: false },
    { type: CKA.DECRYPT, value: false },
    { type: CKA.UNWRAP, value: false },
    ...(spec.kind === "EC" ? [{ type: CKA.DERIVE, value: false }] : []),
  ];
  return [
    {
      name: "sign-only private key, verify-only public key",
      publicUsage: [
        { type: CKA.VERIFY, value: true },
        { type: CKA.ENCRYPT, value: false },
        { type: CKA.WRAP, value: false },
      ],
      privateUsage: signOnly,
    },
    { name: "sign-only private key, public key usage left to the module", publicUsage: [], privateUsage: signOnly },
    { name: "CKA_SIGN only, the rest left to the module", publicUsage: [], privateUsage: [{ type: CKA.SIGN, value: true }] },
  ];
}

/** Return codes with which modules refuse a template they do not like (tpm2-pkcs11: CKR_GENERAL_ERROR). */
const TEMPLATE_REFUSED = new Set([
  "CKR_ATTRIBUTE_TYPE_INVALID",
  "CKR_ATTRIBUTE_VALUE_INVALID",
  "CKR_ATTRIBUTE_READ_ONLY",
  "CKR_TEMPLATE_INCONSISTENT",
  "CKR_TEMPLATE_INCOMPLETE",
  "CKR_GENERAL_ERROR",
]);

/**
 * Generates a key pair that never leaves the token; the public key shares the private key's CKA_ID and CKA_LABEL
 * so that one URI finds both. PKCS#11 lets a module ignore template attributes, so the private key's attributes
 * are read back afterwards: a key weaker than asked for is destroyed again and reported. `keyType`: the key-type
 * option as the caller names it.
 */
function generateTokenKeyPair(context: TokenContext, spec: KeySpec, id: Buffer, label: string, keyType: string): KeyPairHandles {
  const token = describeToken(context.slot.token);
  const used = objectsUsing(context, id, label);
  if (used) {
    throw new InputError("OBJECT_EXISTS", `${token} already has objects with ${used}`, {
      hint: "choose another id and label; keygen never replaces or shares an existing key's identity",
    });
  }
  const pair = generateWithAcceptedTemplate(context, spec, id, label, keyType);
  const weaknesses = keyWeaknesses(readKeyProperties(context, pair.privateKey));
  const other = weaknesses.length > 0 ? undefined : otherKeyThanAsked(context, pair.publicKey, spec);
  // Another process's keygen may have made its pair since the check above: each keeps its own only if it then
  // sees no other, so at most one of them does (before: both did, two keys under one label).
  const ours = new Set([pair.privateKey, pair.publicKey].map((handle) => handle.toString("hex")));
  const sharing = [...findObjects(context, { id }), ...findObjects(context, { label })];
  const twin = sharing.some((handle) => !ours.has(handle.toString("hex")));
  if (weaknesses.length === 0 && other === undefined && !twin) return pair;
  const left = destroyPair(context, pair);
  if (twin) {
    const what = `other objects with label "${label}" or id ${id.toString("hex")}`;
    // Left on the token, this pair is told from the other keygen's only by the id or label that the other's lacks.
    const named = `id ${id.toString("hex")} and label "${label}"`;
    const alike = findObjects(context, { id, label }).some((handle) => !ours.has(handle.toString("hex")));
    const hint = left === DESTROYED
      ? "another keygen ran at the same time: use the key it made, or run keygen again with another label"
      : alike
        ? `another keygen made a pair with the same ${named} at the same time: the two cannot be told apart; delete both and run keygen again`
        : `another keygen ran at the same time: the pair to delete is this keygen's, the only one with both ${named}; keep the other keygen's`;
    throw new InputError("OBJECT_EXISTS", `${token} got ${what} while this key was made; it ${left}`, { hint });
  }
  if (other !== undefined) {
    const what = `${token} made another key than asked for (${other})`;
    throw new DeviceError("PKCS11_ERROR", `${what}; the generated key pair ${left}`, {
      hint: `the module ignored the key size or curve asked for: try another ${keyType}`,
    });
  }
  throw new DeviceError("PKCS11_ERROR", `${token} made a weaker key than asked for (${weaknesses.join("; ")}); the generated key pair ${left}`, {
    hint: "this module cannot hold a sign-only, non-extractable key; use another token or a TPM",
  });
}

/** A module may ignore CKA_MODULUS_BITS or CKA_EC_PARAMS: the public key's other size or curve, read back. */
function otherKeyThanAsked(context: TokenContext, publicKey: Buffer, spec: KeySpec): string | undefined {
  if (spec.kind === "RSA") {
    const [modulus] = readAttributes(context, publicKey, [CKA.MODULUS]);
    if (!modulus?.some((b) => b !== 0)) return undefined; // not shown (a placeholder of zeros): nothing to judge
    const bits = BigInt(`0x${modulus.toString("hex")}`).toString(2).length;
    return bits !== spec.bits ? `a ${bits}-bit RSA modulus, not ${spec.bits}` : undefined;
  }
  const [params] = readAttributes(context, publicKey, [CKA.EC_PARAMS]);
  const curve = curveFromEcParams(params)?.name; // another encoding of the curve is not judged
  return curve !== undefined && curve !== spec.curve ? `${curve}, not ${spec.curve}` : undefined;
}

type KeyPairHandles = ReturnType<typeof generateKeyPair>;

/** Destroys both objects of the pair (each is tried); says, for a message, whether they are gone. */
function destroyPair(context: TokenContext, pair: KeyPairHandles): string {
  const gone = [pair.privateKey, pair.publicKey].map((handle) => quietly(() => destroyObject(context, handle))).every(Boolean);
  return gone ? DESTROYED : "could not be destroyed: delete it with the token's tools";
}
const DESTROYED = "was destroyed";

function generateWithAcceptedTemplate(
  context: TokenContext, spec: KeySpec, id: Buffer, label: string, keyType: string,
): KeyPairHandles {
  const token = describeToken(context.slot.token);
  const common: Template = [
    { type: CKA.TOKEN, value: true },
    { type: CKA.ID, value: id },
    { type: CKA.LABEL, value: label },
  ];
  const publicBase: Template = [
    { type: CKA.CLASS, value: CKO.PUBLIC_KEY },
    ...common,
    { type: CKA.PRIVATE, value: false },
    ...(spec.kind === "RSA"
      ? [{ type: CKA.MODULUS_BITS, value: spec.bits }, { type: CKA.PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) }]
      : [{ type: CKA.EC_PARAMS, value: derOid(NAMED_CURVES[spec.curve].oid) }]),
  ];
  const privateBase: Template = [
    { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
    { type: CKA.KEY_TYPE, value: spec.kind === "RSA" ? CKK.RSA : CKK.EC },
    ...common,
    { type: CKA.PRIVATE, value: true },
    { type: CKA.SENSITIVE, value: true },
    { type: CKA.EXTRACTABLE, value: false },
  ];
  const mechanism = spec.kind === "RSA" ? CKM.RSA_PKCS_KEY_PAIR_GEN : CKM.EC_KEY_PAIR_GEN;
  const failed = (error: unknown) =>
    pkcs11Failure(`generating a ${spec.name} key pair on ${token}`, error, generationHint(error, spec, keyType));
  let refusal: unknown;
  for (const usage of usageTemplates(spec)) {
    try {
      const pair = generateKeyPair(context, mechanism, [...publicBase, ...usage.publicUsage], [...privateBase, ...usage.privateUsage]);
      context.debug?.(`pkcs11: generated the ${spec.name} key pair with the template "${usage.name}"`);
      return pair;
    } catch (error) {
      const name = ckrName(error);
      if (name === undefined || !TEMPLATE_REFUSED.has(name)) {
        throw failed(error);
      }
      context.debug?.(`pkcs11: ${token} refused the template "${usage.name}": ${describeCkr(error)}`);
      refusal ??= error;
      const left = objectsUsing(context, id, label);
      if (left) {
        throw new DeviceError("PKCS11_ERROR", `${token} refused the key template (${describeCkr(error)}) but left objects with ${left} behind`, {
          hint: "delete them with the token's tools (e.g. pkcs11-tool --delete-object) before trying again",
        });
      }
    }
  }
  throw failed(refusal);
}

/** What of this id and label objects on the token use (`id 01 and label "k"`), if any: a new key must not share either. */
function objectsUsing(context: TokenContext, id: Buffer, label: string): string | undefined {
  const byId = findObjects(context, { id }).length > 0 ? `id ${id.toString("hex")}` : "";
  const byLabel = findObjects(context, { label }).length > 0 ? `label "${label}"` : "";
  return [byId, byLabel].filter(Boolean).join(" and ") || undefined;
}

function generationHint(error: unknown, spec: KeySpec, keyType: string): string | undefined {
  const text = describeCkr(error);
  if (/CKR_MECHANISM_INVALID|CKR_MECHANISM_PARAM_INVALID|CKR_DOMAIN_PARAMS_INVALID|CKR_TEMPLATE_INCONSISTENT|CKR_ATTRIBUTE_VALUE_INVALID/.test(text)) {
    return `the token may not support ${spec.name} keys; try another ${keyType}`;
  }
  return undefined;
}
