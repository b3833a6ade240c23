import type { Certificate } from "./certificate.js";

/**
 * The `read-certificate-data` JSON object, field for field as aws_signing_helper prints it:
 * `{"keyType","certificateData","serialNumber","supportedAlgorithms"}`.
 */
export interface CertificateData {
  /** `RSA`, `EC`, `ML-DSA-44|65|87`, or "" for any other key type. */
  keyType: string;
  /** Standard base64 of the DER certificate. */
  certificateData: string;
  /** Decimal serial number. */
  serialNumber: string;
  supportedAlgorithms: string[];
}

export async function certificateData(cert: Certificate): Promise<CertificateData> {
  const keyType = (await cert.keyType()) ?? "";
  const perHash = keyType === "RSA" || keyType === "EC" || keyType === "";
  return {
    keyType,
    certificateData: cert.base64,
    serialNumber: cert.serialDecimal,
    supportedAlgorithms: perHash ? ["SHA256", "SHA384", "SHA512"].map((hash) => `${keyType}${hash}`) : [keyType],
  };
}
