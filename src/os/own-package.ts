/**
 * Where this package's code lives, and the one way it loads a dependency by name at run time (pkcs11js, yargs,
 * @noble/post-quantum). Node's CommonJS resolver, when a name is in no node_modules above the caller, goes on to
 * $HOME/.node_modules, $HOME/.node_libraries, $PREFIX/lib/node and NODE_PATH: for root with another user's HOME
 * (`sudo -E`, a container job's HOME) and an optional dependency npm left out, that user's code; its ES module
 * resolver (import()) looks in every node_modules up to `/` (/tmp/node_modules: anyone's).
 * A dependency is taken from the package's own node_modules, or from the node_modules of the projects it is installed
 * in, and only where no other user than the owner of this code and root could have put it (othersCouldPlant).
 */
import { existsSync, realpathSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, sep } from "node:path";
import { InputError } from "../errors.js";
import { thisModuleFile } from "./module-file.js";
import { othersCouldPlant, plantedRefusal, type PlantedPath } from "./planted-code.js";

/**
 * The node_modules directories npm installs this package's dependencies in, nearest first: its own, then, while it
 * is itself a dependency, the node_modules it sits in (npm hoists there), up to that of the project that installed
 * it (pnpm: the sibling packages in .pnpm/<name>@<version>/node_modules). Not a global prefix's lib/node_modules
 * (npm hoists nothing there: other global packages, of whoever installed them), nothing above the installing
 * project, and none another user than the owner of `from` and root could have made or written to. Empty when `from` is in no
 * package (a copy of dist/ alone).
 */
export function packageNodeModules(from: string): string[] {
  return nodeModulesChain(from).found;
}

/** packageNodeModules, and the node_modules it stopped at because another user could have put things there. */
function nodeModulesChain(from: string): { found: string[]; refused?: { modules: string; fault: PlantedPath } } {
  const owner = ownerOf(from);
  let dir = packageRoot(from);
  if (dir === undefined) return { found: [] };
  const found: string[] = [];
  for (let modules = join(dir, "node_modules"); ; ) {
    if (existsSync(modules)) {
      const fault = othersCouldPlant(modules, modules, owner);
      if (fault) return { found, refused: { modules, fault } };
      found.push(modules);
    }
    // <modules>/<name> or <modules>/@scope/<name>: the package is itself a dependency of the directory above.
    const parent = basename(dirname(dir)).startsWith("@") ? dirname(dirname(dir)) : dirname(dir);
    if (basename(parent) !== "node_modules" || isGlobalLib(dirname(parent))) return { found };
    dir = dirname(parent);
    modules = parent;
  }
}

/** The package `from` is in: the nearest directory above it with a named package.json; undefined in none. */
export function packageRoot(from: string): string | undefined {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    if (hasNamedManifest(dir)) return dir;
    if (dir === dirname(dir)) return undefined;
  }
}

/** The module `id` ("name" or "name/sub/path") as require() loads it, but only from `packageNodeModules(from)`. */
export function requireFromPackage(id: string, from: string = thisModuleFile()): unknown {
  const name = id.split("/").slice(0, id.startsWith("@") ? 2 : 1).join("/");
  const { found, refused } = nodeModulesChain(from);
  for (const modules of found) {
    let packageDir: string;
    try {
      packageDir = realpathSync(join(modules, name));
    } catch {
      continue;
    }
    // Resolved as from a file in that node_modules (its package.json "exports" apply); a name it cannot resolve
    // there would go on to the home folders, hence the check that the file is in the package found.
    const load = createRequire(join(modules, "_"));
    const file = realpathSync(load.resolve(id));
    if (!file.startsWith(packageDir + sep)) break;
    const fault = othersCouldPlant(file, dirname(packageDir), ownerOf(from));
    if (fault) throw planted(name, packageDir, fault);
    return load(file);
  }
  if (refused !== undefined && existsSync(join(refused.modules, name))) throw planted(name, refused.modules, refused.fault);
  throw Object.assign(new Error(`Cannot find module '${id}' in this package's node_modules`), { code: "MODULE_NOT_FOUND" });
}

/**
 * A dependency there but not loaded: not "missing" (a reinstall changes nothing), and what to make of `where`. The
 * hint's only path is the fix's own (shellWord): the message names the path at fault last, as doctor's row does.
 */
function planted(name: string, where: string, fault: PlantedPath): InputError {
  return new InputError("FILE_UNSAFE", plantedRefusal(`${name} in ${where}`, fault), {
    hint: `check what is in it, then: ${fault.fix}`,
  });
}

/** Whether `dir` is a global prefix's lib/ (<prefix>/lib/node_modules/<package>: a lib/ that is no project). */
export function isGlobalLib(dir: string): boolean {
  return basename(dir) === "lib" && !existsSync(join(dir, "package.json"));
}

/** A directory's owner; -1 (no one) when it cannot be read. */
function ownerOf(path: string): number {
  try {
    return statSync(path).uid;
  } catch {
    return -1;
  }
}

/** Whether `dir` holds a package's package.json (one with a name: dist/ and dist/lib have one that only says "type"). */
function hasNamedManifest(dir: string): boolean {
  try {
    return typeof (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown }).name === "string";
  } catch {
    return false;
  }
}
