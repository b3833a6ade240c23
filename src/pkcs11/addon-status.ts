/**
 * Loading pkcs11js, and why PKCS#11 support cannot be loaded, told plainly the first time a pkcs11: key is used.
 * pkcs11js (the native addon) is an optional dependency, so an install goes on without it; what the user must
 * do depends on why it is missing:
 * - left out on purpose (`--omit=optional`): reinstall without it;
 * - its build failed (no C++ toolchain or Python): npm leaves a failed optional package out; install the tools;
 * - its install script did not run (npm's `allowScripts` approval, `--ignore-scripts`): approve it and rebuild;
 * - built, but it does not load (another Node.js ABI or machine): rebuild.
 * The package tree says which, except for the first two: both leave no trace in node_modules. The project's
 * package-lock.json tells them apart (npm records `hasInstallScript` for a package it fetched, not for one it
 * omitted); a global install has no lockfile, and npm installs optional dependencies there regardless of --omit.
 */
import type { PKCS11 } from "pkcs11js";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DeviceError } from "../errors.js";
import { thisModuleFile } from "../os/module-file.js";
import { isGlobalLib, packageNodeModules, packageRoot, requireFromPackage } from "../os/own-package.js";
import { pkcs11Class, type Pkcs11Addon } from "./binding.js";

const PACKAGE = "roles-anywhere-agent";
/** pkcs11js's native addon, which its install script builds (node-gyp). */
const ADDON = "pkcs11js/build/Release/pkcs11.node";
const BUILD_TOOLS = "install g++, make and python3 (node-gyp builds pkcs11js), then reinstall";

type AddonProblem =
  | { readonly kind: "omitted" }
  | { readonly kind: "build-failed" }
  | { readonly kind: "missing" }
  | { readonly kind: "not-built"; readonly packageDir: string }
  | { readonly kind: "unloadable"; readonly reason: string };

/** pkcs11js's native addon as the PKCS11 class, without pkcs11js's index.js (binding.ts says why). */
export function requirePkcs11js(from: string = thisModuleFile()): { readonly PKCS11: new () => PKCS11 } {
  let addon: Pkcs11Addon;
  try {
    addon = requireFromPackage(ADDON, from) as Pkcs11Addon;
  } catch {
    // A pkcs11js laid out otherwise (another version, a package that hides its files): its own wrapper, which
    // costs more to load and offers the same class.
    try {
      return requireFromPackage("pkcs11js", from) as { readonly PKCS11: new () => PKCS11 };
    } catch (cause) {
      throw addonMissingError(cause, from);
    }
  }
  return { PKCS11: pkcs11Class(addon) };
}

/** The error for `cause` (the failed require of pkcs11js), with what the user should do. */
export function addonMissingError(cause: unknown, from: string = thisModuleFile()): DeviceError {
  const text = cause instanceof Error ? cause.message : String(cause);
  const reason = text.split("\n")[0]!.replace(/ imported from .*/, "");
  const [message, hint] = explain(diagnoseAddon(from, reason));
  return new DeviceError("PKCS11_NOT_INSTALLED", `PKCS#11 support is not installed: ${message}`, { cause, hint });
}

/** `from`: the file that loads pkcs11js (this module, or the CLI bundle); pkcs11js is looked for where it may be loaded from. */
export function diagnoseAddon(from: string, reason: string): AddonProblem {
  const found = packageNodeModules(from).find((dir) => existsSync(join(dir, "pkcs11js", "package.json")));
  if (found === undefined) return whyAbsent(from);
  const pkcs11js = join(found, "pkcs11js");
  if (!existsSync(join(pkcs11js, "build", "Release", "pkcs11.node"))) return { kind: "not-built", packageDir: pkcs11js };
  return { kind: "unloadable", reason };
}

function explain(problem: AddonProblem): [message: string, hint: string] {
  switch (problem.kind) {
    case "omitted":
      return [
        "the optional package pkcs11js was left out (npm install --omit=optional)",
        "reinstall without --omit=optional (file and TPM keys work without PKCS#11 support)",
      ];
    case "build-failed":
      return [
        "the pkcs11js native addon failed to build when this package was installed, so npm left it out",
        `${BUILD_TOOLS}; npm install --foreground-scripts shows the build's output`,
      ];
    case "missing":
      return [
        "the optional package pkcs11js is missing (installed with --omit=optional, or its native addon failed to build)",
        `reinstall without --omit=optional; if pkcs11js fails to build, ${BUILD_TOOLS}`,
      ];
    case "not-built":
      return [
        `pkcs11js is installed but its install script did not run, so its native addon was never built (${problem.packageDir})`,
        "allow its install script and build it: npm install-scripts approve pkcs11js && npm rebuild pkcs11js (global install: npm install -g --allow-scripts=pkcs11js roles-anywhere-agent)",
      ];
    case "unloadable":
      return [
        `the pkcs11js native addon cannot be loaded (${problem.reason})`,
        "it was built for another Node.js version or machine: npm rebuild pkcs11js (global install: reinstall the package)",
      ];
  }
}

/** pkcs11js is not in the tree: find out from the installing project's lockfile whether npm omitted it. */
function whyAbsent(from: string): AddonProblem {
  const root = packageRoot(from);
  if (root === undefined || basename(dirname(root)) !== "node_modules") return { kind: "missing" };
  const installer = dirname(dirname(root));
  for (const name of ["package-lock.json", "npm-shrinkwrap.json"]) {
    const entry = lockEntry(join(installer, name));
    if (entry === null) continue;
    if (entry === undefined) return { kind: "missing" };
    return entry.hasInstallScript === true ? { kind: "build-failed" } : { kind: "omitted" };
  }
  // <prefix>/lib/node_modules/roles-anywhere-agent with no project around it: a global install, where npm
  // installs optional dependencies whatever --omit says; missing there means the build failed.
  return isGlobalLib(installer) ? { kind: "build-failed" } : { kind: "missing" };
}

/** The lockfile's entry for pkcs11js; null when there is no such lockfile (or it is not a JSON object), undefined when it has no entry. */
function lockEntry(file: string): { hasInstallScript?: boolean } | null | undefined {
  let lock: unknown;
  try {
    lock = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
  if (typeof lock !== "object" || lock === null) return null;
  const packages = (lock as { packages?: Record<string, { hasInstallScript?: boolean }> }).packages ?? {};
  return packages["node_modules/pkcs11js"] ?? packages[`node_modules/${PACKAGE}/node_modules/pkcs11js`];
}
