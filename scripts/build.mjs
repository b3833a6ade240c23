#!/usr/bin/env node
// Builds the library (tsc → dist/lib, with .d.ts) and the CLI:
// - dist/cli.js: the entry point, one small CommonJS file (no ESM loader at start-up) holding only the
//   fast path (src/cli/fast-path.ts: version, credential-process answered by the agent);
// - dist/chunks/*.mjs: every command, an ESM bundle split so that one command evaluates only its own modules,
//   loaded by dist/cli.js through dist/chunks/main.mjs.
// Start-up time is a feature: see bench/cold-start.ts and bench/agent.mjs.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const version = JSON.stringify(pkg.version);

rmSync("dist", { recursive: true, force: true });

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
const versionFile = "dist/lib/version.js";
writeFileSync(versionFile, readFileSync(versionFile, "utf8").replace(/typeof __AGENT_VERSION__[^;]*;/, `${version};`));
// The package is "type": "module"; dist/cli.js is CommonJS, so dist/ says so and dist/lib says ESM again.
writeFileSync("dist/package.json", `${JSON.stringify({ type: "commonjs" })}\n`);
writeFileSync("dist/lib/package.json", `${JSON.stringify({ type: "module" })}\n`);

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  minify: true,
  keepNames: true,
  legalComments: "none",
  // Native addons stay in node_modules; everything else is bundled.
  external: ["pkcs11js", "graphene-pk11"],
  define: { __AGENT_VERSION__: version },
  logLevel: "warning",
};

// Bundled CommonJS dependencies call require(); ESM chunks get one from node:module. Only chunks that use it
// keep that import: importing node:module costs start-up time.
const REQUIRE_SHIM = 'import{createRequire as __raaCreateRequire}from"node:module";const require=__raaCreateRequire(import.meta.url);';
await build({
  ...common,
  entryPoints: { main: "src/cli/main.ts" },
  outdir: "dist/chunks",
  outExtension: { ".js": ".mjs" },
  chunkNames: "[name]-[hash]",
  splitting: true,
  format: "esm",
  // Prefer packages' ESM builds: CJS modules reached through import() lose their named exports in a split bundle.
  mainFields: ["module", "main"],
  banner: { js: REQUIRE_SHIM },
});
for (const name of readdirSync("dist/chunks")) {
  const file = join("dist/chunks", name);
  const code = readFileSync(file, "utf8");
  if (code.startsWith(REQUIRE_SHIM) && !/\brequire\b/.test(code.slice(REQUIRE_SHIM.length))) writeFileSync(file, code.slice(REQUIRE_SHIM.length));
}

await build({
  ...common,
  entryPoints: { cli: "src/cli/bin.ts" },
  outdir: "dist",
  format: "cjs",
  mainFields: ["module", "main"],
  plugins: [
    {
      // bin.ts loads main.ts at run time from the ESM build above instead of bundling it.
      name: "main-from-esm-build",
      setup(b) {
        b.onResolve({ filter: /^\.\/main\.js$/ }, () => ({ path: "./chunks/main.mjs", external: true }));
      },
    },
  ],
});
const cli = readFileSync("dist/cli.js", "utf8");
if (!cli.includes('import("./chunks/main.mjs")')) throw new Error("dist/cli.js does not load ./chunks/main.mjs with import(): check the build");
chmodSync("dist/cli.js", 0o755);
