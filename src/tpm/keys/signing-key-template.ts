import { TPMA_OBJECT, TPM_ALG, TPM_ECC } from "../wire/constants.js";
import type { TpmtPublic } from "../wire/structures.js";

/** The key types keygen makes (provisioning's `KeySpec` is one). */
export type SigningKeyType = { readonly kind: "RSA"; readonly bits: number } | { readonly kind: "EC"; readonly curve: "P-256" | "P-384" };

/**
 * The public template of a signing key: fixedTPM|fixedParent (it can never be duplicated off this TPM),
 * sensitiveDataOrigin (the TPM made the private part), sign only (no decrypt: least privilege), unrestricted
 * (so TPM2_Sign accepts digests it did not hash), scheme NULL (the signer picks ECDSA/RSASSA and the hash
 * per signature). With a policy, userWithAuth is cleared so that the password alone cannot bypass it.
 */
export function signingKeyTemplate(spec: SigningKeyType, authPolicy: Buffer | undefined): TpmtPublic {
  const attributes =
    TPMA_OBJECT.fixedTPM |
    TPMA_OBJECT.fixedParent |
    TPMA_OBJECT.sensitiveDataOrigin |
    TPMA_OBJECT.sign |
    (authPolicy ? 0 : TPMA_OBJECT.userWithAuth);
  const common = { nameAlg: TPM_ALG.SHA256, objectAttributes: attributes, authPolicy: authPolicy ?? Buffer.alloc(0) };
  if (spec.kind === "RSA") {
    return {
      type: TPM_ALG.RSA,
      ...common,
      parameters: { symmetric: { algorithm: TPM_ALG.NULL }, scheme: { scheme: TPM_ALG.NULL }, keyBits: spec.bits, exponent: 0 },
      unique: Buffer.alloc(0),
    };
  }
  return {
    type: TPM_ALG.ECC,
    ...common,
    parameters: {
      symmetric: { algorithm: TPM_ALG.NULL },
      scheme: { scheme: TPM_ALG.NULL },
      curveID: spec.curve === "P-256" ? TPM_ECC.NIST_P256 : TPM_ECC.NIST_P384,
      kdf: { scheme: TPM_ALG.NULL },
    },
    unique: { x: Buffer.alloc(0), y: Buffer.alloc(0) },
  };
}
