/** The AWS SDK for JavaScript v3 integration: a credential provider and the signed request for other HTTP stacks. */
export { fromRolesAnywhere, type FromRolesAnywhereInit, type RolesAnywhereCredentialProvider } from "./from-roles-anywhere.js";
export type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "./from-roles-anywhere.js";
export type { RolesAnywhereProviderOptions, SecretInput } from "./provider-options.js";
export type { RefreshEvent } from "../credentials/credential-cache.js";
export { createSignedCreateSessionRequest, type SignedCreateSessionRequest } from "../rolesanywhere/signed-request.js";
