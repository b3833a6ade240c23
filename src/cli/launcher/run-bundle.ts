import { accessSync, closeSync, constants, fstatSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";
import { readCacheData } from "./read-cache-data.js";
import { buildIdLine, buildIdOf, codeCacheFile, runtimeCodeCacheFile, USER_CODE_CACHE_FILE, USER_CODE_CACHE_WRITER_FILE, wrapCommonJs } from "./bundle-files.js";

/** Set by the build: the Node that built the bundles. */
declare const __BUILD_RUNTIME__: string;
const BUILD_RUNTIME = typeof __BUILD_RUNTIME__ === "string" ? __BUILD_RUNTIME__ : "";

/**
 * Runs the bundle `file` next to the launcher (`dir`) as the CommonJS module `module` (with the launcher's
 * require), compiled from a V8 code cache when V8 accepts one (code-cache.ts), and returns its module.exports.
 * Under the Node that built the package without V8 flags: the shipped cache, without looking for the user's.
 * Under another Node without V8 flags: that Node's cache next to the bundle (bundle-files.ts:
 * runtimeCodeCacheFile), then, as with V8 flags, the user's cache for this Node, then the shipped one (on the
 * build's CPU only). When none fits and the command succeeds, a cache is written as the process exits, so that it holds every function the
 * run compiled (not only the top level): next to the bundle when the package's directory is this user's, else
 * the user's.
 */
export function runBundle(dir: string, file: string, module: { exports: unknown } = { exports: {} }): unknown {
  const bundle = join(dir, file);
  // The build keeps the bundles ASCII (latin1 is read without UTF-8 decoding) and writes them wrapped as a
  // CommonJS module function (bundle-files.ts): the text read is the text compiled. Its first line names its build,
  // which every cache of it must be made for (bundle-files.ts: buildIdLine), whatever cli.js was built with.
  const source = readInstalled(bundle);
  const buildId = buildIdOf(source);
  const buildRuntime = isBuildRuntime();
  const shipped = buildRuntime ? shippedCodeCache(dir, file, buildId) : undefined;
  const script =
    withCache(source, bundle, shipped) ?? compileWithoutShippedCache(dir, file, source, buildId, buildRuntime);
  const wrapped: unknown = script.runInThisContext();
  // Empty, or its id line only: a file npm has created but not yet written (any other cut does not compile).
  if (typeof wrapped !== "function") incomplete(`${bundle} is cut short`);
  wrapped(module.exports, require, module, bundle, dir);
  return module.exports;
}

/** `source` compiled from `cachedData` when there is one and V8 accepts it. */
function withCache(source: string, filename: string, cachedData: Buffer | undefined): Script | undefined {
  if (!cachedData) return undefined;
  const script = compile(source, filename, cachedData);
  return script.cachedDataRejected ? undefined : script;
}

/** The V8 data of the shipped cache, when it was made for this build of the bundle (its first line says). */
function shippedCodeCache(dir: string, file: string, buildId: string | undefined): Buffer | undefined {
  let fd: number | undefined;
  let data;
  try {
    fd = openSync(join(dir, codeCacheFile(file)), constants.O_RDONLY);
    data = readCacheData(fd, fstatSync(fd).size);
  } catch {
    return undefined; // No cache shipped (a development build): compile from source.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (!data) return undefined; // Damaged: compile from source.
  const header = buildId === undefined ? undefined : buildIdLine(buildId);
  // Another build's (an installation with files of two versions): V8 would take it if the lengths were the same.
  const ours = header !== undefined && data.toString("latin1", 0, header.length) === header;
  return ours ? data.subarray(header.length) : undefined;
}

/**
 * The bundle compiled under another Node than the one that built the package, or with V8 flags, from the caches in
 * runBundle's order, else from source (a function of its own: runs under the build's Node do not compile it).
 */
function compileWithoutShippedCache(
  dir: string,
  file: string,
  source: string,
  buildId: string | undefined,
  buildRuntime: boolean,
): Script {
  const bundle = join(dir, file);
  // Only in a package directory of this user's (root's install, for root; code-cache.ts checks the rest when
  // writing): anyone else's goes to the user's cache at once, as it did before such caches existed.
  const runtimeCache =
    !buildRuntime && process.execArgv.length === 0 && !process.env["NODE_OPTIONS"] && buildId !== undefined && ownsDirectory(dir)
      ? join(dir, runtimeCodeCacheFile(file, buildId, `${process.version}-${process.arch}`))
      : undefined;
  const fromRuntimeCache = runtimeCache && withCache(source, bundle, readRuntimeCodeCache(runtimeCache, process.geteuid!()));
  if (fromRuntimeCache) return fromRuntimeCache;
  const { readUserCodeCache, userCodeCache } = loadLauncherPart(dir, USER_CODE_CACHE_FILE) as typeof import("./code-cache-reader.js");
  const userCache = userCodeCache(bundle, buildId ?? "development", process.env);
  // The shipped cache was made on the build's CPU, and V8 does not check which: the same Node version for arm64
  // (under qemu) took x64's and crashed with SIGSEGV. Another CPU never gets it.
  const shipped = BUILD_RUNTIME.endsWith(`-${process.arch}`) ? shippedCodeCache(dir, file, buildId) : undefined;
  const cachedData = (userCache && readUserCodeCache(userCache)) ?? shipped;
  const script = compile(source, bundle, cachedData);
  // No cache, or one V8 rejects (another Node binary or other V8 flags than the shipped one was made for).
  const userCacheStale = userCache !== undefined && (!cachedData || script.cachedDataRejected);
  if (runtimeCache || userCacheStale) {
    process.once("exit", (code) => {
      // A directory that cannot be written (a read-only mount, a container's root file system) costs nothing: no
      // writer to load, no cache data to make, on each run.
      const nextToBundle = runtimeCache !== undefined && writable(dir);
      if (code !== 0 || (!nextToBundle && !userCacheStale)) return;
      try {
        const { writeRuntimeCodeCache, writeUserCodeCache } = require(join(dir, USER_CODE_CACHE_WRITER_FILE)) as typeof import("./code-cache.js");
        const data = script.createCachedData();
        if (!(nextToBundle && writeRuntimeCodeCache(runtimeCache, data)) && userCacheStale) writeUserCodeCache(userCache, data);
      } catch {
        // Best effort, like the writing itself: a missing cache only costs start-up time.
      }
    });
  }
  return script;
}

/**
 * A CommonJS file of the launcher's own next to it (`dir`), compiled as a script rather than required: the
 * CommonJS loader's resolution, real-path walk and module record cost more, on every run under another Node than
 * the one that built the package.
 */
function loadLauncherPart(dir: string, file: string): unknown {
  const path = join(dir, file);
  const module = { exports: {} };
  compile(wrapCommonJs(readInstalled(path)), path).runInThisContext()(module.exports, require, module, path, dir);
  try {
    // Cut after a statement, it compiles: its exports are then missing, or getters of functions it no longer has.
    const exports = Object.values(module.exports);
    if (exports.length > 0 && exports.every((f) => typeof f === "function")) return module.exports;
  } catch {
    // Such a getter's ReferenceError.
  }
  incomplete(`${path} is cut short`);
}

/**
 * A file of the installation, or one line saying it is incomplete (exit code 1, "internal"): a broken or half-written
 * installation (a run while `npm i -g` writes the files one by one) is not bad input.
 */
function readInstalled(path: string): string {
  try {
    return readFileSync(path, "latin1");
  } catch (error) {
    incomplete(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** `source` compiled (with `cachedData` when given); a file cut short is an incomplete installation too. */
function compile(source: string, filename: string, cachedData?: Buffer): Script {
  try {
    return new Script(source, { filename, ...(cachedData ? { cachedData } : {}) });
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    incomplete(`${filename} does not compile (${error.message})`);
  }
}

export function incomplete(what: string): never {
  writeSync(2, `roles-anywhere-agent: the installation is incomplete: ${what}; reinstall roles-anywhere-agent\n`);
  process.exit(1);
}

/**
 * The V8 data of this Node's cache next to a bundle (`path`), or undefined. It is trusted as the bundle is, which
 * is read and run from the same directory without a check: only who can write that directory can have put it
 * there. What could still reach it from elsewhere is refused: a symbolic link, a file that is not regular, one of
 * another user's (not `uid`, not root), one that others can write. Costs a few system calls, not the checked walk
 * and its compiling (~6 M instructions) that the user's cache needs.
 */
export function readRuntimeCodeCache(path: string, uid: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const stats = fstatSync(fd);
    if (!stats.isFile() || (stats.uid !== uid && stats.uid !== 0) || (stats.mode & 0o022) !== 0) return undefined;
    return readCacheData(fd, stats.size);
  } catch {
    return undefined; // None yet (or not readable): the user's cache, then the shipped one, then the source.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function ownsDirectory(dir: string): boolean {
  try {
    return typeof process.geteuid === "function" && statSync(dir).uid === process.geteuid();
  } catch {
    return false;
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function isBuildRuntime(): boolean {
  return `${process.version}-${process.arch}` === BUILD_RUNTIME && process.execArgv.length === 0 && !process.env["NODE_OPTIONS"];
}
