import { encode, tpm2b } from "../wire/codec.js";
import { encodePolicyStatement, type PolicyStatement } from "./policy.js";
import { OID_LOADABLE_KEY, TSS2_PEM_LABEL } from "./tss2-key-file.js";
import { u32be } from "../../encoding/bytes.js";
import { TAG } from "../../encoding/der.js";
import { derOid, derSequence, derTlv, derUnsignedInteger } from "../../encoding/der-writer.js";
import { encodePem } from "../../encoding/pem.js";

export interface Tss2KeyContents {
  /** Parent: 0x40000001 (owner hierarchy: the standard SRK is re-created) or a 0x81… persistent key. */
  readonly parent: number;
  /** TPMT_PUBLIC bytes as TPM2_Create returned them (without the TPM2B size). */
  readonly publicArea: Buffer;
  /** TPM2B_PRIVATE contents (without the size). */
  readonly privateBlob: Buffer;
  readonly emptyAuth: boolean;
  readonly policy: readonly PolicyStatement[];
}

const explicit = (n: number, element: Uint8Array) => derTlv(0xa0 | n, element);
const octetString = (bytes: Uint8Array) => derTlv(TAG.OCTET_STRING, bytes);

/**
 * A TSS2 PRIVATE KEY file (draft-bottomley-tpm2-keys "TPMKey"): loadable-key OID, emptyAuth always written,
 * FALSE for a key with a password (tpm2-openssl 1.1.1 asks for no password when the field is absent, so
 * omitting it, as the draft allows, makes such keys unusable there), the policy statements, the parent, and
 * the TPM2B blobs with their size fields.
 */
export function encodeTss2KeyFile(contents: Tss2KeyContents): string {
  const policy = contents.policy.map((statement) => {
    const { code, body } = encodePolicyStatement(statement);
    return derSequence(explicit(0, derUnsignedInteger(u32be(code))), explicit(1, octetString(body)));
  });
  const der = derSequence(
    derOid(OID_LOADABLE_KEY),
    explicit(0, derTlv(TAG.BOOLEAN, Buffer.from([contents.emptyAuth ? 0xff : 0]))),
    ...(policy.length > 0 ? [explicit(1, derSequence(...policy))] : []),
    derUnsignedInteger(u32be(contents.parent)),
    octetString(encode(tpm2b, contents.publicArea)),
    octetString(encode(tpm2b, contents.privateBlob)),
  );
  return encodePem(TSS2_PEM_LABEL, der);
}
