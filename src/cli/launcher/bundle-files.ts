// The CLI bundles next to dist/cli.js and how they are compiled, shared by the launcher (run-bundle.ts) and the
// build (scripts/build.mjs, which imports the compiled copy from dist/lib): V8 accepts a code cache only for the
// same source length, so both wrap a bundle identically. No imports: the launcher, compiled on every run
// without a cache, loads this file.

/** The CLI bundles: every command, credential-process with a key file, and with a PKCS#11 or TPM key. */
export const CLI_BUNDLE_FILE = "cli-bundle.cjs";
export const CREDENTIAL_PROCESS_BUNDLE_FILE = "credential-process.cjs";
export const HARDWARE_BUNDLE_FILE = "credential-process-hardware.cjs";
/** agent-fast-path.ts, built as a file of its own: compiled from its code cache like the bundles. */
export const AGENT_FAST_PATH_FILE = "agent-fast-path.cjs";
/** code-cache.ts, built as files of their own for the launcher (scripts/build.mjs): its read side, and all of it. */
export const USER_CODE_CACHE_FILE = "user-code-cache.cjs";
export const USER_CODE_CACHE_WRITER_FILE = "user-code-cache-writer.cjs";

/** The shipped code cache of a bundle: next to it, starting with the bundle's build id line (buildIdLine). */
export function codeCacheFile(bundleFile: string): string {
  return `${bundleFile}.cache`;
}

/**
 * The first line of each bundle and of its shipped cache: the build id, a hash of the rest of the bundle's text. V8
 * checks only the source's length, so without it a cache of another build's bundle of the same length (an install
 * copying files over the old ones) would run that build's code. Read, not hashed, at run time (run-bundle.ts).
 */
export function buildIdLine(buildId: string): string {
  return `//raa-build ${buildId}\n`;
}

/** The build id of a bundle's text (buildIdLine), or undefined (not built by scripts/build.mjs). */
export function buildIdOf(source: string): string | undefined {
  return source.startsWith("//raa-build ") && source[28] === "\n" ? source.slice(12, 28) : undefined;
}

/**
 * The code cache of a bundle for another Node than the one that built the package (`runtime`: its version and
 * architecture), next to the bundle too: written by the first run of the package's owner under that Node
 * (run-bundle.ts). Named by the build's id of the bundle, so that a cache left from another build is never read.
 */
export function runtimeCodeCacheFile(bundleFile: string, buildId: string, runtime: string): string {
  return `${bundleFile}.${buildId}.${runtime}.cache`;
}

/**
 * The CommonJS module wrapper around the bundle's source. The build writes each bundle already wrapped, so that
 * the launcher compiles the file's text as it reads it: wrapping it there made V8 copy the whole source
 * (~125 KB) into the young generation once more, which alone was enough for one more garbage collection.
 */
export function wrapCommonJs(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}
