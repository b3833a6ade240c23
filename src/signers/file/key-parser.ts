import type { DebugLog } from "../options.js";
import type { KeyMaterial } from "./key-material.js";
import type { SigningKey } from "./signing-key.js";

export interface KeyParseContext {
  readonly debug?: DebugLog;
}

/**
 * One private-key format. `parse` returns undefined when the material does not hold this format (the next
 * parser is tried) and throws when it does but the key cannot be used (wrong password, unsupported type…).
 */
export interface KeyParser {
  /** For --debug and tests, e.g. `pkcs8`. */
  readonly name: string;
  parse(material: KeyMaterial, context: KeyParseContext): Promise<SigningKey | undefined>;
}
