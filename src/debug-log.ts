/**
 * Receives diagnostic lines for --debug; never passed a secret. A module of its own, below every layer: the public
 * declarations (signers/options.ts) must not reach pkcs11js's types, which an app without the optional PKCS#11
 * packages cannot type-check.
 */
export type DebugLog = (line: string) => void;

/**
 * An application's callback (`debug`, `onRefresh`, `onRequest`) that cannot break the library's work: what it
 * throws, or the promise it rejects (an unhandled rejection would end the program), is dropped. Applied where the
 * public entry points (createSigner, createSession, startLocalEndpoint, fromRolesAnywhere) take one.
 */
export function dropFailures<A>(callback: ((arg: A) => unknown) | undefined): ((arg: A) => void) | undefined {
  return callback && ((arg: A) => {
    try {
      Promise.resolve(callback(arg)).catch(() => {});
    } catch {
      /* dropped */
    }
  });
}
