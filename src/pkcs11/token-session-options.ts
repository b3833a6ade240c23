import type { SecretSource } from "../secrets/secret-source.js";
import type { Pkcs11Uri } from "./uri.js";

/**
 * Options of a read-write token session, in a module of its own: the library's public declarations name it and must not
 * reach the binding's types, which an install without the optional PKCS#11 packages lacks (see packaging.test.ts).
 */
export interface TokenSessionOptions {
  readonly uri: Pkcs11Uri;
  /** `--pkcs11-lib`. */
  readonly library?: string | undefined;
  /** PIN when the URI has none. */
  readonly pin?: SecretSource | undefined;
  readonly debug?: ((line: string) => void) | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}
