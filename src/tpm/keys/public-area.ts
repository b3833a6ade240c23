import { createHash, type KeyObject } from "node:crypto";
import { InputError } from "../../errors.js";
import { decode, encode, TpmWireError, u16, u32 } from "../wire/codec.js";
import { ECC_CURVES, hashInfo, isTpmHashAlg, TPM_ALG } from "../wire/constants.js";
import { TPMT_PUBLIC, type TpmtPublic } from "../wire/structures.js";
import { ecPublicKey, rsaPublicKey } from "../../encoding/public-key.js";

/** A TPM object's public area: the decoded structure and the exact bytes it came from (its Name hashes them). */
export interface PublicArea {
  readonly bytes: Buffer;
  readonly public: TpmtPublic;
}

/** Decodes TPMT_PUBLIC bytes (without the TPM2B size). */
export function decodePublicArea(bytes: Buffer, what: string): PublicArea {
  try {
    return { bytes: Buffer.from(bytes), public: decode(TPMT_PUBLIC, bytes, what) };
  } catch (cause) {
    if (cause instanceof TpmWireError) throw new InputError("TPM_KEY_INVALID", `${what}: invalid TPM public area (${cause.message})`, { cause });
    throw cause;
  }
}

/** Name = nameAlg ‖ H_nameAlg(TPMT_PUBLIC). */
export function objectName(area: PublicArea): Buffer {
  const { nameAlg } = area.public;
  if (!isTpmHashAlg(nameAlg)) throw new InputError("TPM_KEY_INVALID", `unsupported TPM object name algorithm 0x${nameAlg.toString(16)}`);
  return Buffer.concat([encode(u16, nameAlg), createHash(hashInfo(nameAlg).name).update(area.bytes).digest()]);
}

export function hasAttribute(pub: TpmtPublic, attribute: number): boolean {
  return (pub.objectAttributes & attribute) !== 0;
}

/** e.g. "ECC NIST P-256", "RSA-2048", "keyed-hash (sealed data)". */
export function describeKey(pub: TpmtPublic): string {
  if (pub.type === TPM_ALG.RSA) return `RSA-${pub.parameters.keyBits}`;
  if (pub.type !== TPM_ALG.ECC) return pub.type === TPM_ALG.KEYEDHASH ? "keyed-hash (sealed data or HMAC key)" : "symmetric cipher key";
  const curve = pub.parameters.curveID;
  return `ECC ${ECC_CURVES[curve]?.replace("P-", "NIST P-") ?? `curve 0x${curve.toString(16)}`}`;
}

/** The public key of an RSA or ECC object, for verification and for comparison with the certificate. */
export function publicKeyOf(pub: TpmtPublic, what: string): KeyObject {
  try {
    if (pub.type === TPM_ALG.RSA) {
      // The limit of key files and certificates (x509 MAX_RSA_MODULUS_BITS); no TPM makes keys above 4096 bits.
      if (pub.unique.length > 16_384 / 8) throw new InputError("TPM_KEY_INVALID", `${what}: an RSA key above 16384 bits is not accepted`);
      return rsaPublicKey(pub.unique, encode(u32, pub.parameters.exponent === 0 ? 65537 : pub.parameters.exponent));
    }
    if (pub.type === TPM_ALG.ECC) {
      const curve = ECC_CURVES[pub.parameters.curveID];
      if (!curve) throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: unsupported ECC curve 0x${pub.parameters.curveID.toString(16)}`);
      return ecPublicKey(curve, pub.unique.x, pub.unique.y);
    }
  } catch (cause) {
    if (cause instanceof InputError) throw cause;
    throw new InputError("TPM_KEY_INVALID", `${what}: the TPM public key is not a valid ${describeKey(pub)} key`, { cause });
  }
  throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: a ${describeKey(pub)} cannot sign; only RSA and ECC keys can`);
}
