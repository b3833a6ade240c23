/**
 * ASN.1 schema of TSS2 PRIVATE KEY files (draft-bottomley-tpm2-keys, "TPMKey"), declared with
 * @peculiar/asn1-schema. Every tag is EXPLICIT, as all producers encode them. Imported lazily: only TPM
 * keys pay for the ASN.1 library.
 */
import { AsnArray, AsnIntegerArrayBufferConverter, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from "@peculiar/asn1-schema";

export class TpmPolicyAsn {
  @AsnProp({ type: AsnPropTypes.Integer, context: 0 })
  commandCode = 0;

  @AsnProp({ type: OctetString, context: 1 })
  commandPolicy = new OctetString();
}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: TpmPolicyAsn })
export class TpmPolicySequenceAsn extends AsnArray<TpmPolicyAsn> {}

export class TpmAuthPolicyAsn {
  @AsnProp({ type: AsnPropTypes.Utf8String, context: 0, optional: true })
  name?: string;

  @AsnProp({ type: TpmPolicySequenceAsn, context: 1 })
  policy = new TpmPolicySequenceAsn();
}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: TpmAuthPolicyAsn })
export class TpmAuthPolicySequenceAsn extends AsnArray<TpmAuthPolicyAsn> {}

export class TpmKeyAsn {
  @AsnProp({ type: AsnPropTypes.ObjectIdentifier })
  type = "";

  @AsnProp({ type: AsnPropTypes.Boolean, context: 0, optional: true })
  emptyAuth?: boolean;

  @AsnProp({ type: TpmPolicySequenceAsn, context: 1, optional: true })
  policy?: TpmPolicySequenceAsn;

  @AsnProp({ type: OctetString, context: 2, optional: true })
  secret?: OctetString;

  @AsnProp({ type: TpmAuthPolicySequenceAsn, context: 3, optional: true })
  authPolicy?: TpmAuthPolicySequenceAsn;

  @AsnProp({ type: AsnPropTypes.Utf8String, context: 4, optional: true })
  description?: string;

  @AsnProp({ type: AsnPropTypes.Boolean, context: 5, optional: true })
  rsaParent?: boolean;

  /** Raw two's-complement bytes: old 32-bit producers wrote persistent handles as negative INTEGERs. */
  @AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter })
  parent = new ArrayBuffer(0);

  @AsnProp({ type: OctetString })
  pubkey = new OctetString();

  @AsnProp({ type: OctetString })
  privkey = new OctetString();
}
