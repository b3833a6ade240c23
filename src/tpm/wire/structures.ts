/**
 * TPM 2.0 structures, declared field by field with the spec's names (Part 2), so the spec is the
 * documentation. Only what this client sends or receives is declared.
 */
import { TPM_ALG, TPM_CAP } from "./constants.js";
import { each, empty, list, sized, struct, tpm2b, u16, u32, u8, variant, type Codec, type ValueOf } from "./codec.js";

const { AES, NULL, XOR, RSASSA, RSAPSS, OAEP, RSAES, ECDSA, ECDH, ECDAA, SM2, ECSCHNORR, HMAC } = TPM_ALG;
const { MGF1, KDF1_SP800_56A, KDF2, KDF1_SP800_108 } = TPM_ALG;
const hashOnly = struct({ hashAlg: u16 });
const aes = struct({ keyBits: u16, mode: u16 });
const ecdaa = struct({ hashAlg: u16, count: u16 });

/** BYTE array with a UINT8 count (TPMS_PCR_SELECTION.pcrSelect). */
const bytesU8: Codec<Buffer> = { write: (w, v) => void w.u8(v.length).bytes(v), read: (r) => r.bytes(r.u8(), "pcrSelect") };

const TPMT_SYM_DEF_OBJECT = variant("symmetric algorithm", "algorithm", { [AES]: aes, [NULL]: empty });
/** TPMT_SYM_DEF (sessions): like the object form, plus XOR obfuscation. */
export const TPMT_SYM_DEF = variant("session symmetric algorithm", "algorithm", { [AES]: aes, [XOR]: hashOnly, [NULL]: empty });
const TPMT_RSA_SCHEME = variant("RSA scheme", "scheme", { ...each(hashOnly, RSASSA, RSAPSS, OAEP), ...each(empty, RSAES, NULL) });
const TPMT_ECC_SCHEME = variant("ECC scheme", "scheme", { ...each(hashOnly, ECDSA, ECDH, SM2, ECSCHNORR), [ECDAA]: ecdaa, [NULL]: empty });
const TPMT_KDF_SCHEME = variant("KDF scheme", "scheme", { ...each(hashOnly, MGF1, KDF1_SP800_56A, KDF2, KDF1_SP800_108), [NULL]: empty });
const keyedHashScheme = { [HMAC]: hashOnly, [XOR]: struct({ hashAlg: u16, kdf: u16 }), [NULL]: empty };
const TPMT_KEYEDHASH_SCHEME = variant("keyed-hash scheme", "scheme", keyedHashScheme);

const TPMS_RSA_PARMS = struct({ symmetric: TPMT_SYM_DEF_OBJECT, scheme: TPMT_RSA_SCHEME, keyBits: u16, exponent: u32 });
const TPMS_ECC_PARMS = struct({ symmetric: TPMT_SYM_DEF_OBJECT, scheme: TPMT_ECC_SCHEME, curveID: u16, kdf: TPMT_KDF_SCHEME });
export const TPMS_ECC_POINT = struct({ x: tpm2b, y: tpm2b });

const publicCommon = { nameAlg: u16, objectAttributes: u32, authPolicy: tpm2b };

export const TPMT_PUBLIC = variant("public area type", "type", {
  [TPM_ALG.RSA]: struct({ ...publicCommon, parameters: TPMS_RSA_PARMS, unique: tpm2b }),
  [TPM_ALG.ECC]: struct({ ...publicCommon, parameters: TPMS_ECC_PARMS, unique: TPMS_ECC_POINT }),
  [TPM_ALG.KEYEDHASH]: struct({ ...publicCommon, parameters: struct({ scheme: TPMT_KEYEDHASH_SCHEME }), unique: tpm2b }),
  [TPM_ALG.SYMCIPHER]: struct({ ...publicCommon, parameters: struct({ sym: TPMT_SYM_DEF_OBJECT }), unique: tpm2b }),
});
export type TpmtPublic = ValueOf<typeof TPMT_PUBLIC>;
export type TpmtPublicRsa = Extract<TpmtPublic, { type: typeof TPM_ALG.RSA }>;
export type TpmtPublicEcc = Extract<TpmtPublic, { type: typeof TPM_ALG.ECC }>;

export const TPM2B_PUBLIC = sized(TPMT_PUBLIC);
export const TPM2B_SENSITIVE_CREATE = sized(struct({ userAuth: tpm2b, data: tpm2b }));

const TPMS_PCR_SELECTION = struct({ hash: u16, pcrSelect: bytesU8 });
export type TpmsPcrSelection = ValueOf<typeof TPMS_PCR_SELECTION>;
export const TPML_PCR_SELECTION = list(TPMS_PCR_SELECTION, 16);
export const TPML_DIGEST = list(tpm2b, 8);

export const TPMT_TK_HASHCHECK = struct({ tag: u16, hierarchy: u32, digest: tpm2b });
export const TPMT_TK_CREATION = TPMT_TK_HASHCHECK;

const sigSchemes = { ...each(hashOnly, RSASSA, RSAPSS, ECDSA, SM2, ECSCHNORR, HMAC), [ECDAA]: ecdaa, [NULL]: empty };
export const TPMT_SIG_SCHEME = variant("signature scheme", "scheme", sigSchemes);

const rsaSignature = struct({ hash: u16, sig: tpm2b });
const eccSignature = struct({ hash: u16, signatureR: tpm2b, signatureS: tpm2b });
const signatures = { ...each(rsaSignature, RSASSA, RSAPSS), ...each(eccSignature, ECDSA, ECDAA, SM2, ECSCHNORR), [NULL]: empty };
export const TPMT_SIGNATURE = variant("signature algorithm", "sigAlg", signatures);

export const TPMT_RSA_DECRYPT = variant("RSA decryption scheme", "scheme", { [RSAES]: empty, [OAEP]: hashOnly, [NULL]: empty });

const capabilities = {
  [TPM_CAP.ALGS]: struct({ algorithms: list(struct({ alg: u16, algProperties: u32 })) }),
  [TPM_CAP.HANDLES]: struct({ handles: list(u32, 4096) }),
  [TPM_CAP.TPM_PROPERTIES]: struct({ tpmProperties: list(struct({ property: u32, value: u32 })) }),
};
export const TPMS_CAPABILITY_DATA = variant("capability", "capability", capabilities, u32);

export const TPMS_AUTH_COMMAND = struct({ sessionHandle: u32, nonce: tpm2b, sessionAttributes: u8, hmac: tpm2b });
export type TpmsAuthCommand = ValueOf<typeof TPMS_AUTH_COMMAND>;
export const TPMS_AUTH_RESPONSE = struct({ nonce: tpm2b, sessionAttributes: u8, hmac: tpm2b });
export type TpmsAuthResponse = ValueOf<typeof TPMS_AUTH_RESPONSE>;
