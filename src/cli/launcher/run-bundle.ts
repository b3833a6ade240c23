import { readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";
import { codeCacheFile, USER_CODE_CACHE_FILE, USER_CODE_CACHE_WRITER_FILE, wrapCommonJs } from "./bundle-files.js";

/** Set by the build: names each bundle next to the launcher (a hash of its text), and the Node that built them. */
declare const __BUNDLE_IDS__: Readonly<Record<string, string>>;
declare const __BUILD_RUNTIME__: string;
const BUNDLE_IDS: Readonly<Record<string, string>> = typeof __BUNDLE_IDS__ === "object" ? __BUNDLE_IDS__ : {};
const BUILD_RUNTIME = typeof __BUILD_RUNTIME__ === "string" ? __BUILD_RUNTIME__ : "";

/** What a CommonJS module is given: the bundle runs as if it were this module. */
export interface CommonJsScope {
  readonly exports: unknown;
  readonly require: NodeJS.Require;
  readonly module: { exports: unknown };
}

/**
 * Runs the bundle `file` next to the launcher (`dir`) and returns its module.exports, compiled from a V8 code
 * cache when V8 accepts one (see code-cache.ts). Under the Node that built the package, without V8 flags, that
 * is the shipped cache, taken without looking for the user's. Otherwise the user's cache for this Node comes
 * first, then the shipped one. When neither fits and the command succeeds, the user's cache is written as the
 * process exits, after the run, so that it holds every function the run compiled (not only the top level).
 */
export function runBundle(dir: string, file: string, commonJs: CommonJsScope): unknown {
  const bundle = join(dir, file);
  let source: string;
  try {
    // The build keeps the bundles ASCII (latin1 is read without UTF-8 decoding) and writes them wrapped as a
    // CommonJS module function (bundle-files.ts): the text read is the text compiled.
    source = readFileSync(bundle, "latin1");
  } catch (error) {
    // A broken installation, not bad input: say so in one line (exit code 1, "internal").
    writeSync(2, `roles-anywhere-agent: the installation is incomplete: cannot read ${bundle} (${(error as NodeJS.ErrnoException).code ?? "error"}); reinstall roles-anywhere-agent\n`);
    process.exit(1);
  }
  const shipped = () => {
    try {
      return readFileSync(join(dir, codeCacheFile(file)));
    } catch {
      return undefined; // No cache shipped (a development build): compile from source.
    }
  };
  let script: Script | undefined;
  const shippedData = isBuildRuntime() ? shipped() : undefined;
  if (shippedData) {
    script = new Script(source, { filename: bundle, cachedData: shippedData });
    if (script.cachedDataRejected) script = undefined;
  }
  if (!script) {
    // The user's caches are code-cache.ts built as files of their own (the read side with the checked path walk,
    // and the writer): only runs under another Node or with V8 flags load them.
    const { readUserCodeCache, userCodeCache } = loadLauncherPart(dir, USER_CODE_CACHE_FILE) as typeof import("./code-cache-reader.js");
    const userCache = userCodeCache(bundle, BUNDLE_IDS[file] ?? "development", process.env);
    const cachedData = (userCache && readUserCodeCache(userCache)) ?? shipped();
    script = new Script(source, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
    const compiled = script;
    // No cache, or one V8 rejects (another Node binary or other V8 flags than the shipped one was made for).
    if (userCache && (!cachedData || compiled.cachedDataRejected)) {
      process.once("exit", (code) => {
        if (code !== 0) return;
        try {
          const { writeUserCodeCache } = require(join(dir, USER_CODE_CACHE_WRITER_FILE)) as typeof import("./code-cache.js");
          writeUserCodeCache(userCache, compiled.createCachedData());
        } catch {
          // Best effort, like the writing itself: a missing cache only costs start-up time.
        }
      });
    }
  }
  script.runInThisContext()(commonJs.exports, commonJs.require, commonJs.module, bundle, dir);
  return commonJs.module.exports;
}

/**
 * A CommonJS file of the launcher's own next to it (`dir`), compiled as a script rather than required: the
 * CommonJS loader's resolution, real-path walk and module record cost more, on every run under another Node than
 * the one that built the package.
 */
function loadLauncherPart(dir: string, file: string): unknown {
  const path = join(dir, file);
  const module = { exports: {} };
  new Script(wrapCommonJs(readFileSync(path, "latin1")), { filename: path }).runInThisContext()(module.exports, require, module, path, dir);
  return module.exports;
}

/** The Node binary's version and architecture the build made the shipped caches with, and no V8 flags. */
function isBuildRuntime(): boolean {
  return `${process.version}-${process.arch}` === BUILD_RUNTIME && process.execArgv.length === 0 && !process.env["NODE_OPTIONS"];
}
