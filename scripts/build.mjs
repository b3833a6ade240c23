#!/usr/bin/env node
// Builds the library (tsc → dist/lib, ESM with .d.ts) and the CLI:
// - dist/cli-bundle.cjs: every command in one CommonJS bundle (src/cli/bin.ts). CommonJS starts without the
//   ESM loader and one file costs one compile; modules a command does not use are wrapped and never run.
// - dist/cli-bundle.cjs.cache: V8's code cache for that bundle, so that it is not even parsed at start-up.
// - dist/daemon/*.mjs: the same program as ES modules split per command, for the long-running commands
//   (agent, serve, update, local-endpoint): loading only what they use keeps their memory ~8 MB lower than the
//   one-file bundle does, and their start-up time does not matter.
// - dist/cli.js: the bin (src/cli/launcher/main.ts): answers agent-served credential-process calls by itself,
//   else runs the long-running commands from dist/daemon/ and all others from the cached bundle.
// - dist/native/<platform>-<arch>/raa_native.node: the project's own N-API addon (native/raa_native.c; PR_SET_DUMPABLE,
//   SO_PEERCRED), built with node-gyp and shipped prebuilt, so that an install without a compiler has it.
// Start-up time is a feature: every `aws` command runs credential-process (bench/cold-start.ts, bench/agent.mjs).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Script } from "node:vm";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const version = JSON.stringify(pkg.version);

rmSync("dist", { recursive: true, force: true });

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
const versionFile = "dist/lib/version.js";
writeFileSync(versionFile, readFileSync(versionFile, "utf8").replace(/typeof __AGENT_VERSION__[^;]*;/, `${version};`));
// The package is "type": "module"; the CLI files are CommonJS, so dist/ says so and dist/lib says ESM again.
writeFileSync("dist/package.json", `${JSON.stringify({ type: "commonjs" })}\n`);
writeFileSync("dist/lib/package.json", `${JSON.stringify({ type: "module" })}\n`);

const { CLI_BUNDLE_FILE, CLI_CODE_CACHE_FILE, wrapCommonJs } = await import("../dist/lib/cli/launcher/code-cache.js");
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: true,
  keepNames: true,
  legalComments: "none",
  logLevel: "warning",
  // src/os/native-helper.ts reads __filename in CommonJS and import.meta.url only in ES modules.
  logOverride: { "empty-import-meta": "silent" },
};

await build({
  ...common,
  entryPoints: ["src/cli/bin.ts"],
  outfile: `dist/${CLI_BUNDLE_FILE}`,
  // Prefer packages' ESM builds: one copy of each module whether it is imported statically or with import().
  mainFields: ["module", "main"],
  define: { __AGENT_VERSION__: version },
  // import() becomes require() (of ES modules too, as Node ≥ 20.19 allows): functions restored from a V8 code
  // cache have no dynamic-import callback.
  supported: { "dynamic-import": false },
  // The native addon stays in node_modules (graphene-pk11 is bundled: required from node_modules, its many
  // small files cost ~70 ms), and so do libraries only some runs need (yargs renders --help,
  // @noble/post-quantum signs with ML-DSA keys): required then, they cost the others nothing.
  external: ["pkcs11js", "yargs", "@noble/post-quantum", "@noble/post-quantum/*"],
});
const bundleSource = readFileSync(`dist/${CLI_BUNDLE_FILE}`, "utf8");
// Compiling is enough: the cache then holds the parsed bundle; functions compile lazily as they run.
writeFileSync(`dist/${CLI_CODE_CACHE_FILE}`, new Script(wrapCommonJs(bundleSource), { filename: CLI_BUNDLE_FILE }).createCachedData());
if (/\bimport\(/.test(bundleSource)) throw new Error(`dist/${CLI_BUNDLE_FILE} still calls import(): it would fail when restored from the code cache`);

// Bundled CommonJS dependencies call require(); ESM chunks get one from node:module. Only chunks that use it
// keep that import: importing node:module costs start-up time.
const REQUIRE_SHIM = 'import{createRequire as __raaCreateRequire}from"node:module";const require=__raaCreateRequire(import.meta.url);';
await build({
  ...common,
  entryPoints: { cli: "src/cli/bin.ts" },
  outdir: "dist/daemon",
  outExtension: { ".js": ".mjs" },
  chunkNames: "[name]-[hash]",
  splitting: true,
  format: "esm",
  // Prefer packages' ESM builds: CJS modules reached through import() lose their named exports in a split bundle.
  mainFields: ["module", "main"],
  define: { __AGENT_VERSION__: version },
  // graphene-pk11 stays in node_modules here: its ES build bundled into split ES modules aborts in free() as
  // soon as a token is opened (seen with SoftHSM; the CommonJS bundle above is unaffected and tested).
  external: ["pkcs11js", "graphene-pk11"],
  banner: { js: REQUIRE_SHIM },
});
for (const name of readdirSync("dist/daemon")) {
  const file = join("dist/daemon", name);
  const code = readFileSync(file, "utf8");
  if (code.startsWith(REQUIRE_SHIM) && !/\brequire\b/.test(code.slice(REQUIRE_SHIM.length))) writeFileSync(file, code.slice(REQUIRE_SHIM.length));
}

await build({ ...common, entryPoints: ["src/cli/launcher/main.ts"], outfile: "dist/cli.js" });
chmodSync("dist/cli.js", 0o755);

buildNativeHelper();

/**
 * native/ → dist/native/<platform>-<arch>/raa_native.node, rebuilt only when its sources changed (native/build/
 * is kept between builds). A machine without a C compiler still builds the rest: the helper is optional at run
 * time (SECURITY.md says what is then not protected), so this warns instead of failing.
 */
function buildNativeHelper() {
  const output = "native/build/Release/raa_native.node";
  const sources = ["native/raa_native.c", "native/binding.gyp"];
  const stale = !existsSync(output) || sources.some((f) => statSync(f).mtimeMs > statSync(output).mtimeMs);
  if (stale) {
    try {
      execFileSync(process.execPath, [nodeGyp(), "rebuild", "--loglevel=warn", "--directory", "native", `--nodedir=${nodeDir()}`], { stdio: ["ignore", "ignore", "inherit"] });
    } catch (error) {
      console.warn(`warning: the native helper was not built (${error.message.split("\n")[0]}): dist/ ships without it`);
      return;
    }
  }
  const target = join("dist", "native", `${process.platform}-${process.arch}`);
  mkdirSync(target, { recursive: true });
  copyFileSync(output, join(target, "raa_native.node"));
}

/** npm's own node-gyp: npm names it when it runs this script, else it is found next to the npm on PATH. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const npm = realpathSync(execFileSync("bash", ["-c", "command -v npm"], { encoding: "utf8" }).trim());
  return join(dirname(dirname(npm)), "node_modules", "node-gyp", "bin", "node-gyp.js");
}

/** Headers of the running Node (nodedir=/usr for Debian's nodejs): node-gyp must not try to download them. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? prefix : "/usr";
}
