// Shared by the launcher (src/cli/launcher/main.ts, run as dist/cli.js) and the build (scripts/build.mjs, which
// imports the compiled copy from dist/lib): the cache V8 writes is only accepted for the exact same source
// text, so both must wrap the bundle identically.

/** The CLI bundle and its V8 code cache, next to dist/cli.js. */
export const CLI_BUNDLE_FILE = "cli-bundle.cjs";
export const CLI_CODE_CACHE_FILE = "cli-bundle.cjs.cache";

/** The CommonJS module wrapper around the bundle's source, as the launcher compiles it. */
export function wrapCommonJs(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}
