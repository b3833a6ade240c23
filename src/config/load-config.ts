import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { InputError } from "../errors.js";
import { secretFileAcl, warnIfExposed, type FileFacts } from "../os/exposed-file.js";
import { readCheckedText } from "../io/input-file.js";
import {
  absoluteHome, checkNotWritable, checkTrustedFile, openCheckedDirectory, UntrustedPathError, type CheckedDirectory,
} from "../io/trusted-path.js";
import { isPkcs11Uri, parseWithoutPin, uriPinForm } from "../pkcs11/uri.js";
import { parseConfig, type AgentConfig } from "./parse-config.js";

/** `$XDG_CONFIG_HOME/roles-anywhere-agent/config.json`, else `~/.config/roles-anywhere-agent/config.json`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const xdg = env["XDG_CONFIG_HOME"];
  if (xdg?.startsWith("/")) return join(xdg, "roles-anywhere-agent", "config.json");
  const base = absoluteHome(home, "CONFIG_NOT_FOUND", "config file", "pass --config, or set HOME or XDG_CONFIG_HOME");
  return join(base, ".config", "roles-anywhere-agent", "config.json");
}

const UNSAFE_HINT = "whoever can change it can make this program load their code (pkcs11-lib) or send your signed requests to their endpoint";

/**
 * Reads and validates the config file (`explicitPath`, else the default location). It steers the process (which
 * PKCS#11 module is loaded, where signed requests go), so OpenSSH's rule for ~/.ssh/config applies to it and to
 * the modules it names (src/io/trusted-path.ts); otherwise it is refused with FILE_UNSAFE before a byte is used.
 * `file` is the owner, mode and ACL of the file read (by descriptor), for a row that judges that file and no later one.
 */
export async function loadConfig(explicitPath?: string, env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): Promise<LoadedConfig> {
  const path = resolve(explicitPath ?? defaultConfigPath(env));
  let file: ConfigFile;
  let config: AgentConfig;
  try {
    // A pin-value in it makes it a secret file: the ACL of the file read (not of its name later), asked only then. Its
    // ACL cannot let others change it: a named entry's write bit needs the mask's, the mode's group bit, refused above.
    let acl: FileFacts["acl"];
    const { value, ...facts } = readCheckedText(path, "config", uid, (fd, stats, text) => {
      const parsed = parseConfig(text, path);
      if (holdsPinValue(parsed)) acl = secretFileAcl(fd, stats);
      return parsed;
    });
    config = value;
    file = { ...facts, acl };
  } catch (cause) {
    if (cause instanceof UntrustedPathError) {
      throw new InputError("FILE_UNSAFE", `config ${path} was not used: ${cause.reason}`, {
        hint: `${UNSAFE_HINT}; make it and its directories yours (or root's) and writable only by the owner`,
      });
    }
    if (cause instanceof InputError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "EFBIG") throw new InputError("FILE_UNREADABLE", `config file ${path} ${(cause as Error).message}`, { hint: "check the --config path" });
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new InputError("CONFIG_NOT_FOUND", `config file ${path} does not exist`, {
        hint: explicitPath ? "check the --config path" : "create it (see docs/long-running.md) or pass --config",
        cause,
      });
    }
    throw new InputError("FILE_UNREADABLE", `cannot read config file ${path}: ${code ?? "error"}`, { cause });
  }
  checkModulePaths(config, uid);
  // A PIN in it makes it a secret file: others may read it (not change it, refused above), as a PIN file's rule says.
  if (holdsPinValue(config)) warnIfExposed(file, path, "pin-value in config file");
  return { ...config, file };
}

type ConfigFile = FileFacts & { readonly mode: number; readonly owner: number; readonly gid: number };
export type LoadedConfig = AgentConfig & { readonly file: ConfigFile };

/** Whether a profile's pkcs11: URI holds a pin-value. */
export function holdsPinValue(config: AgentConfig): boolean {
  const uris = [...config.profiles.values()].flatMap((p) => [p.certificate, p["private-key"]]);
  return uris.some((uri) => uri !== undefined && uriPinForm(uri)?.kind === "value");
}

/**
 * A PKCS#11 module named by path in the config (`pkcs11-lib`, or `module-path` in a URI) is dlopen()ed into
 * this process: it must meet the config's own rule. A module that does not exist is left to the signer's
 * error (PKCS11_MODULE_NOT_FOUND). A bare library name is resolved by the dynamic loader in system directories.
 */
function checkModulePaths(config: AgentConfig, uid: number): void {
  for (const [name, profile] of config.profiles) {
    const modules: [string, string][] = [];
    if (profile["pkcs11-lib"]?.includes("/")) modules.push(["pkcs11-lib", profile["pkcs11-lib"]]);
    for (const field of ["certificate", "private-key"] as const) {
      const value = profile[field];
      if (value === undefined || !isPkcs11Uri(value) || !/module-path=/i.test(value)) continue;
      const modulePath = parseWithoutPin(value).modulePath;
      if (modulePath !== undefined) modules.push([`${field} (module-path)`, modulePath]);
    }
    for (const [field, modulePath] of modules) {
      let unsafe: UntrustedPathError | undefined;
      try {
        checkTrustedFile(modulePath, "the PKCS#11 module", uid);
      } catch (cause) {
        // Missing or unreadable: the signer reports it when the profile is used, and loads it once it is there.
        unsafe = cause instanceof UntrustedPathError ? cause : othersCouldMake(modulePath, uid, cause);
      }
      if (unsafe) {
        throw new InputError("FILE_UNSAFE", `config ${config.path}: profile "${name}": field "${field}": ${unsafe.reason}; it was not loaded`, {
          hint: "a module another user can change would run their code in this process: install it where only you or root can write",
        });
      }
    }
  }
}

/**
 * Why another user could put a file at `path`, missing or not checkable (`cause`): its nearest directory there can be
 * written by others.
 */
function othersCouldMake(path: string, uid: number, cause: unknown): UntrustedPathError | undefined {
  const code = (cause as { code?: unknown }).code;
  const state = code === "ENOENT" || code === "ENOTDIR" ? undefined : `cannot be checked (${String(code ?? cause)})`;
  for (let dir = dirname(path); dir.length > 1; dir = dirname(dir)) {
    let checked: CheckedDirectory;
    try {
      checked = openCheckedDirectory(dir, { uid });
    } catch (error) {
      if (error instanceof UntrustedPathError) return error;
      continue; // missing too (or not reachable): the one above would hold it
    }
    try {
      const where = state ? `${state}, and directory ${checked.path}, on its path,` : `does not exist, and directory ${checked.path}, where it would be made,`;
      checkNotWritable(checked.stats, `the PKCS#11 module ${path} ${where}`);
      return undefined;
    } catch (error) {
      return error as UntrustedPathError;
    } finally {
      checked.close();
    }
  }
  return undefined;
}
