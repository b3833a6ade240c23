/**
 * Which PKCS#11 module to load: `--pkcs11-lib`, the URI's `module-path`, its `module-name` (p11-kit's registrations
 * and the usual library directories), else the p11-kit proxy; and the modules installed here, for error hints.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { basename, isAbsolute, join } from "node:path";
import { InputError, UsageError } from "../errors.js";
import { MAX_INPUT_BYTES, readSized } from "../io/read-opened-file.js";
import type { Pkcs11Uri } from "./uri.js";

export const P11_KIT_PROXY = "p11-kit-proxy.so";

export interface ModuleChoice {
  /** What to dlopen: an absolute path, or a bare name the dynamic loader resolves. */
  path: string;
  /** Where the choice came from, for messages. */
  origin: string;
  /** The library option as the caller names it (`--pkcs11-lib`, `pkcs11.library`), for hints. */
  option: string;
}

/** `option`: how the caller names `library` (its CLI flag or library option), for messages. */
export function chooseModule(library: string | undefined, uris: readonly Pkcs11Uri[], option: string): ModuleChoice {
  if (library !== undefined && library !== "") return { path: library, origin: option, option };
  const hint = `one signer uses one PKCS#11 module: give module-path once, or use ${option}`;
  const path = oneModule(uris.map((u) => u.modulePath), { hint });
  if (path !== undefined) return { path, origin: "module-path in the URI", option };
  const name = oneModule(uris.map((u) => u.moduleName));
  if (name === undefined) return { path: P11_KIT_PROXY, origin: "default (p11-kit proxy)", option };
  const resolved = resolveModuleName(name);
  if (resolved === undefined) {
    const found = findInstalledModules();
    throw new InputError("PKCS11_URI_INVALID", `module-name=${name} does not name a PKCS#11 module installed here`, {
      hint: found.length > 0 ? `installed modules: ${found.join(", ")}` : "no PKCS#11 module was found; install one (softhsm2, opensc, ykcs11) or give module-path",
    });
  }
  return { path: resolved, origin: `module-name=${name}`, option };
}

/** The one module the URIs name, if any: two different ones are a usage error. */
function oneModule(values: (string | undefined)[], options?: { hint: string }): string | undefined {
  const named = [...new Set(values.filter((v): v is string => v !== undefined))];
  if (named.length > 1) throw new UsageError("USAGE", `the certificate and key URIs name different modules (${named.join(", ")})`, options);
  return named[0];
}

/** A module-name as p11-kit knows it (`softhsm2` for softhsm2.module), or a library file name without `lib`/`.so`. */
function resolveModuleName(name: string): string | undefined {
  const registered = p11KitModules().get(name);
  if (registered !== undefined) return registered;
  const wanted = new Set([name, `lib${name}`]);
  return findInstalledModules().find((path) => wanted.has(basename(path).replace(/\.so(\.[0-9.]+)?$/, "")));
}

/** The modules found on this system: p11-kit registrations first, then the usual library directories. */
export function findInstalledModules(): string[] {
  const found = new Map<string, string>(); // real path -> path as shown
  const add = (path: string) => {
    try {
      const real = realpathSync(path);
      if (!found.has(real)) found.set(real, path);
    } catch {
      /* dangling link or unreadable: not a candidate */
    }
  };
  for (const path of p11KitModules().values()) add(path);
  for (const dir of libraryDirectories()) {
    const anyLibrary = /(^|\/)(pkcs11|softhsm)$/.test(dir);
    const candidates = safeReaddir(dir).filter((e) => e.endsWith(".so") && (anyLibrary || KNOWN_MODULE.test(e)));
    for (const entry of candidates.sort()) add(join(dir, entry));
  }
  return [...found.values()];
}

const KNOWN_MODULE = /pkcs11|softhsm2|ykcs11|p11-kit-proxy|tpm2_pkcs11|libcryptoki/;

function libraryDirectories(): string[] {
  const roots = ["/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64", "/opt/homebrew/lib"];
  const dirs: string[] = [];
  for (const root of roots) {
    if (!existsSync(root)) continue;
    const multiarch = safeReaddir(root)
      .filter((e) => /-linux-(gnu|musl)/.test(e))
      .map((e) => join(root, e));
    for (const base of [root, ...multiarch]) dirs.push(base, join(base, "pkcs11"), join(base, "softhsm"));
  }
  return dirs;
}

/** p11-kit module registrations: name -> module path (relative paths are under p11-kit's module directory). */
function p11KitModules(): Map<string, string> {
  const modules = new Map<string, string>();
  const configDirs = ["/usr/share/p11-kit/modules", "/etc/pkcs11/modules", join(homedir(), ".config/pkcs11/modules")];
  const moduleDir = libraryDirectories().find((d) => d.endsWith("/pkcs11") && /-linux-/.test(d) && existsSync(d)) ?? "/usr/lib/pkcs11";
  for (const dir of configDirs) {
    for (const entry of safeReaddir(dir).filter((e) => e.endsWith(".module"))) {
      const module = registeredModule(readText(join(dir, entry)));
      if (module === undefined) continue;
      const path = isAbsolute(module) ? module : join(moduleDir, module);
      modules.set(entry.slice(0, -".module".length), path);
    }
  }
  return modules;
}

/**
 * The value of a p11-kit registration's first "module:" line with one: a line is "name: value", spaces around each.
 * Read line by line, with no regular expression: one over the whole text (/^\s*module\s*:\s*(\S.*?)\s*$/m) took
 * 6 s for 80,000 blank lines and 18 s for a value with 80,000 spaces inside, quadratic in each.
 */
export function registeredModule(text: string): string | undefined {
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() !== "module") continue;
    const value = line.slice(colon + 1).trim();
    if (value !== "") return value;
  }
  return undefined;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A registration's text; "" for one that is no regular file (a FIFO would block), too large, or unreadable. */
function readText(path: string): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const stats = fstatSync(fd);
    return stats.isFile() && stats.size <= MAX_INPUT_BYTES ? readSized(fd, stats.size).toString("utf8") : "";
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
