import { encode, tpm2b } from "../wire/codec.js";
import { encodePolicyStatement, type PolicyStatement } from "./policy.js";
import { OID_LOADABLE_KEY, TSS2_PEM_LABEL } from "./tss2-key-file.js";
import { u32be } from "../../encoding/bytes.js";
import { unsignedIntegerContent } from "../../encoding/der-writer.js";
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

/**
 * A TSS2 PRIVATE KEY file (draft-bottomley-tpm2-keys "TPMKey"): loadable-key OID, emptyAuth always written,
 * FALSE for a key with a password (tpm2-openssl 1.1.1 asks for no password when the field is absent, so
 * omitting it, as the draft allows, makes such keys unusable there), the policy statements, the parent, and
 * the TPM2B blobs with their size fields.
 */
export async function encodeTss2KeyFile(contents: Tss2KeyContents): Promise<string> {
  const [{ AsnConvert, OctetString }, schema] = await Promise.all([
    import("@peculiar/asn1-schema"),
    import("./tss2-key-schema.js"),
  ]);
  const key = new schema.TpmKeyAsn();
  key.type = OID_LOADABLE_KEY;
  key.emptyAuth = contents.emptyAuth;
  if (contents.policy.length > 0) {
    key.policy = new schema.TpmPolicySequenceAsn(
      contents.policy.map((statement) => {
        const entry = new schema.TpmPolicyAsn();
        const { code, body } = encodePolicyStatement(statement);
        entry.commandCode = code;
        entry.commandPolicy = new OctetString(body);
        return entry;
      }),
    );
  }
  key.parent = integerBytes(contents.parent);
  key.pubkey = new OctetString(encode(tpm2b, contents.publicArea));
  key.privkey = new OctetString(encode(tpm2b, contents.privateBlob));
  const der = Buffer.from(AsnConvert.serialize(key));
  return encodePem(TSS2_PEM_LABEL, der);
}

/** A positive INTEGER's content octets (a leading zero when the top bit is set, as 0x81… handles need). */
function integerBytes(value: number): ArrayBuffer {
  const bytes = unsignedIntegerContent(u32be(value));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}
