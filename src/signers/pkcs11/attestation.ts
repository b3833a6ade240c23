/**
 * PIV attestation objects (a YubiKey's slot f9 key and certificate, ykcs11's "X.509 Certificate for PIV Attestation 9a")
 * share the slot certificate's CKA_ID but are never an identity (403): left out unless a URI names one by its label.
 */
import { unlessMalformed } from "../../encoding/der.js";
import type { Certificate } from "../../x509/certificate.js";
import { readExtensions, readTbsFields } from "../../x509/tbs-fields.js";
import type { Pkcs11Uri } from "../../pkcs11/uri.js";

const ATTESTATION_LABEL = /PIV Attestation/i;
/** Yubico's PIV attestation extensions (firmware version, serial, policies, form factor): 1.3.6.1.4.1.41482.3.x */
const YUBICO_ATTESTATION_ARC = "1.3.6.1.4.1.41482.3.";

/** A key or certificate object that is part of the card's attestation, by its label or (certificates) its extensions. */
export function isAttestation(object: { readonly label: string; readonly certificate?: Certificate }): boolean {
  if (ATTESTATION_LABEL.test(object.label)) return true;
  const der = object.certificate?.der;
  if (der === undefined) return false;
  const extensions = unlessMalformed(() => readExtensions(readTbsFields(der).extensions));
  return extensions?.some((e) => e.oid.startsWith(YUBICO_ATTESTATION_ARC)) ?? false;
}

export function withoutAttestation<T extends { readonly label: string; readonly certificate?: Certificate }>(objects: T[], uri: Pkcs11Uri): T[] {
  return objects.filter((o) => (uri.object !== undefined && o.label === uri.object) || !isAttestation(o));
}
