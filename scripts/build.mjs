#!/usr/bin/env node
// Builds the library (tsc → dist/lib, with .d.ts) and the CLI bundle (esbuild → dist/cli.js + lazily loaded chunks).
// The CLI is bundled so that `credential-process` evaluates only the modules it needs: start-up time is a feature.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const version = JSON.stringify(pkg.version);

rmSync("dist", { recursive: true, force: true });

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
const versionFile = "dist/lib/version.js";
writeFileSync(versionFile, readFileSync(versionFile, "utf8").replace(/typeof __AGENT_VERSION__[^;]*;/, `${version};`));

await build({
  entryPoints: { cli: "src/cli/bin.ts" },
  outdir: "dist",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minify: true,
  // Prefer packages' ESM builds: CJS modules reached through import() lose their named exports in a split bundle.
  mainFields: ["module", "main"],
  keepNames: true,
  legalComments: "none",
  // Native addons stay in node_modules; everything else is bundled.
  external: ["pkcs11js", "graphene-pk11"],
  define: { __AGENT_VERSION__: version },
  banner: { js: 'import{createRequire as __raaCreateRequire}from"node:module";const require=__raaCreateRequire(import.meta.url);' },
  logLevel: "warning",
});
chmodSync("dist/cli.js", 0o755);
