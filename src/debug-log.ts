/**
 * Receives diagnostic lines for --debug; never passed a secret. A module of its own, below every layer: the public
 * declarations (signers/options.ts) must not reach pkcs11js's types, which an app without the optional PKCS#11
 * packages cannot type-check.
 */
export type DebugLog = (line: string) => void;
