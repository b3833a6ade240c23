import { generateKeyPairSync } from "node:crypto";
import { TPMA_OBJECT, TPM_ALG, TPM_ECC } from "../../src/tpm/wire/constants.js";
import type { TpmtPublic } from "../../src/tpm/wire/structures.js";

/** The TPMT_PUBLIC of a fresh NIST P-256 signing key, as a TPM would describe it (`extra`: more attribute bits). */
export function eccSigningPublic(extra = 0): TpmtPublic {
  const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.sign | extra,
    authPolicy: Buffer.alloc(0),
    parameters: { symmetric: { algorithm: TPM_ALG.NULL }, scheme: { scheme: TPM_ALG.NULL }, curveID: TPM_ECC.NIST_P256, kdf: { scheme: TPM_ALG.NULL } },
    unique: { x: Buffer.from(jwk.x!, "base64url"), y: Buffer.from(jwk.y!, "base64url") },
  };
}
