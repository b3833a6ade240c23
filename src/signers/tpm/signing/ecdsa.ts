import { InputError } from "../../../errors.js";
import { Sign } from "../../../tpm/wire/commands.js";
import { curveInfo, hashInfo, TPM_ALG } from "../../../tpm/wire/constants.js";
import type { TpmtPublicEcc } from "../../../tpm/wire/structures.js";
import { ecdsaSignatureToDer } from "../../../encoding/signature-encoding.js";
import { fitDigest, NULL_TICKET, type TpmSigningKey } from "./signing-key.js";

/** Hash whose size matches an ECC curve (capped at SHA-512), as the Go helper declares it to the TPM. */
function eccHashFor(curveSize: number): number {
  return curveSize <= 32 ? TPM_ALG.SHA256 : curveSize <= 48 ? TPM_ALG.SHA384 : TPM_ALG.SHA512;
}

/** TPM2_Sign with ECDSA over `hash` (fitted to the hash the key or its curve calls for); DER-encoded. */
export async function signEcdsa(key: TpmSigningKey, pub: TpmtPublicEcc, hash: Buffer): Promise<Buffer> {
  const curve = curveInfo(pub.parameters.curveID);
  if (!curve) throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${key.what}: unsupported ECC curve 0x${pub.parameters.curveID.toString(16)}`);
  const keyScheme = pub.parameters.scheme;
  if (keyScheme.scheme !== TPM_ALG.NULL && keyScheme.scheme !== TPM_ALG.ECDSA) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${key.what}: the key is fixed to a signature scheme other than ECDSA (0x${keyScheme.scheme.toString(16)})`);
  }
  const hashAlg = keyScheme.scheme === TPM_ALG.ECDSA ? keyScheme.hashAlg : eccHashFor(curve.size);
  const size = hashInfo(hashAlg).size;
  if (hash.length > size && size < curve.size) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${key.what}: the key only signs ECDSA with ${hashInfo(hashAlg).name.toUpperCase()}; use that digest`);
  }
  const { response } = await key.authorized((auth) =>
    key.tpm.execute(Sign, { keyHandle: key.entity }, { digest: fitDigest(hash, size), inScheme: { scheme: TPM_ALG.ECDSA, hashAlg }, validation: NULL_TICKET }, [auth]),
  );
  const sig = response.signature;
  if (sig.sigAlg !== TPM_ALG.ECDSA) throw new InputError("TPM_KEY_INVALID", `${key.what}: the TPM returned a non-ECDSA signature`);
  return ecdsaSignatureToDer(sig.signatureR, sig.signatureS);
}
