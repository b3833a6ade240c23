export { createSigner, parseTpmHandle, type SignerFactoryExtras } from "./factory.js";
export { signingAlgorithmFor, type DigestAlgorithm, type Signer, type SigningAlgorithm } from "./signer.js";
export type { DebugLog, Pkcs11Settings, Pkcs11SignerOptions, SignerOptions, TpmSettings, TpmSignerOptions } from "./options.js";
export { fixedTestString } from "./fixed-string.js";
