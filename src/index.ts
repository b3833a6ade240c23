/**
 * roles-anywhere-agent as a library: the signer factory and back-ends, the pure SigV4-X509 core, the
 * CreateSession client, the refresh engine, the verifying local endpoint, and the types they share.
 */
export {
  AgentError, AuthError, DeviceError, ERROR_CODES, InputError, isAgentError, NetworkError, ServiceError, UsageError,
  type AgentErrorOptions, type ErrorCategory, type ErrorCode,
} from "./errors.js";
export * from "./arn.js";
export { VERSION } from "./version.js";

// Certificates and keys
export { Certificate, type KeyType } from "./x509/certificate.js";
export { readCertificateFile, readCertificateBundle, type CertificateFile } from "./x509/read-certificates.js";
export { certificateData, type CertificateData } from "./x509/certificate-data.js";
export * from "./signers/index.js";
export { Secret } from "./secrets/secret.js";
export { parseSecretSource, readSecret, type SecretSource } from "./secrets/secret-source.js";

// SigV4-X509 (pure) and CreateSession
export * from "./sigv4x509/index.js";
export * from "./rolesanywhere/index.js";

// Credentials, cache and refresh
export {
  formatExpiration,
  toCredentialProcessOutput,
  type Credentials,
  type CredentialProcessOutput,
} from "./rolesanywhere/credentials.js";
export { createCredentialSource, type CredentialSource, type CredentialSourceOptions } from "./credentials/credential-source.js";

// The verifying CreateSession + STS endpoint (tests, demos, CI)
export { startLocalEndpoint, type LocalEndpoint, type LocalEndpointOptions, type RequestLogEntry } from "./local-endpoint/server.js";

// PKCS#11 (the native binding is loaded only when a token is used)
export * from "./signers/pkcs11/index.js";

// TPM 2.0 (our own TypeScript client; loaded only when a TPM key is used)
export { createTpmSigner } from "./signers/tpm/tpm-signer.js";

// AWS SDK for JavaScript v3 credential provider
export * from "./sdk/index.js";

// Provisioning: session tags a certificate yields, CSRs signed by any Signer, keys generated in hardware
export * from "./provisioning/principal-tags/index.js";
export { buildCsr } from "./provisioning/csr/build-csr.js";
export { generateKeyOnToken } from "./provisioning/pkcs11/token-keygen.js";
export { installOnToken } from "./provisioning/pkcs11/install-on-token.js";
export { generateTpmKey } from "./provisioning/tpm/tpm-keygen.js";
