import type { SecretSource } from "../secrets/secret-source.js";
import type { Pkcs11Uri } from "./uri.js";

/**
 * Options of a read-write token session (token-session.ts), in a module of its own: the library's public
 * declarations name it (generateKeyOnToken, installOnToken) and must not reach graphene-pk11's or pkcs11js's
 * types, which an install without the optional PKCS#11 packages lacks (native-test/packaging.test.ts type-checks
 * a consumer against such an install).
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
