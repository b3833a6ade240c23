import { TAG, children, decodeAlgorithmIdentifier, expectTag, readSingle, unlessMalformed } from "../../../encoding/der.js";
import { loadMlDsa } from "./params.js";
import { readSpki } from "../../../x509/tbs-fields.js";
import { decodeMlDsaSpki } from "./spki.js";

/**
 * Verifies a pure ML-DSA signature (empty context, FIPS 204 ML-DSA.Verify) over `message` with the public key
 * in `spki` (a DER SubjectPublicKeyInfo, e.g. a certificate's). False for a wrong signature, a signature of
 * the wrong length, and an SPKI that is not an ML-DSA key.
 */
export async function verifyMlDsa(spki: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const key = unlessMalformed(() => decodeMlDsaSpki(Buffer.from(spki)));
  if (key === undefined || signature.length !== key.parameterSet.signatureLength) return false;
  const mlDsa = await loadMlDsa(key.parameterSet.name);
  return mlDsa.verify(signature, message, key.publicKey);
}

/** {@link verifyMlDsa} with the public key of a DER certificate (false when the certificate is malformed). */
export async function verifyMlDsaWithCertificate(certificateDer: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const spki = unlessMalformed(() => readSpki(certificateDer).der);
  return spki !== undefined && verifyMlDsa(spki, message, signature);
}

/**
 * True when `issuer`'s ML-DSA key signed `certificate` (signatureAlgorithm = the issuer's ML-DSA OID, no
 * parameters, RFC 9881 §2). OpenSSL 3.0 cannot check such signatures, so chain validation calls this for
 * issuers whose key is ML-DSA.
 */
export async function verifyMlDsaCertificateSignature(
  certificate: { readonly der: Uint8Array },
  issuer: { readonly der: Uint8Array },
): Promise<boolean> {
  const parts = unlessMalformed(() => {
    const issuerSpki = readSpki(issuer.der).der;
    const issuerKey = decodeMlDsaSpki(issuerSpki);
    const [tbs, algorithm, signature] = children(readSingle(Buffer.from(certificate.der), TAG.SEQUENCE));
    const { oid, parameters } = decodeAlgorithmIdentifier(algorithm);
    const bits = expectTag(signature, TAG.BIT_STRING).content;
    if (issuerKey === undefined || oid !== issuerKey.parameterSet.oid || parameters !== undefined || bits[0] !== 0) return undefined;
    return { issuerSpki, tbs: expectTag(tbs, TAG.SEQUENCE).raw, signature: bits.subarray(1) };
  });
  return parts !== undefined && verifyMlDsa(parts.issuerSpki, parts.tbs, parts.signature);
}
