import type { InputError } from "../../../errors.js";
import { DerError, TAG, children, decodeAlgorithmIdentifier, expectTag, readSingle } from "../../../encoding/der.js";
import { mlDsaParameterSetForOid, type MlDsaParameterSet } from "../../../x509/certificate.js";
import { DAMAGED_KEY_HINT, unparsableKeyError } from "../signing-key.js";
import { readPkcs8, type Pkcs8Fields } from "../key-checks.js";

/** The contents of an ML-DSA PKCS#8 key, not yet checked for consistency. */
export interface MlDsaPrivateKeyInfo {
  readonly parameterSet: MlDsaParameterSet;
  /** Which CHOICE of ML-DSA-PrivateKey (RFC 9881) the file used. */
  readonly form: "seed" | "expanded" | "both";
  /** ξ, 32 bytes (forms `seed` and `both`). */
  readonly seed: Buffer | undefined;
  /** The FIPS 204 encoded private key (forms `expanded` and `both`). */
  readonly expandedKey: Buffer | undefined;
  /** OneAsymmetricKey's optional `publicKey [1]` (OpenSSL does not write it). */
  readonly publicKey: Buffer | undefined;
}

const ML_DSA_SEED_LENGTH = 32;

/**
 * Reads an ML-DSA OneAsymmetricKey (PKCS#8), its envelope by the rule RSA and EC keys follow ({@link readPkcs8}). The
 * private key is the RFC 9881 CHOICE, told apart by its tag: `seed [0] IMPLICIT OCTET STRING (32)`, `expandedKey OCTET
 * STRING`, or `both SEQUENCE { seed, expandedKey }` (OpenSSL 3.5's default). Returns undefined when the algorithm is
 * not ML-DSA. `source` names the file.
 */
export function decodeMlDsaPrivateKeyInfo(der: Buffer, source: string): MlDsaPrivateKeyInfo | undefined {
  let parameterSet: MlDsaParameterSet | undefined;
  let envelope: Pkcs8Fields;
  try {
    envelope = readPkcs8(der);
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    throw unparsableKeyError(`${source} holds a malformed PKCS#8 key (${cause.message})`, cause);
  }
  try {
    parameterSet = mlDsaParameterSetForOid(decodeAlgorithmIdentifier(envelope.algorithmId).oid);
    if (parameterSet === undefined) return undefined;
    const name = parameterSet.name;
    const choice = readSingle(envelope.privateKey.content);
    const both = choice.tag === TAG.SEQUENCE ? children(choice) : undefined;
    if (both !== undefined && both.length !== 2) throw new DerError("the seed-and-expanded-key SEQUENCE must have two elements");
    const seed = choice.tag === TAG.CONTEXT_0_PRIMITIVE ? choice.content : both && expectTag(both[0], TAG.OCTET_STRING).content;
    const expandedKey = choice.tag === TAG.OCTET_STRING ? choice.content : both && expectTag(both[1], TAG.OCTET_STRING).content;
    if (seed === undefined && expandedKey === undefined) {
      throw malformed(source, name, `an unknown private key encoding (tag 0x${choice.tag.toString(16)})`);
    }
    if (seed !== undefined && seed.length !== ML_DSA_SEED_LENGTH) {
      throw malformed(source, name, `a ${seed.length}-byte seed (expected ${ML_DSA_SEED_LENGTH})`);
    }
    if (expandedKey !== undefined && expandedKey.length !== parameterSet.secretKeyLength) {
      throw malformed(source, name, `a ${expandedKey.length}-byte expanded key (expected ${parameterSet.secretKeyLength})`);
    }
    const publicKey = envelope.publicKey;
    if (publicKey !== undefined && publicKey.length !== parameterSet.publicKeyLength) {
      throw malformed(source, name, `a ${publicKey.length}-byte public key (expected ${parameterSet.publicKeyLength})`);
    }
    const form = seed === undefined ? "expanded" : expandedKey === undefined ? "seed" : "both";
    return { parameterSet, form, seed, expandedKey, publicKey };
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    if (parameterSet === undefined) throw malformed(source, "ML-DSA", "a malformed PKCS#8 structure", cause);
    throw malformed(source, parameterSet.name, "a malformed private key structure", cause);
  }
}

export function malformed(source: string, name: string, what: string, cause?: unknown): InputError {
  const hint = `${DAMAGED_KEY_HINT} (e.g. \`openssl pkey -in KEY -out NEW\`, OpenSSL 3.5 or later)`;
  return unparsableKeyError(`${source} holds an ${name} key with ${what}`, cause, hint);
}
