/**
 * The attribute shim (attribute-shim/attribute-shim.c): SoftHSM with another vendor's answers to C_GetAttributeValue
 * about one attribute, built with the machine's gcc for one test file. Set its RAA_SHIM_* variables in process.env
 * (the module reads them at each call) or in a CLI's environment.
 */
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";

const SOURCE = resolve(import.meta.dirname, "attribute-shim/attribute-shim.c");
const HEADERS = resolve(import.meta.dirname, "../../node_modules/pkcs11js/includes/pkcs11");

/** Builds the shim into `dir`; returns the module's path. */
export function buildAttributeShim(dir: string): string {
  const module = join(dir, "attribute-shim.so");
  execFileSync("gcc", ["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-I", HEADERS, "-o", module, SOURCE, "-ldl"], { stdio: "pipe" });
  return module;
}

/** Builds helpers/attribute-shim/foreign-wrap.c, an addon that is not pkcs11js, into `dir`; returns the addon's path. */
export function buildForeignWrap(dir: string): string {
  const addon = join(dir, "foreign-wrap.node");
  const source = resolve(import.meta.dirname, "attribute-shim/foreign-wrap.c");
  execFileSync("gcc", ["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-I", NODE_HEADERS, "-o", addon, source, "-ldl"], { stdio: "pipe" });
  return addon;
}

/** Node-API's headers, where Debian's nodejs (and node-gyp's nodedir=/usr) has them. */
const NODE_HEADERS = "/usr/include/node";
