import { DeviceError, InputError } from "../../../errors.js";
import { TpmResponseError } from "../../../tpm/client/tpm-error.js";
import { hasAttribute } from "../../../tpm/keys/public-area.js";
import { RSA_Decrypt, Sign, type ParamsOf, type ResponseOf } from "../../../tpm/wire/commands.js";
import {
  ECC_CURVES, hashInfo, isTpmHashAlg, TPMA_OBJECT, TPM_ALG, TPM_RH, TPM_ST,
} from "../../../tpm/wire/constants.js";
import { RC } from "../../../tpm/wire/response-code.js";
import type { TpmtPublic, TpmtPublicEcc, TpmtPublicRsa } from "../../../tpm/wire/structures.js";
import { leftPadded } from "../../../encoding/bytes.js";
import { ecdsaSignatureToDer, emsaPkcs1v15, NAMED_CURVES } from "../../../encoding/signature-encoding.js";
import type { DigestAlgorithm } from "../../signer.js";

/** What a signature scheme needs: runs one command on the loaded key with the key's authorization; a refusal is explained. */
export type RunOnKey = <C extends typeof Sign | typeof RSA_Decrypt>(command: C, params: ParamsOf<C>) => Promise<ResponseOf<C>>;

/** TPM2_Sign's validation ticket for an unrestricted key: none. */
const NULL_TICKET = { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) };

/** Left-most bytes when longer (what ECDSA uses anyway), zero-padded on the left when shorter (same integer). */
function fitDigest(digest: Buffer, size: number): Buffer {
  return digest.length >= size ? digest.subarray(0, size) : leftPadded(digest, size);
}

/** A key's fixed scheme by its name in the spec, with its hash: "RSASSA with SHA384", "OAEP with SHA256", "ECDAA". */
function schemeName(fixed: { scheme: number; hashAlg?: number }): string {
  const name = Object.entries(TPM_ALG).find(([, alg]) => alg === fixed.scheme)?.[0] ?? `0x${fixed.scheme.toString(16)}`;
  const { hashAlg } = fixed;
  return hashAlg !== undefined && isTpmHashAlg(hashAlg) ? `${name} with ${hashInfo(hashAlg).name.toUpperCase()}` : name;
}

/** A signature of another algorithm than the one asked for: the TPM's (or the relay's) fault, not the key's. */
function wrongSignature(what: string, sigAlg: number, asked: string): DeviceError {
  const returned = `the TPM returned a ${schemeName({ scheme: sigAlg })} signature, not the ${asked} one asked for`;
  return new DeviceError("TPM_ERROR", `${what}: ${returned}`, {
    hint: "the TPM, or something between it and this process, answered wrongly: check both; the answer was not used",
  });
}

/**
 * Signs `hash` (the `digest` of the message) with the scheme the key allows: ECDSA for ECC keys; for RSA
 * keys TPM2_Sign with RSASSA when the key signs with that hash, else raw RSA decryption of the padded block.
 */
export function signHash(run: RunOnKey, what: string, pub: TpmtPublic, hash: Buffer, digest: DigestAlgorithm): Promise<Buffer> {
  return pub.type === TPM_ALG.ECC ? signEcdsa(run, what, pub, hash) : signRsa(run, what, pub as TpmtPublicRsa, hash, digest);
}

async function signRsa(run: RunOnKey, what: string, pub: TpmtPublicRsa, hash: Buffer, digest: DigestAlgorithm): Promise<Buffer> {
  const hashAlg = TPM_ALG[digest];
  const scheme = pub.parameters.scheme;
  const modulusBytes = pub.parameters.keyBits / 8;
  const canSign =
    hasAttribute(pub, TPMA_OBJECT.sign) && (scheme.scheme === TPM_ALG.NULL || (scheme.scheme === TPM_ALG.RSASSA && scheme.hashAlg === hashAlg));
  const canDecrypt = hasAttribute(pub, TPMA_OBJECT.decrypt) && scheme.scheme === TPM_ALG.NULL;
  if (canSign) {
    try {
      const params = { digest: hash, inScheme: { scheme: TPM_ALG.RSASSA, hashAlg }, validation: NULL_TICKET };
      const { signature: sig } = await run(Sign, params);
      if (sig.sigAlg !== TPM_ALG.RSASSA) throw wrongSignature(what, sig.sigAlg, "RSASSA");
      return fitDigest(sig.sig, modulusBytes);
    } catch (e) {
      // A TPM without this hash for RSASSA (SHA-512 is often missing) can still do the raw decryption. Only a
      // parameter error says so: a handle error means the key is gone.
      const refusedHash =
        e instanceof TpmResponseError && e.decoded.handle === undefined && (e.is(RC.HASH) || e.is(RC.SCHEME) || e.is(RC.VALUE));
      if (!(canDecrypt && refusedHash)) throw e;
    }
  }
  if (!canDecrypt) {
    const cannot = `this RSA key cannot make an RSASSA-${digest} signature`;
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: ${cannot}: its scheme is fixed to ${schemeName(scheme)}`);
  }
  // RSASSA-PKCS1-v1_5 by raw RSA decryption (TPM2_RSA_Decrypt, scheme NULL) of the padded block.
  const params = { cipherText: emsaPkcs1v15(hash, digest, modulusBytes), inScheme: { scheme: TPM_ALG.NULL }, label: Buffer.alloc(0) };
  const { message } = await run(RSA_Decrypt, params);
  return fitDigest(message, modulusBytes);
}

/** TPM2_Sign with ECDSA over `hash` (fitted to the hash the key or its curve calls for); DER-encoded. */
async function signEcdsa(run: RunOnKey, what: string, pub: TpmtPublicEcc, hash: Buffer): Promise<Buffer> {
  const name = ECC_CURVES[pub.parameters.curveID];
  if (!name) throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: unsupported ECC curve 0x${pub.parameters.curveID.toString(16)}`);
  const keyScheme = pub.parameters.scheme;
  if (keyScheme.scheme !== TPM_ALG.NULL && keyScheme.scheme !== TPM_ALG.ECDSA) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: the key is fixed to ${schemeName(keyScheme)}, not ECDSA`);
  }
  const curve = NAMED_CURVES[name];
  // A key without a scheme is asked for the hash of its curve's size, as the Go helper declares it to the TPM.
  const hashAlg = keyScheme.scheme === TPM_ALG.ECDSA ? keyScheme.hashAlg : TPM_ALG[curve.digest];
  const size = hashInfo(hashAlg).size;
  if (hash.length > size && size < curve.fieldBytes) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: the key only signs ECDSA with ${hashInfo(hashAlg).name.toUpperCase()}; use that digest`);
  }
  // The TPM keeps the left-most bits of a digest longer than the curve's order (P-256 with SHA-384): there, the
  // zero-padding of a shorter hash goes on the right of the order-sized part, or the TPM signs another number.
  const over = size - curve.fieldBytes;
  const fitted = over > 0 ? Buffer.concat([fitDigest(hash, size - over), Buffer.alloc(over)]) : fitDigest(hash, size);
  const params = { digest: fitted, inScheme: { scheme: TPM_ALG.ECDSA, hashAlg }, validation: NULL_TICKET };
  const { signature: sig } = await run(Sign, params);
  if (sig.sigAlg !== TPM_ALG.ECDSA) throw wrongSignature(what, sig.sigAlg, "ECDSA");
  return ecdsaSignatureToDer(sig.signatureR, sig.signatureS);
}
