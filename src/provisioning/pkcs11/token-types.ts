import type { SecretSource } from "../../secrets/secret-source.js";
import type { DebugLog } from "../../signers/options.js";
import type { Pkcs11Uri } from "../../signers/pkcs11/uri.js";

/*
 * The provisioning types the library's public declarations name (generateKeyOnToken, installOnToken), in a module
 * of their own: those declarations must not reach graphene-pk11's or pkcs11js's types, which an install without
 * the optional PKCS#11 packages lacks (a consumer's type check would fail; native-test/packaging.test.ts).
 */

/** Options of a read-write token session (token-session.ts). */
export interface TokenSessionOptions {
  readonly uri: Pkcs11Uri;
  /** `--pkcs11-lib`. */
  readonly library?: string | undefined;
  /** PIN when the URI has none. */
  readonly pin?: SecretSource | undefined;
  readonly debug?: DebugLog | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/** What installOnToken did. */
export interface InstallOnTokenResult {
  readonly uri: string;
  /** False when the very same certificate was already there. */
  readonly written: boolean;
  readonly chainWritten: number;
}
