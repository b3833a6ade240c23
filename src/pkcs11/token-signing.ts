/** One signature: the mechanism (chosen once per key) and C_SignInit / [context login] / C_Sign straight on pkcs11js. */
import { createHash } from "node:crypto";
import { DeviceError, escapeQuoted } from "../errors.js";
import type { PrivateKeyObject, TokenContext, UsableKey } from "./objects.js";
import { ckrName, describeCkr, pkcs11Failure } from "./pkcs11-errors.js";
import { loginContextSpecific, type RememberedPin } from "./pin.js";
import { DIGEST_INFO_PREFIX, NODE_HASH_NAME, curveFromEcParams, ecdsaRawToDer, type DigestAlgorithm } from "../encoding/signature-encoding.js";
import { CKM } from "./constants.js";
import { withoutLeadingZeros } from "../encoding/bytes.js";

const COMBINED: Readonly<Record<DigestAlgorithm, number>> = { SHA256: CKM.SHA256_RSA_PKCS, SHA384: CKM.SHA384_RSA_PKCS, SHA512: CKM.SHA512_RSA_PKCS };

/** A 16384-bit RSA signature, the largest key accepted (ECDSA P-521's is 132 bytes). */
const MAX_SIGNATURE_BYTES = 2048;

/** How a key signs, decided once from the token's mechanism list. */
export type MechanismPlan =
  | { readonly keyType: "EC"; readonly outputBytes: number }
  | {
      readonly keyType: "RSA";
      /** Digests for which the token hashes and pads itself (CKM_SHA*_RSA_PKCS). */
      readonly combined: ReadonlySet<DigestAlgorithm>;
      /** Whether CKM_RSA_PKCS over a local DigestInfo is available as the fallback. */
      readonly raw: boolean;
      readonly outputBytes: number;
    };

export function planMechanisms(context: TokenContext, key: UsableKey): MechanismPlan {
  let mechanisms: Set<number> | undefined;
  try {
    mechanisms = new Set(context.module.lib.C_GetMechanismList(context.slot.handle));
  } catch (error) {
    context.debug?.(`pkcs11: C_GetMechanismList failed (${describeCkr(error)}); assuming the usual mechanisms`);
  }
  const has = (m: number) => mechanisms === undefined || mechanisms.has(m);
  if (key.keyType === "EC") {
    if (!has(CKM.ECDSA)) throw cannotSign(key, "the token does not offer CKM_ECDSA");
    const curve = curveFromEcParams(key.ecParams);
    return { keyType: "EC", outputBytes: curve ? 2 * curve.fieldBytes : 2 * 66 };
  }
  const combined = new Set((Object.keys(COMBINED) as DigestAlgorithm[]).filter((d) => has(COMBINED[d])));
  const raw = mechanisms === undefined ? false : mechanisms.has(CKM.RSA_PKCS);
  if (combined.size === 0 && !raw) throw cannotSign(key, "the token offers neither CKM_SHA256_RSA_PKCS nor CKM_RSA_PKCS");
  const modulusBytes = key.modulus ? withoutLeadingZeros(key.modulus).length : 512;
  return { keyType: "RSA", combined, raw, outputBytes: Math.max(modulusBytes, 256) };
}

/**
 * Signs `message` (hashed locally for ECDSA and the raw RSA fallback, by the token for the combined RSA
 * mechanisms). ECDSA results come back DER-encoded. Synchronous: nothing else can use the session meanwhile.
 * `contextPin`: for always-authenticate keys, already read.
 */
export function signOnToken(
  context: TokenContext,
  key: PrivateKeyObject,
  plan: MechanismPlan,
  message: Uint8Array,
  digest: DigestAlgorithm,
  contextPin: RememberedPin | undefined,
): Buffer {
  const { module: { lib }, session } = context;
  let mechanism: number;
  let data: Buffer;
  if (plan.keyType === "EC") {
    mechanism = CKM.ECDSA;
    data = createHash(NODE_HASH_NAME[digest]).update(message).digest();
  } else if (plan.combined.has(digest)) {
    mechanism = COMBINED[digest];
    data = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  } else if (plan.raw) {
    mechanism = CKM.RSA_PKCS;
    data = Buffer.concat([DIGEST_INFO_PREFIX[digest], createHash(NODE_HASH_NAME[digest]).update(message).digest()]);
  } else {
    throw cannotSign(key, `the token cannot make RSA ${digest} signatures (no CKM_${digest}_RSA_PKCS, no CKM_RSA_PKCS)`);
  }
  lib.C_SignInit(session, { mechanism }, key.handle);
  if (key.alwaysAuthenticate) {
    const pin = contextPin?.peek();
    if (pin === undefined) throw new Error("CKA_ALWAYS_AUTHENTICATE key signed without a context PIN");
    loginContextSpecific(context, pin, contextPin!.description);
  }
  let signature: Buffer;
  try {
    signature = lib.C_Sign(session, data, Buffer.allocUnsafe(plan.outputBytes));
  } catch (error) {
    // A key larger than its attributes said (a placeholder CKA_MODULUS, a wrong CKA_EC_PARAMS): the operation
    // stays active after CKR_BUFFER_TOO_SMALL (the standard's C_Sign), so once more with room for any key.
    if (ckrName(error) !== "CKR_BUFFER_TOO_SMALL") throw error;
    signature = lib.C_Sign(session, data, Buffer.allocUnsafe(MAX_SIGNATURE_BYTES));
  }
  return plan.keyType === "EC" ? ecdsaRawToDer(signature) : Buffer.from(signature);
}

/** Turns token refusals that say "this key cannot do that" into a clear error; others pass through. */
export function signingFailure(key: PrivateKeyObject, error: unknown): Error {
  const name = ckrName(error);
  if (name === "CKR_KEY_FUNCTION_NOT_PERMITTED" || name === "CKR_KEY_TYPE_INCONSISTENT" || name === "CKR_MECHANISM_INVALID") {
    return cannotSign(key, `the token refused: ${describeCkr(error)}`);
  }
  return pkcs11Failure(`signing with ${key.label || "the key"}`, error);
}

function cannotSign(key: PrivateKeyObject, reason: string): DeviceError {
  const name = key.label !== "" ? `"${escapeQuoted(key.label)}"` : key.id.length > 0 ? `with id ${key.id.toString("hex")}` : "(no label, no id)";
  return new DeviceError("PKCS11_KEY_CANNOT_SIGN", `the private key ${name} cannot sign: ${reason}`, {
    hint: "use a key whose CKA_SIGN is true and whose type the token can sign with (RSA PKCS#1 v1.5 or ECDSA)",
  });
}
