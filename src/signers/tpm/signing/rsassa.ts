import { InputError } from "../../../errors.js";
import { TpmResponseError } from "../../../tpm/client/tpm-error.js";
import { Sign } from "../../../tpm/wire/commands.js";
import { TPM_ALG } from "../../../tpm/wire/constants.js";
import { RC } from "../../../tpm/wire/response-code.js";
import { fitDigest, NULL_TICKET, type TpmSigningKey } from "./signing-key.js";

/** TPM2_Sign with RSASSA-PKCS1-v1_5 over `hash` (a TPM hash algorithm `hashAlg`), modulus-sized. */
export async function signRsassa(key: TpmSigningKey, hash: Buffer, hashAlg: number, modulusBytes: number): Promise<Buffer> {
  const { response } = await key.authorized((auth) =>
    key.tpm.execute(Sign, { keyHandle: key.entity }, { digest: hash, inScheme: { scheme: TPM_ALG.RSASSA, hashAlg }, validation: NULL_TICKET }, [auth]),
  );
  const sig = response.signature;
  if (sig.sigAlg !== TPM_ALG.RSASSA) throw new InputError("TPM_KEY_INVALID", `${key.what}: the TPM returned a non-RSASSA signature`);
  return fitDigest(sig.sig, modulusBytes);
}

/**
 * Whether the TPM refused RSASSA because it lacks the hash (SHA-512 is often missing): only a parameter
 * error says so (a handle error means the key is gone).
 */
export function isRsassaHashUnsupported(e: unknown): boolean {
  return e instanceof TpmResponseError && e.decoded.handle === undefined && (e.is(RC.HASH) || e.is(RC.SCHEME) || e.is(RC.VALUE));
}
