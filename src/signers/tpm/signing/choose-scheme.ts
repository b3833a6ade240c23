import { InputError } from "../../../errors.js";
import { hasAttribute } from "../../../tpm/keys/public-area.js";
import { TPMA_OBJECT, TPM_ALG } from "../../../tpm/wire/constants.js";
import type { TpmtPublic, TpmtPublicRsa } from "../../../tpm/wire/structures.js";
import type { DigestAlgorithm } from "../../signer.js";
import { signEcdsa } from "./ecdsa.js";
import { signByRsaDecrypt } from "./rsa-decrypt.js";
import { isRsassaHashUnsupported, signRsassa } from "./rsassa.js";
import type { TpmSigningKey } from "./signing-key.js";

/**
 * Signs `hash` (the `digest` of the message) with the scheme the key allows: ECDSA for ECC keys; for RSA
 * keys TPM2_Sign with RSASSA when the key signs with that hash, else raw RSA decryption of the padded block.
 */
export function signHash(key: TpmSigningKey, pub: TpmtPublic, hash: Buffer, digest: DigestAlgorithm): Promise<Buffer> {
  return pub.type === TPM_ALG.ECC ? signEcdsa(key, pub, hash) : signRsa(key, pub as TpmtPublicRsa, hash, digest);
}

async function signRsa(key: TpmSigningKey, pub: TpmtPublicRsa, hash: Buffer, digest: DigestAlgorithm): Promise<Buffer> {
  const hashAlg = { SHA256: TPM_ALG.SHA256, SHA384: TPM_ALG.SHA384, SHA512: TPM_ALG.SHA512 }[digest];
  const scheme = pub.parameters.scheme;
  const modulusBytes = pub.parameters.keyBits / 8;
  const canSign =
    hasAttribute(pub, TPMA_OBJECT.sign) && (scheme.scheme === TPM_ALG.NULL || (scheme.scheme === TPM_ALG.RSASSA && scheme.hashAlg === hashAlg));
  const canDecrypt = hasAttribute(pub, TPMA_OBJECT.decrypt) && scheme.scheme === TPM_ALG.NULL;
  if (canSign) {
    try {
      return await signRsassa(key, hash, hashAlg, modulusBytes);
    } catch (e) {
      // A TPM without this hash for RSASSA can still do the raw decryption.
      if (!(canDecrypt && isRsassaHashUnsupported(e))) throw e;
    }
  }
  if (!canDecrypt) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${key.what}: this RSA key cannot make an RSASSA-${digest} signature (its scheme is fixed to 0x${scheme.scheme.toString(16)})`);
  }
  return signByRsaDecrypt(key, hash, digest, modulusBytes);
}
