/**
 * TPM 2.0 structures, declared field by field with the spec's names (Part 2), so the spec is the
 * documentation. Only what this client sends or receives is declared.
 */
import { TPM_ALG, TPM_CAP } from "./constants.js";
import { empty, list, sized, struct, tpm2b, u16, u32, u8, variant, type Codec, type ValueOf } from "./codec.js";

const hashOnly = struct({ hashAlg: u16 });

/** BYTE array with a UINT8 count (TPMS_PCR_SELECTION.pcrSelect). */
const bytesU8: Codec<Buffer> = {
  kind: "bytes8",
  write(w, v) {
    w.u8(v.length).bytes(v);
  },
  read: (r) => r.bytes(r.u8(), "pcrSelect"),
};

export const TPMT_SYM_DEF_OBJECT = variant(
  "algorithm",
  u16,
  {
    [TPM_ALG.AES]: struct({ keyBits: u16, mode: u16 }),
    [TPM_ALG.NULL]: empty,
  },
  "symmetric algorithm",
);

/** TPMT_SYM_DEF (sessions): like the object form, plus XOR obfuscation. */
export const TPMT_SYM_DEF = variant(
  "algorithm",
  u16,
  {
    [TPM_ALG.AES]: struct({ keyBits: u16, mode: u16 }),
    [TPM_ALG.XOR]: hashOnly,
    [TPM_ALG.NULL]: empty,
  },
  "session symmetric algorithm",
);

export const TPMT_RSA_SCHEME = variant(
  "scheme",
  u16,
  {
    [TPM_ALG.RSASSA]: hashOnly,
    [TPM_ALG.RSAPSS]: hashOnly,
    [TPM_ALG.OAEP]: hashOnly,
    [TPM_ALG.RSAES]: empty,
    [TPM_ALG.NULL]: empty,
  },
  "RSA scheme",
);

export const TPMT_ECC_SCHEME = variant(
  "scheme",
  u16,
  {
    [TPM_ALG.ECDSA]: hashOnly,
    [TPM_ALG.ECDH]: hashOnly,
    [TPM_ALG.SM2]: hashOnly,
    [TPM_ALG.ECSCHNORR]: hashOnly,
    [TPM_ALG.ECDAA]: struct({ hashAlg: u16, count: u16 }),
    [TPM_ALG.NULL]: empty,
  },
  "ECC scheme",
);

export const TPMT_KDF_SCHEME = variant(
  "scheme",
  u16,
  {
    [TPM_ALG.MGF1]: hashOnly,
    [TPM_ALG.KDF1_SP800_56A]: hashOnly,
    [TPM_ALG.KDF2]: hashOnly,
    [TPM_ALG.KDF1_SP800_108]: hashOnly,
    [TPM_ALG.NULL]: empty,
  },
  "KDF scheme",
);

export const TPMT_KEYEDHASH_SCHEME = variant(
  "scheme",
  u16,
  {
    [TPM_ALG.HMAC]: hashOnly,
    [TPM_ALG.XOR]: struct({ hashAlg: u16, kdf: u16 }),
    [TPM_ALG.NULL]: empty,
  },
  "keyed-hash scheme",
);

export const TPMS_RSA_PARMS = struct({ symmetric: TPMT_SYM_DEF_OBJECT, scheme: TPMT_RSA_SCHEME, keyBits: u16, exponent: u32 });
export const TPMS_ECC_PARMS = struct({ symmetric: TPMT_SYM_DEF_OBJECT, scheme: TPMT_ECC_SCHEME, curveID: u16, kdf: TPMT_KDF_SCHEME });
export const TPMS_ECC_POINT = struct({ x: tpm2b, y: tpm2b });

const publicCommon = { nameAlg: u16, objectAttributes: u32, authPolicy: tpm2b };

export const TPMT_PUBLIC = variant(
  "type",
  u16,
  {
    [TPM_ALG.RSA]: struct({ ...publicCommon, parameters: TPMS_RSA_PARMS, unique: tpm2b }),
    [TPM_ALG.ECC]: struct({ ...publicCommon, parameters: TPMS_ECC_PARMS, unique: TPMS_ECC_POINT }),
    [TPM_ALG.KEYEDHASH]: struct({ ...publicCommon, parameters: struct({ scheme: TPMT_KEYEDHASH_SCHEME }), unique: tpm2b }),
    [TPM_ALG.SYMCIPHER]: struct({ ...publicCommon, parameters: struct({ sym: TPMT_SYM_DEF_OBJECT }), unique: tpm2b }),
  },
  "public area type",
);
export type TpmtPublic = ValueOf<typeof TPMT_PUBLIC>;
export type TpmtPublicRsa = Extract<TpmtPublic, { type: typeof TPM_ALG.RSA }>;
export type TpmtPublicEcc = Extract<TpmtPublic, { type: typeof TPM_ALG.ECC }>;

export const TPM2B_PUBLIC = sized(TPMT_PUBLIC);
export const TPM2B_SENSITIVE_CREATE = sized(struct({ userAuth: tpm2b, data: tpm2b }));

export const TPMS_PCR_SELECTION = struct({ hash: u16, pcrSelect: bytesU8 });
export type TpmsPcrSelection = ValueOf<typeof TPMS_PCR_SELECTION>;
export const TPML_PCR_SELECTION = list(TPMS_PCR_SELECTION, 16);
export const TPML_DIGEST = list(tpm2b, 8);

const ticket = struct({ tag: u16, hierarchy: u32, digest: tpm2b });
export const TPMT_TK_HASHCHECK = ticket;
export const TPMT_TK_CREATION = ticket;

export const TPMT_SIG_SCHEME = variant(
  "scheme",
  u16,
  {
    [TPM_ALG.RSASSA]: hashOnly,
    [TPM_ALG.RSAPSS]: hashOnly,
    [TPM_ALG.ECDSA]: hashOnly,
    [TPM_ALG.SM2]: hashOnly,
    [TPM_ALG.ECSCHNORR]: hashOnly,
    [TPM_ALG.HMAC]: hashOnly,
    [TPM_ALG.ECDAA]: struct({ hashAlg: u16, count: u16 }),
    [TPM_ALG.NULL]: empty,
  },
  "signature scheme",
);

const rsaSignature = struct({ hash: u16, sig: tpm2b });
const eccSignature = struct({ hash: u16, signatureR: tpm2b, signatureS: tpm2b });
export const TPMT_SIGNATURE = variant(
  "sigAlg",
  u16,
  {
    [TPM_ALG.RSASSA]: rsaSignature,
    [TPM_ALG.RSAPSS]: rsaSignature,
    [TPM_ALG.ECDSA]: eccSignature,
    [TPM_ALG.ECDAA]: eccSignature,
    [TPM_ALG.SM2]: eccSignature,
    [TPM_ALG.ECSCHNORR]: eccSignature,
    [TPM_ALG.NULL]: empty,
  },
  "signature algorithm",
);

export const TPMT_RSA_DECRYPT = variant(
  "scheme",
  u16,
  { [TPM_ALG.RSAES]: empty, [TPM_ALG.OAEP]: hashOnly, [TPM_ALG.NULL]: empty },
  "RSA decryption scheme",
);

export const TPMS_CAPABILITY_DATA = variant(
  "capability",
  u32,
  {
    [TPM_CAP.ALGS]: struct({ algorithms: list(struct({ alg: u16, algProperties: u32 })) }),
    [TPM_CAP.HANDLES]: struct({ handles: list(u32, 4096) }),
    [TPM_CAP.COMMANDS]: struct({ commands: list(u32, 4096) }),
    [TPM_CAP.PCRS]: struct({ assignedPCR: TPML_PCR_SELECTION }),
    [TPM_CAP.TPM_PROPERTIES]: struct({ tpmProperties: list(struct({ property: u32, value: u32 })) }),
    [TPM_CAP.ECC_CURVES]: struct({ eccCurves: list(u16) }),
  },
  "capability",
);

export const TPMS_AUTH_COMMAND = struct({ sessionHandle: u32, nonce: tpm2b, sessionAttributes: u8, hmac: tpm2b });
export type TpmsAuthCommand = ValueOf<typeof TPMS_AUTH_COMMAND>;
export const TPMS_AUTH_RESPONSE = struct({ nonce: tpm2b, sessionAttributes: u8, hmac: tpm2b });
export type TpmsAuthResponse = ValueOf<typeof TPMS_AUTH_RESPONSE>;
