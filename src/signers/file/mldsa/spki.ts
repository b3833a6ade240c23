import { DerError, TAG, children, decodeAlgorithmIdentifier, expectTag, readSingle } from "../../../encoding/der.js";
import { mlDsaParameterSetForOid, type MlDsaParameterSet } from "./params.js";

/**
 * DER SubjectPublicKeyInfo of an ML-DSA public key: `SEQUENCE { SEQUENCE { OID }, BIT STRING }`, the
 * parameters absent (RFC 9881 §2) and the BIT STRING holding the raw FIPS 204 public key.
 */
export function encodeMlDsaSpki(parameterSet: MlDsaParameterSet, publicKey: Uint8Array): Buffer {
  const algorithm = tlv(TAG.SEQUENCE, encodeOid(parameterSet.oid));
  const bits = tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), publicKey]));
  return tlv(TAG.SEQUENCE, Buffer.concat([algorithm, bits]));
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

/**
 * The DER SubjectPublicKeyInfo inside a DER certificate, read without a full X.509 parser:
 * TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serial, signature, issuer, validity, subject, spki, … }.
 */
export function certificateSpkiDer(certificateDer: Uint8Array): Buffer {
  const [tbs] = children(readSingle(Buffer.from(certificateDer), TAG.SEQUENCE));
  const fields = children(expectTag(tbs, TAG.SEQUENCE));
  const start = fields[0]?.tag === TAG.CONTEXT_0 ? 1 : 0;
  return expectTag(fields[start + 5], TAG.SEQUENCE).raw;
}

function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(header), content]);
}

function encodeOid(oid: string): Buffer {
  const [first = 0, second = 0, ...rest] = oid.split(".").map(Number);
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(TAG.OID, Buffer.from(bytes));
}
