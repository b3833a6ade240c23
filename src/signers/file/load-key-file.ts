import type { FileStamp } from "../../io/input-file.js";
import { readInputFile } from "../../io/input-file.js";
import type { SecretSource } from "../../secrets/secret-source.js";
import type { DebugLog } from "../options.js";
import { loadSigningKey } from "./key-parsers.js";
import { keyMaterialFromFile } from "./key-material.js";
import { obtainKeyPassword } from "./key-password.js";
import type { SigningKey } from "./signing-key.js";

export interface KeyFileOptions {
  keyPassword?: SecretSource;
  debug?: DebugLog;
}

/** A key read from one version of its file. */
export interface LoadedKeyFile {
  readonly key: SigningKey;
  readonly stamp: FileStamp;
  /** The file held an encrypted key (reloading it needs the password again). */
  readonly encrypted: boolean;
}

/** Reads, decrypts (asking for the password only if the key is encrypted) and parses a private-key file. */
export async function loadKeyFile(
  path: string,
  options: KeyFileOptions,
  alreadyRead?: { bytes: Buffer; stamp: FileStamp },
): Promise<LoadedKeyFile> {
  const { bytes, stamp } = alreadyRead ?? (await readInputFile(path, "private key file"));
  const material = keyMaterialFromFile(bytes, path, () => obtainKeyPassword(options.keyPassword, "PKCS#8", path), options.debug);
  const key = await loadSigningKey(material, options.debug);
  if (!material.encrypted && options.keyPassword !== undefined) {
    options.debug?.(`${path}: the key is not encrypted; the password given is not used`);
  }
  return { key, stamp, encrypted: material.encrypted };
}
