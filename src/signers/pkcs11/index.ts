/**
 * The PKCS#11 back-end: keys on SoftHSM, YubiKey (ykcs11 / OpenSC PIV), TPM-backed tokens and any vendor
 * module, addressed by RFC 7512 URIs. Everything here is imported lazily by the signer factory and the
 * read-certificate-data command, so that file keys never load the PKCS#11 binding.
 */
export { createPkcs11Signer } from "./open-signer.js";
export { listPkcs11Certificates, type ListPkcs11Options, type Pkcs11CertificateEntry } from "./list-certificates.js";
export { formatPkcs11Uri, isPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from "../../pkcs11/uri.js";
export { Pkcs11AmbiguousError } from "../../pkcs11/pkcs11-errors.js";
