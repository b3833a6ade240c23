import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";
import { CLI_BUNDLE_FILE, CLI_CODE_CACHE_FILE, wrapCommonJs } from "./code-cache.js";

/**
 * Runs the CLI bundle next to the launcher (`dir`), compiled from its V8 code cache when V8 accepts it
 * (same Node version and flags as the build), else from source.
 */
export function runCliBundle(dir: string, commonJs: { exports: unknown; require: NodeJS.Require; module: NodeJS.Module }): void {
  const bundle = join(dir, CLI_BUNDLE_FILE);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(join(dir, CLI_CODE_CACHE_FILE));
  } catch {
    // No cache (a development build): compile from source.
  }
  const script = new Script(wrapCommonJs(readFileSync(bundle, "utf8")), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  script.runInThisContext()(commonJs.exports, commonJs.require, commonJs.module, bundle, dir);
}
