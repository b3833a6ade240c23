export { mlDsaKeyParser } from "./parser.js";
export {
  ML_DSA_PARAMETER_SETS,
  isMlDsaKeyType,
  loadMlDsa,
  mlDsaParameterSetForOid,
  type MlDsaKeyType,
  type MlDsaParameterSet,
} from "./params.js";
export { decodeMlDsaPrivateKeyInfo, type MlDsaPrivateKeyForm, type MlDsaPrivateKeyInfo } from "./private-key-info.js";
export { mlDsaSigningKey } from "./signing-key.js";
export { certificateSpkiDer, decodeMlDsaSpki, encodeMlDsaSpki } from "./spki.js";
export { verifyMlDsa, verifyMlDsaCertificateSignature, verifyMlDsaWithCertificate } from "./verify.js";
