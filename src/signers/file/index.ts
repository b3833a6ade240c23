export { createFileSigner, createPkcs12Signer, type FileSignerOptions, type Pkcs12SignerOptions } from "./file-signer.js";
export { KEY_PARSERS, loadSigningKey, type KeyParseContext, type KeyParser } from "./key-parsers.js";
export type { KeyMaterial, PrivateKeyInfo } from "./key-material.js";
export { keyMatchesCertificate, rsaEcSigningKey, type SigningKey } from "./signing-key.js";
export { readPkcs12, type Pkcs12Identity } from "./pkcs12.js";
export { decryptPrivateKeyInfo, pbeDecrypt, type PbePassword } from "./pbe.js";
