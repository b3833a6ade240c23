/**
 * Dependencies point one way. Every top-level module of src/ has a layer; a relative import may point at its own
 * module or at a module of a lower layer, never sideways (another module of the same layer) or up. The order is
 * stated here once and mirrored in docs/architecture.md ("Layers"; checked below, with what it says tpm/ and
 * encoding/ import).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/** Lowest first. A module is a folder of src/, or a file at its top (named without `.ts`). */
export const LAYERS: readonly (readonly string[])[] = [
  ["errors", "version", "nearest-names", "own-value", "debug-log", "user-namespace"],
  ["arn"],
  ["io", "os"],
  ["encoding"],
  ["x509"],
  ["secrets"],
  ["sigv4x509"],
  ["tpm"],
  ["pkcs11"],
  ["signers"],
  ["rolesanywhere"],
  ["settings"],
  ["config"],
  ["credentials"],
  ["daemon"],
  ["agent", "serve", "update"],
  ["provisioning", "systemd"],
  ["local-endpoint", "sdk"],
  ["doctor"],
  ["cli", "index"],
];

const SRC = resolve(import.meta.dirname, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Relative module specifiers of static imports, re-exports and dynamic imports (comments are skipped). */
export function relativeImports(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  return [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]!);
}

function moduleOf(path: string): string {
  const [first, ...rest] = relative(SRC, path).split("/");
  return rest.length === 0 ? first!.replace(/\.(ts|js)$/, "") : first!;
}

function layerOf(module: string): number {
  return LAYERS.findIndex((layer) => layer.includes(module));
}

/** Every import that points sideways or up, as `from -> to` lines. */
export function layerViolations(files: readonly { path: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { path, text } of files) {
    const from = moduleOf(path);
    for (const spec of relativeImports(text)) {
      const to = moduleOf(resolve(dirname(path), spec));
      if (from === to) continue;
      if (layerOf(to) < 0 || layerOf(to) >= layerOf(from)) found.push(`${relative(SRC, path)} -> ${spec} (${from} may not import ${to})`);
    }
  }
  return found;
}

const files = sourceFiles(SRC).map((path) => ({ path, text: readFileSync(path, "utf8") }));

describe("src/ layers", () => {
  it("gives every top-level module of src/ a layer", () => {
    expect([...new Set(files.map((f) => moduleOf(f.path)))].filter((m) => layerOf(m) < 0)).toEqual([]);
  });

  it("has no import that points sideways or up", () => {
    expect(layerViolations(files)).toEqual([]);
  });

  it("is docs/architecture.md's Layers table, row for row", () => {
    const text = readFileSync(resolve(SRC, "../docs/architecture.md"), "utf8");
    const section = text.slice(text.indexOf("\n## Layers\n"), text.indexOf("\n## ", text.indexOf("\n## Layers\n") + 1));
    const rows = [...section.matchAll(/^\| (\d+) \| ([^|]+) \|/gm)].map((m) => [...m[2]!.matchAll(/`([^`]+)`/g)].map((n) => n[1]!.replace(/\/$|\.ts$/, "")));
    expect(rows).toEqual(LAYERS);
  });

  /** "`src/tpm/` … imports only `errors.ts`, `io/` (…), …": the modules it names are the ones it imports. */
  it.each([
    ["tpm", /`src\/tpm\/` is our own[\s\S]*?it imports\s+only ([\s\S]*?)\.\n/],
    ["encoding", /`src\/encoding\/` holds[\s\S]*?it imports nothing\s+but ([\s\S]*?)\.\n/],
  ])("says which modules src/%s imports, as docs/architecture.md does", (module, claim) => {
    const text = readFileSync(resolve(SRC, "../docs/architecture.md"), "utf8");
    const named = [...claim.exec(text)![1]!.replace(/\([^)]*\)/g, "").matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$|\.ts$/, ""));
    const imported = files
      .filter((f) => moduleOf(f.path) === module)
      .flatMap((f) => relativeImports(f.text).map((spec) => moduleOf(resolve(dirname(f.path), spec))))
      .filter((to) => to !== module);
    expect(named.sort()).toEqual([...new Set(imported)].sort());
  });

  it("finds an upward import, a sideways one and a dynamic one", () => {
    const at = (p: string) => join(SRC, p);
    expect(
      layerViolations([
        { path: at("config/x.ts"), text: 'import type { CliIo } from "../cli/command.js";' },
        { path: at("serve/x.ts"), text: 'export { writeFailureHint } from "../update/write-hint.js";' },
        { path: at("rolesanywhere/x.ts"), text: 'const m = await import("../credentials/credential-cache.js");' },
        { path: at("cli/x.ts"), text: 'import { loadConfig } from "../config/load-config.js"; // from "../cli/y.js"' },
      ]),
    ).toEqual([
      "config/x.ts -> ../cli/command.js (config may not import cli)",
      "serve/x.ts -> ../update/write-hint.js (serve may not import update)",
      "rolesanywhere/x.ts -> ../credentials/credential-cache.js (rolesanywhere may not import credentials)",
    ]);
  });
});
