import { TPMA_OBJECT, TPM_ALG, TPM_ECC } from "../wire/constants.js";
import type { TpmtPublic } from "../wire/structures.js";

const SRK_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.userWithAuth |
  TPMA_OBJECT.noDA |
  TPMA_OBJECT.restricted |
  TPMA_OBJECT.decrypt; // 0x00030472

const AES_128_CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB } as const;

/**
 * The storage primary every TSS2 key-file producer re-creates for a hierarchy parent (TCG Provisioning
 * Guidance SRK, EK Credential Profile template H-2: ECC NIST P-256, zero-size unique). Any byte difference
 * yields a different key and TPM2_Load then fails with TPM_RC_INTEGRITY.
 */
export const SRK_TEMPLATE_ECC: TpmtPublic = {
  type: TPM_ALG.ECC,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: SRK_ATTRIBUTES,
  authPolicy: Buffer.alloc(0),
  parameters: { symmetric: AES_128_CFB, scheme: { scheme: TPM_ALG.NULL }, curveID: TPM_ECC.NIST_P256, kdf: { scheme: TPM_ALG.NULL } },
  unique: { x: Buffer.alloc(0), y: Buffer.alloc(0) },
};

/** Template H-1 (RSA-2048): used when the key file says rsaParent, or the TPM has no ECC (as tpm2-openssl does). */
export const SRK_TEMPLATE_RSA: TpmtPublic = {
  type: TPM_ALG.RSA,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: SRK_ATTRIBUTES,
  authPolicy: Buffer.alloc(0),
  parameters: { symmetric: AES_128_CFB, scheme: { scheme: TPM_ALG.NULL }, keyBits: 2048, exponent: 0 },
  unique: Buffer.alloc(0),
};
