import type { Pkcs11Uri } from "./uri.js";

// Apart from objects.ts: the library's listPkcs11Certificates options name this type, and objects.ts's declarations
// import pkcs11js's, which an application installed without optional dependencies does not have.

/**
 * A certificate object the agent does not use: its CKA_VALUE is no certificate that can be used (PEM text, truncated
 * or padded DER), it is not of type X.509, an attribute is larger than any real certificate's, or its module would
 * not give its CKA_VALUE (CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID).
 */
export interface UnreadableCertificate {
  readonly uri: Pkcs11Uri;
  readonly reason: string;
  /** What to do about it. */
  readonly hint: string;
}

/** What to do about an {@link UnreadableCertificate} (but PEM text: {@link REWRITE_PEM_CERTIFICATE}). */
export const REWRITE_CERTIFICATE = "write the certificate to the token again in DER (roles-anywhere-agent install-certificate)";
/** What to do about a certificate object that holds PEM text. */
export const REWRITE_PEM_CERTIFICATE =
  "write it in DER: openssl x509 -in CERT -outform DER -out CERT.der, or let roles-anywhere-agent install-certificate write it";
/** What to do about a certificate object whose module does not give its value out. */
export const MODULE_WITHHOLDS_CERTIFICATE =
  "the token's module keeps the certificate's value to itself: read it with the vendor's tool, or write the certificate to the token again as a public object (roles-anywhere-agent install-certificate)";
