import { readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";
import { CLI_BUNDLE_FILE, CLI_CODE_CACHE_FILE, readUserCodeCache, userCodeCache, wrapCommonJs, writeUserCodeCache } from "./code-cache.js";

/** Set by the build: names the bundle next to the launcher (a hash of its text). */
declare const __BUNDLE_ID__: string;
const BUNDLE_ID = typeof __BUNDLE_ID__ === "string" ? __BUNDLE_ID__ : "development";

/**
 * Runs the CLI bundle next to the launcher (`dir`), compiled from a V8 code cache when V8 accepts one (see
 * code-cache.ts): the user's cache for this Node, else the one the build shipped. When neither fits and the
 * command succeeds, the user's cache is written as the process exits, after the run, so that it holds every
 * function the run compiled (not only the bundle's top level).
 */
export function runCliBundle(dir: string, commonJs: { exports: unknown; require: NodeJS.Require; module: NodeJS.Module }): void {
  const bundle = join(dir, CLI_BUNDLE_FILE);
  let source: string;
  try {
    // The build keeps the bundle ASCII: latin1 is read without UTF-8 decoding.
    source = readFileSync(bundle, "latin1");
  } catch (error) {
    // A broken installation, not bad input: say so in one line (exit code 1, "internal").
    writeSync(2, `roles-anywhere-agent: the installation is incomplete: cannot read ${bundle} (${(error as NodeJS.ErrnoException).code ?? "error"}); reinstall roles-anywhere-agent\n`);
    process.exit(1);
  }
  const userCache = userCodeCache(bundle, BUNDLE_ID, process.env);
  let cachedData = userCache && readUserCodeCache(userCache);
  if (!cachedData) {
    try {
      cachedData = readFileSync(join(dir, CLI_CODE_CACHE_FILE));
    } catch {
      // No cache shipped (a development build): compile from source.
    }
  }
  const script = new Script(wrapCommonJs(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  // No cache, or one V8 rejects (another Node binary or other V8 flags than the shipped one was made for).
  if (userCache && (!cachedData || script.cachedDataRejected)) {
    process.once("exit", (code) => {
      if (code === 0) writeUserCodeCache(userCache, script.createCachedData());
    });
  }
  script.runInThisContext()(commonJs.exports, commonJs.require, commonJs.module, bundle, dir);
}
