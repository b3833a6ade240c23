/**
 * Receives diagnostic lines for --debug; never passed a secret. A module of its own, below every layer: the public
 * declarations (signers/options.ts) must not reach pkcs11js's types, which an app without the optional PKCS#11
 * packages cannot type-check.
 */
export type DebugLog = (line: string) => void;

/**
 * An application's callback (`debug`, `onRefresh`, `onRequest`, `onEvent`) that cannot break the library's work: what it
 * throws, or the promise it rejects (an unhandled rejection would end the program), is dropped. Applied where the
 * public entry points (createSigner, createSession, startLocalEndpoint, createCredentialSource, fromRolesAnywhere, the
 * PKCS#11 and TPM signers, listPkcs11Certificates, generateKeyOnToken, installOnToken, generateTpmKey) take one.
 */
export function dropFailures<A extends unknown[]>(callback: ((...args: A) => unknown) | undefined): ((...args: A) => void) | undefined {
  return callback && ((...args: A) => {
    try {
      Promise.resolve(callback(...args)).catch(() => {});
    } catch {
      /* dropped */
    }
  });
}
