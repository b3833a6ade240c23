export { createSigner, parseTpmHandle } from "./factory.js";
export type { DigestAlgorithm, Signer } from "./signer.js";
export type { DebugLog, Pkcs11Settings, Pkcs11SignerOptions, SignerOptions, TpmSettings, TpmSignerOptions } from "./options.js";
