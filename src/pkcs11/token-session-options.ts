import { ENVIRONMENT, type Kinds } from "../own-value.js";
import { SECRET_SOURCE, type SecretSource } from "../secrets/secret-source.js";

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
  /** How errors name these options: `"flags"` (default), the CLI's; `"options"`, these (see SignerOptions.names). */
  readonly names?: "flags" | "options" | undefined;
}

/** {@link TokenSessionOptions}' types, for callers in plain JavaScript (the PIN's source before any module loads). */
export const TOKEN_SESSION_KINDS: Kinds = {
  library: "string", pin: SECRET_SOURCE, debug: "function", env: ENVIRONMENT,
};
