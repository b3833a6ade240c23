import { InputError } from "../errors.js";
import type { Certificate } from "../x509/certificate.js";

/** The X.509 extensions and algorithms that path validation looks at, read once per certificate. */
export interface CertificateFacts {
  /** basicConstraints cA; undefined when the extension is absent. */
  readonly isCa: boolean | undefined;
  readonly pathLenConstraint: number | undefined;
  /** keyUsage bit names (`digitalSignature`, `keyCertSign`, …); undefined when the extension is absent. */
  readonly keyUsage: ReadonlySet<string> | undefined;
  /** OID of the algorithm the issuer signed this certificate with. */
  readonly signatureAlgorithmOid: string;
}

const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";

/** Signature algorithms Roles Anywhere refuses (MD5 and SHA-1 based). */
export const WEAK_SIGNATURE_ALGORITHMS: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10040.4.3": "dsa-with-sha1",
};

/** Reads the facts; throws CERTIFICATE_INVALID when an extension is malformed. */
export async function certificateFacts(cert: Certificate): Promise<CertificateFacts> {
  const [{ AsnConvert }, x509] = await Promise.all([import("@peculiar/asn1-schema"), import("@peculiar/asn1-x509")]);
  try {
    return readFacts(cert, AsnConvert, x509);
  } catch (cause) {
    throw new InputError("CERTIFICATE_INVALID", `could not read the extensions of certificate "${cert.subject.split("\n").join(", ")}"`, { cause });
  }
}

function readFacts(
  cert: Certificate,
  AsnConvert: typeof import("@peculiar/asn1-schema").AsnConvert,
  x509: typeof import("@peculiar/asn1-x509"),
): CertificateFacts {
  const parsed = AsnConvert.parse(cert.der, x509.Certificate);
  const extensions = parsed.tbsCertificate.extensions ?? [];
  const find = (oid: string) => extensions.find((e) => e.extnID === oid);

  const bc = find(BASIC_CONSTRAINTS);
  const basic = bc ? AsnConvert.parse(bc.extnValue, x509.BasicConstraints) : undefined;
  const ku = find(KEY_USAGE);
  const keyUsage = ku ? new Set<string>(AsnConvert.parse(ku.extnValue, x509.KeyUsage).toJSON()) : undefined;
  return {
    isCa: basic?.cA,
    pathLenConstraint: basic?.pathLenConstraint,
    keyUsage,
    signatureAlgorithmOid: parsed.signatureAlgorithm.algorithm,
  };
}
