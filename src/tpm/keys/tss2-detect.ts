/**
 * Whether key-file bytes are a TSS2 key: a TSS2 PRIVATE KEY PEM block anywhere, or its DER alone (tpm2-openssl reads
 * both), or the legacy "TSS2 KEY BLOB" block, which the TSS2 reader refuses by name. Kept apart from tss2-key-file.ts
 * so that the factory, which asks it of every key file, loads no TPM code.
 */
import { indexOfText } from "../../encoding/pem.js";

export const TSS2_PEM_LABEL = "TSS2 PRIVATE KEY";
export const LEGACY_TSS2_PEM_LABEL = "TSS2 KEY BLOB";
/** OBJECT IDENTIFIER 2.23.133.10.1.…: the TPMKey types (loadable, importable, sealed) as its first field. */
const TPM_KEY_OID_ARC = Buffer.from([0x06, 0x06, 0x67, 0x81, 0x05, 0x0a, 0x01]);

export function containsTss2Key(bytes: Uint8Array): boolean {
  if ([TSS2_PEM_LABEL, LEGACY_TSS2_PEM_LABEL].some((label) => indexOfText(bytes, `-----BEGIN ${label}-----`) >= 0)) return true;
  const lengthOctets = bytes[1]! > 0x80 ? bytes[1]! & 0x7f : 0;
  return bytes[0] === 0x30 && TPM_KEY_OID_ARC.equals(bytes.subarray(2 + lengthOctets, 9 + lengthOctets));
}
