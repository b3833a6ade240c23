import type { SecretSource } from "../secrets/secret-source.js";

/**
 * How to reach a token for a read-write session, its URI aside. A module of its own: the library's public declarations name
 * it and must not reach the binding's types, which an install without the optional PKCS#11 packages lacks (packaging.test.ts).
 */
export interface TokenSessionOptions {
  /** `--pkcs11-lib`. */
  readonly library?: string | undefined;
  /** PIN when the URI has none. */
  readonly pin?: SecretSource | undefined;
  readonly debug?: ((line: string) => void) | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}
