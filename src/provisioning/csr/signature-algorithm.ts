import type { KeyObject } from "node:crypto";
import { InputError, UsageError } from "../../errors.js";
import type { DigestAlgorithm } from "../../signers/signer.js";
import { NAMED_CURVES } from "../../encoding/signature-encoding.js";

/** How a CSR (or certificate) is signed: the AlgorithmIdentifier and the digest the signer applies. */
export interface SignatureAlgorithm {
  readonly oid: string;
  /** RSA PKCS#1 v1.5 identifiers carry an explicit NULL parameter (RFC 4055 §5); ECDSA ones none (RFC 5758 §3.2). */
  readonly nullParameters: boolean;
  readonly digest: DigestAlgorithm;
}

const RSA: Record<DigestAlgorithm, string> = {
  SHA256: "1.2.840.113549.1.1.11",
  SHA384: "1.2.840.113549.1.1.12",
  SHA512: "1.2.840.113549.1.1.13",
};
const ECDSA: Record<DigestAlgorithm, string> = {
  SHA256: "1.2.840.10045.4.3.2",
  SHA384: "1.2.840.10045.4.3.3",
  SHA512: "1.2.840.10045.4.3.4",
};

export function signatureAlgorithmFor(publicKey: KeyObject, digest?: DigestAlgorithm): SignatureAlgorithm {
  const type = publicKey.asymmetricKeyType;
  if (type === "rsa") {
    const d = digest ?? "SHA256";
    return { oid: RSA[d], nullParameters: true, digest: d };
  }
  if (type === "ec") {
    const curve = publicKey.asymmetricKeyDetails?.namedCurve ?? "";
    const d = digest ?? Object.values(NAMED_CURVES).find((c) => c.ecdhName === curve)?.digest;
    if (d === undefined) throw new InputError("PRIVATE_KEY_UNSUPPORTED", `EC curve ${curve || "(unknown)"} is not supported for certificate requests`, { hint: "use P-256, P-384 or P-521" });
    return { oid: ECDSA[d], nullParameters: false, digest: d };
  }
  throw new UsageError("USAGE", `certificate requests for ${type ?? "this"} keys are not supported`, { hint: "use an RSA or EC key" });
}
