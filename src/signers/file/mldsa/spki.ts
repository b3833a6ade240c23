import { DerError, TAG, children, decodeAlgorithmIdentifier, expectTag, readSingle } from "../../../encoding/der.js";
import { mlDsaParameterSetForOid, type MlDsaParameterSet } from "../../../x509/certificate.js";
import { derBitString, derOid, derSequence } from "../../../encoding/der-writer.js";

/**
 * DER SubjectPublicKeyInfo of an ML-DSA public key: `SEQUENCE { SEQUENCE { OID }, BIT STRING }`, the
 * parameters absent (RFC 9881 §2) and the BIT STRING holding the raw FIPS 204 public key.
 */
export function encodeMlDsaSpki(parameterSet: MlDsaParameterSet, publicKey: Uint8Array): Buffer {
  return derSequence(derSequence(derOid(parameterSet.oid)), derBitString(publicKey));
}

/** The parameter set and raw public key of an ML-DSA SubjectPublicKeyInfo; undefined for other algorithms. */
export function decodeMlDsaSpki(spki: Buffer): { parameterSet: MlDsaParameterSet; publicKey: Buffer } | undefined {
  const [algorithm, bits] = children(readSingle(spki, TAG.SEQUENCE));
  const parameterSet = mlDsaParameterSetForOid(decodeAlgorithmIdentifier(algorithm).oid);
  if (parameterSet === undefined) return undefined;
  const content = expectTag(bits, TAG.BIT_STRING).content;
  if (content[0] !== 0) throw new DerError("public key BIT STRING with unused bits");
  const publicKey = content.subarray(1);
  if (publicKey.length !== parameterSet.publicKeyLength) {
    throw new DerError(`${parameterSet.name} public key of ${publicKey.length} bytes (expected ${parameterSet.publicKeyLength})`);
  }
  return { parameterSet, publicKey };
}
