/**
 * Why PKCS#11 support is missing, read from a package tree laid out as npm leaves it in each case (the native
 * packaging test installs the real tarball for the global, --omit=optional and --ignore-scripts cases).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { addonMissingError, diagnoseAddon, requirePkcs11js } from "../../src/pkcs11/addon-status.js";

const require = createRequire(import.meta.url);

const diagnose = diagnoseAddon;
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-addon-status-");
afterAll(cleanup);

let n = 0;
/** Each case's directory: the lookup stops there, so that a node_modules above the temporary directory (a stray /tmp/node_modules) cannot answer. */
const caseDir = (from: string) => from.slice(0, from.indexOf("/", from.indexOf("/case-") + 1));
/** <dir>/<case>/<installer>/node_modules/roles-anywhere-agent/dist/cli-bundle.cjs, with the given extras. */
function tree(opts: { installer?: string; lock?: object; pkcs11js?: "absent" | "unbuilt" | "built"; projectManifest?: boolean }): string {
  const installer = join(dir, `case-${n++}`, opts.installer ?? "project");
  const pkg = join(installer, "node_modules", "roles-anywhere-agent");
  mkdirSync(join(pkg, "dist"), { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "roles-anywhere-agent" }));
  writeFileSync(join(pkg, "dist", "package.json"), JSON.stringify({ type: "commonjs" }));
  const from = join(pkg, "dist", "cli-bundle.cjs");
  writeFileSync(from, "");
  if (opts.projectManifest ?? true) writeFileSync(join(installer, "package.json"), JSON.stringify({ name: "app" }));
  if (opts.lock) writeFileSync(join(installer, "package-lock.json"), JSON.stringify(opts.lock));
  if (opts.pkcs11js && opts.pkcs11js !== "absent") {
    const p = join(installer, "node_modules", "pkcs11js");
    mkdirSync(join(p, "build", "Release"), { recursive: true });
    writeFileSync(join(p, "package.json"), JSON.stringify({ name: "pkcs11js", main: "index.js" }));
    if (opts.pkcs11js === "built") writeFileSync(join(p, "build", "Release", "pkcs11.node"), "");
  }
  return from;
}

const lockWith = (entry: object) => ({ lockfileVersion: 3, packages: { "": {}, "node_modules/pkcs11js": { version: "2.1.7", optional: true, ...entry } } });

describe("PKCS#11 support missing: the reason", () => {
  it("--omit=optional in a project: the lockfile lists pkcs11js, which npm never fetched", () => {
    expect(diagnose(tree({ lock: lockWith({}) }), "Cannot find module 'pkcs11js'")).toEqual({ kind: "omitted" });
  });

  it("a failed build in a project: npm fetched pkcs11js (hasInstallScript) and left it out", () => {
    expect(diagnose(tree({ lock: lockWith({ hasInstallScript: true }) }), "x")).toEqual({ kind: "build-failed" });
  });

  it("a global install (<prefix>/lib/node_modules, no lockfile): the build failed", () => {
    expect(diagnose(tree({ installer: "lib", projectManifest: false }), "x")).toEqual({ kind: "build-failed" });
  });

  it("no lockfile to tell: both reasons are named", () => {
    const problem = diagnose(tree({}), "x");
    expect(problem).toEqual({ kind: "missing" });
  });

  it("a lockfile that is JSON but not an object (null, a number): read as no lockfile, no crash", () => {
    for (const text of ["null", "7", '"x"']) {
      const from = tree({});
      writeFileSync(join(from, "../../../..", "package-lock.json"), text);
      expect(diagnose(from, "x")).toEqual({ kind: "missing" });
    }
  });

  it("installed but its install script did not run (allowScripts, --ignore-scripts)", () => {
    const problem = diagnose(tree({ pkcs11js: "unbuilt" }), "x");
    expect(problem.kind).toBe("not-built");
  });

  it("built but not loadable: the loader's reason is kept", () => {
    expect(diagnose(tree({ pkcs11js: "built" }), "wrong ELF class")).toEqual({ kind: "unloadable", reason: "wrong ELF class" });
  });

  it("messages: one plain sentence each, the documented code, and what to do", () => {
    const cases: [string, RegExp, RegExp][] = [
      [tree({ lock: lockWith({}) }), /left out \(npm install --omit=optional\)/, /reinstall without --omit=optional/],
      [tree({ lock: lockWith({ hasInstallScript: true }) }), /failed to build/, /install g\+\+, make and python3/],
      [tree({ pkcs11js: "unbuilt" }), /install script did not run/, /npm install-scripts approve pkcs11js && npm rebuild pkcs11js/],
    ];
    for (const [from, message, hint] of cases) {
      const error = addonMissingError(new Error("Cannot find module 'pkcs11js'\nRequire stack: …"), from);
      expect(error.code).toBe("PKCS11_NOT_INSTALLED");
      expect(error.category).toBe("device");
      expect(error.message).toMatch(/^PKCS#11 support is not installed: /);
      expect(error.message).toMatch(message);
      expect(error.hint).toMatch(hint);
      expect(error.message).not.toContain("\n");
    }
    // --omit=optional is not called a failed build.
    const omitted = tree({ lock: lockWith({}) });
    expect(addonMissingError(new Error("x"), omitted).message).not.toMatch(/fail/);
  });
});

describe("PKCS#11 support missing: the lookup's edges", () => {
  it("each reason's exact sentence and hint (two reasons must not share one by falling through)", () => {
    const line = (from: string, cause: Error) => {
      const error = addonMissingError(cause, from);
      return [error.message, error.hint];
    };
    const tools = "install g++, make and python3 (node-gyp builds pkcs11js), then reinstall";
    const prefix = "PKCS#11 support is not installed: ";
    expect(line(tree({ lock: lockWith({}) }), new Error("x"))).toEqual([
      `${prefix}the optional package pkcs11js was left out (npm install --omit=optional)`,
      "reinstall without --omit=optional (file and TPM keys work without PKCS#11 support)",
    ]);
    expect(line(tree({ lock: lockWith({ hasInstallScript: true }) }), new Error("x"))).toEqual([
      `${prefix}the pkcs11js native addon failed to build when this package was installed, so npm left it out`,
      `${tools}; npm install --foreground-scripts shows the build's output`,
    ]);
    expect(line(tree({}), new Error("x"))).toEqual([
      `${prefix}the optional package pkcs11js is missing (installed with --omit=optional, or its native addon failed to build)`,
      `reinstall without --omit=optional; if pkcs11js fails to build, ${tools}`,
    ]);
    // The loader's first line, without Node's "imported from <file>" and the require stack.
    const elf = new Error("/x/pkcs11.node: wrong ELF class: ELFCLASS32 imported from /app/dist/cli.js\nRequire stack:\n- /app/dist/cli.js");
    expect(line(tree({ pkcs11js: "built" }), elf)).toEqual([
      `${prefix}the pkcs11js native addon cannot be loaded (/x/pkcs11.node: wrong ELF class: ELFCLASS32)`,
      "it was built for another Node.js version or machine: npm rebuild pkcs11js (global install: reinstall the package)",
    ]);
  });

  it("a lockfile without an entry for pkcs11js says nothing: missing", () => {
    expect(diagnose(tree({ lock: { lockfileVersion: 3, packages: { "": {} } } }), "x")).toEqual({ kind: "missing" });
  });

  it("npm-shrinkwrap.json is read as package-lock.json is, and pkcs11js nested under this package counts", () => {
    const from = tree({});
    writeFileSync(join(from, "../../../..", "npm-shrinkwrap.json"), JSON.stringify(lockWith({})));
    expect(diagnose(from, "x")).toEqual({ kind: "omitted" });
    const nested = { lockfileVersion: 3, packages: { "node_modules/roles-anywhere-agent/node_modules/pkcs11js": { hasInstallScript: true } } };
    expect(diagnose(tree({ lock: nested }), "x")).toEqual({ kind: "build-failed" });
  });

  it("a project directory named lib (it has a package.json) is no global install; nor is a directory without one named otherwise", () => {
    expect(diagnose(tree({ installer: "lib" }), "x")).toEqual({ kind: "missing" });
    expect(diagnose(tree({ installer: "prefix", projectManifest: false }), "x")).toEqual({ kind: "missing" });
  });

  it("the package found by its name, not by the nearest package.json (a dist/ without one)", () => {
    const from = tree({ lock: lockWith({}) });
    rmSync(join(from, "..", "package.json"));
    expect(diagnose(from, "x")).toEqual({ kind: "omitted" });
  });

  it("a package that is not in a node_modules (run from a checkout): no installer's lockfile is read", () => {
    const from = tree({ installer: "src" }).replace("/node_modules/roles-anywhere-agent/", "/roles-anywhere-agent/");
    const checkout = join(from, "../..");
    mkdirSync(join(checkout, "dist"), { recursive: true });
    writeFileSync(join(checkout, "package.json"), JSON.stringify({ name: "roles-anywhere-agent" }));
    writeFileSync(join(checkout, "../..", "package-lock.json"), JSON.stringify(lockWith({})));
    expect(diagnose(from, "x")).toEqual({ kind: "missing" });
  });

  it("an empty pkcs11js directory (no package.json) is no installed pkcs11js", () => {
    const from = tree({ lock: lockWith({}) });
    mkdirSync(join(from, "../../..", "pkcs11js"));
    expect(diagnose(from, "x")).toEqual({ kind: "omitted" });
  });

  it("a file in no package at all: missing, the walk ending at the root", () => {
    // Not under the temporary directory: a /tmp/node_modules/pkcs11js, which any local user can make, would answer.
    expect(diagnoseAddon("/nonexistent/deeper/cli.js", "x")).toEqual({ kind: "missing" });
  });

  it("the walk stops at the installing project: a pkcs11js in a node_modules above it is not taken", () => {
    const from = tree({});
    const above = join(caseDir(from), "node_modules", "pkcs11js");
    mkdirSync(above, { recursive: true });
    writeFileSync(join(above, "package.json"), "{}");
    writeFileSync(join(caseDir(from), "package.json"), JSON.stringify({ name: "outer" }));
    expect(diagnose(from, "x")).toEqual({ kind: "missing" });
  });

  it("a global install (no project around <prefix>/lib/node_modules): a pkcs11js beside the package is not taken", () => {
    const from = tree({ installer: "lib", projectManifest: false, pkcs11js: "built" });
    expect(diagnose(from, "x")).toEqual({ kind: "build-failed" });
  });
});

describe("requirePkcs11js", () => {
  const real = join(process.cwd(), "node_modules", "pkcs11js");
  /** <case>/node_modules/pkcs11js holding only what `files` names (a copy of the real addon, an index.js re-exporting the real one), and a caller file. */
  function layout(files: readonly ("index.js" | "build/Release/pkcs11.node")[]): string {
    const root = join(dir, `case-${n++}`);
    writeFileSync(join(mkdirSync(root, { recursive: true })!, "package.json"), JSON.stringify({ name: "roles-anywhere-agent" }));
    const pkg = join(root, "node_modules", "pkcs11js");
    mkdirSync(join(pkg, "build", "Release"), { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "pkcs11js", main: "index.js" }));
    if (files.includes("index.js")) writeFileSync(join(pkg, "index.js"), `module.exports = require(${JSON.stringify(join(real, "index.js"))});\n`);
    if (files.includes("build/Release/pkcs11.node")) {
      writeFileSync(join(pkg, "build", "Release", "pkcs11.node"), readFileSync(join(real, "build", "Release", "pkcs11.node")));
    }
    writeFileSync(join(root, "caller.js"), "");
    return join(root, "caller.js");
  }

  it("loads the native addon directly when pkcs11js is laid out as binding.ts knows", () => {
    const { PKCS11 } = requirePkcs11js(layout(["build/Release/pkcs11.node"]));
    expect(typeof new PKCS11().C_Initialize).toBe("function");
    expect(PKCS11).not.toBe(require(real).PKCS11);
  });

  it("falls back to pkcs11js's own wrapper when the addon is not where binding.ts looks", () => {
    const { PKCS11 } = requirePkcs11js(layout(["index.js"]));
    expect(PKCS11).toBe(require(real).PKCS11);
  });

  it("with no caller file given, looks from this module's own file (this checkout's pkcs11js)", () => {
    expect(typeof new (requirePkcs11js().PKCS11)().C_Initialize).toBe("function");
  });

  it("reports PKCS11_NOT_INSTALLED when neither loads", () => {
    expect(() => requirePkcs11js(layout([]))).toThrow(expect.objectContaining({ code: "PKCS11_NOT_INSTALLED" }));
  });
});
