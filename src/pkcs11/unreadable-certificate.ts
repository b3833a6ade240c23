import type { Pkcs11Uri } from "./uri.js";

// Apart from objects.ts: the library's listPkcs11Certificates options name this type, and objects.ts's declarations
// import pkcs11js's, which an application installed without optional dependencies does not have.

/** A certificate object whose CKA_VALUE is no certificate that can be used (PEM text, truncated or padded DER). */
export interface UnreadableCertificate {
  readonly uri: Pkcs11Uri;
  readonly reason: string;
}

/** What to do about an {@link UnreadableCertificate}. */
export const REWRITE_CERTIFICATE = "write the certificate to the token again in DER (roles-anywhere-agent install-certificate)";
