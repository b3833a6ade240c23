import { InputError, UsageError } from "../errors.js";
import { wrongOption } from "../own-value.js";
import { CERTIFICATE, EC_PUBLIC_KEY, RSA_ENCRYPTION, type Certificate } from "./certificate.js";

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
  const wrong = wrongOption({ cert }, { cert: CERTIFICATE }, { required: ["cert"] });
  if (wrong) throw new UsageError("USAGE", `certificateData: ${wrong}`);
  const keyType = (await cert.keyType()) ?? "";
  if (keyType === "") await refuseDamagedKey(cert);
  const perHash = keyType === "RSA" || keyType === "EC" || keyType === "";
  return {
    keyType,
    certificateData: cert.base64,
    serialNumber: cert.serialDecimal,
    supportedAlgorithms: perHash ? ["SHA256", "SHA384", "SHA512"].map((hash) => `${keyType}${hash}`) : [keyType],
  };
}

/** An RSA or EC key that OpenSSL cannot decode is a damaged certificate (the Go helper's parser refuses it), not "". */
async function refuseDamagedKey(cert: Certificate): Promise<void> {
  const { algorithmOid } = await cert.spki();
  if (algorithmOid !== RSA_ENCRYPTION && algorithmOid !== EC_PUBLIC_KEY) return;
  const name = algorithmOid === RSA_ENCRYPTION ? "RSA" : "EC";
  throw new InputError("CERTIFICATE_INVALID", `could not parse certificate: its ${name} public key is malformed`, {
    hint: "the file may be truncated or damaged; export the certificate again",
  });
}
