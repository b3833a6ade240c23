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
    const parsed = AsnConvert.parse(cert.der, x509.Certificate);
    const extensions = parsed.tbsCertificate.extensions ?? [];
    const bc = extensions.find((e) => e.extnID === BASIC_CONSTRAINTS);
    const basic = bc ? AsnConvert.parse(bc.extnValue, x509.BasicConstraints) : undefined;
    const ku = extensions.find((e) => e.extnID === KEY_USAGE);
    return {
      isCa: basic?.cA,
      pathLenConstraint: basic?.pathLenConstraint,
      keyUsage: ku ? new Set<string>(AsnConvert.parse(ku.extnValue, x509.KeyUsage).toJSON()) : undefined,
      signatureAlgorithmOid: parsed.signatureAlgorithm.algorithm,
    };
  } catch (cause) {
    throw new InputError("CERTIFICATE_INVALID", `could not read the extensions of certificate "${cert.subject.split("\n").join(", ")}"`, { cause });
  }
}
