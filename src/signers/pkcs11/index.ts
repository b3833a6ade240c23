/** The PKCS#11 back-end, imported lazily (signer factory, read-certificate-data) so that file keys never load the binding. */
export { createPkcs11Signer } from "./open-signer.js";
export { listPkcs11Certificates, type ListPkcs11Options, type Pkcs11CertificateEntry } from "./list-certificates.js";
export { formatPkcs11Uri, isPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from "../../pkcs11/uri.js";
export type { UnreadableCertificate } from "../../pkcs11/unreadable-certificate.js";
export { Pkcs11AmbiguousError } from "../../pkcs11/pkcs11-errors.js";
