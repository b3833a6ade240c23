import type { DigestAlgorithm } from "../../signer.js";
import { RSA_Decrypt } from "../../../tpm/wire/commands.js";
import { TPM_ALG } from "../../../tpm/wire/constants.js";
import { emsaPkcs1v15 } from "../../../encoding/signature-encoding.js";
import { fitDigest, type TpmSigningKey } from "./signing-key.js";

/**
 * An RSASSA-PKCS1-v1_5 signature made by raw RSA decryption (TPM2_RSA_Decrypt, scheme NULL) of the padded
 * block: for decrypt-only keys, or hashes the TPM lacks for TPM2_Sign.
 */
export async function signByRsaDecrypt(key: TpmSigningKey, hash: Buffer, digest: DigestAlgorithm, modulusBytes: number): Promise<Buffer> {
  const block = emsaPkcs1v15(hash, digest, modulusBytes);
  const { response } = await key.authorized((auth) =>
    key.tpm.execute(RSA_Decrypt, { keyHandle: key.entity }, { cipherText: block, inScheme: { scheme: TPM_ALG.NULL }, label: Buffer.alloc(0) }, [auth]),
  );
  return fitDigest(response.message, modulusBytes);
}
