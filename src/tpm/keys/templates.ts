import { TPMA_OBJECT, TPM_ALG, TPM_ECC } from "../wire/constants.js";
import type { TpmtPublic, TpmtPublicRsa } from "../wire/structures.js";

/** The key types keygen makes (provisioning's `KeySpec` is one). */
type SigningKeyType = { readonly kind: "RSA"; readonly bits: number } | { readonly kind: "EC"; readonly curve: "P-256" | "P-384" };

type Symmetric = TpmtPublicRsa["parameters"]["symmetric"];
const NULL_SCHEME = { scheme: TPM_ALG.NULL };

/** An RSA (exponent 0: 65537) or ECC public area with SHA-256 names, scheme NULL and a zero-size unique. */
function keyTemplate(spec: SigningKeyType, attributes: number, symmetric: Symmetric, authPolicy: Buffer = Buffer.alloc(0)): TpmtPublic {
  const common = { nameAlg: TPM_ALG.SHA256, objectAttributes: attributes, authPolicy };
  if (spec.kind === "RSA") {
    const parameters = { symmetric, scheme: NULL_SCHEME, keyBits: spec.bits, exponent: 0 };
    return { type: TPM_ALG.RSA, ...common, parameters, unique: Buffer.alloc(0) };
  }
  const curveID = spec.curve === "P-256" ? TPM_ECC.NIST_P256 : TPM_ECC.NIST_P384;
  const parameters = { symmetric, scheme: NULL_SCHEME, curveID, kdf: NULL_SCHEME };
  return { type: TPM_ALG.ECC, ...common, parameters, unique: { x: Buffer.alloc(0), y: Buffer.alloc(0) } };
}

const { fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, noDA, restricted, decrypt, sign } = TPMA_OBJECT;
const SRK_ATTRIBUTES = fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | restricted | decrypt; // 0x00030472

const AES_128_CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB } as const;

/**
 * The storage primary every TSS2 key-file producer re-creates for a hierarchy parent (TCG Provisioning
 * Guidance SRK, EK Credential Profile template H-2: ECC NIST P-256, zero-size unique). Any byte difference
 * yields a different key and TPM2_Load then fails with TPM_RC_INTEGRITY.
 */
export const SRK_TEMPLATE_ECC = keyTemplate({ kind: "EC", curve: "P-256" }, SRK_ATTRIBUTES, AES_128_CFB);

/** Template H-1 (RSA-2048): used when the key file says rsaParent, or the TPM has no ECC (as tpm2-openssl does). */
export const SRK_TEMPLATE_RSA = keyTemplate({ kind: "RSA", bits: 2048 }, SRK_ATTRIBUTES, AES_128_CFB);

/**
 * The public template of a signing key: fixedTPM|fixedParent (it can never be duplicated off this TPM),
 * sensitiveDataOrigin (the TPM made the private part), sign only (no decrypt: least privilege), unrestricted
 * (so TPM2_Sign accepts digests it did not hash), scheme NULL (the signer picks ECDSA/RSASSA and the hash
 * per signature). With a policy, userWithAuth is cleared so that the password alone cannot bypass it.
 */
export function signingKeyTemplate(spec: SigningKeyType, authPolicy: Buffer | undefined): TpmtPublic {
  const attributes = fixedTPM | fixedParent | sensitiveDataOrigin | sign | (authPolicy ? 0 : userWithAuth);
  return keyTemplate(spec, attributes, { algorithm: TPM_ALG.NULL }, authPolicy);
}

/** TPM2_Create and TPM2_CreatePrimary parameters for `template`: no sensitive data, outside info or creation PCRs. */
export function creationParams(template: TpmtPublic, userAuth: Buffer = Buffer.alloc(0)) {
  return { inSensitive: { userAuth, data: Buffer.alloc(0) }, inPublic: template, outsideInfo: Buffer.alloc(0), creationPCR: [] };
}
