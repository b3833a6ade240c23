import { readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";
import { CLI_BUNDLE_FILE, CLI_CODE_CACHE_FILE, wrapCommonJs } from "./code-cache.js";

/**
 * Runs the CLI bundle next to the launcher (`dir`), compiled from its V8 code cache when V8 accepts it
 * (same Node version and flags as the build), else from source.
 */
export function runCliBundle(dir: string, commonJs: { exports: unknown; require: NodeJS.Require; module: NodeJS.Module }): void {
  const bundle = join(dir, CLI_BUNDLE_FILE);
  let source: string;
  try {
    source = readFileSync(bundle, "utf8");
  } catch (error) {
    // A broken installation, not bad input: say so in one line (exit code 1, "internal").
    writeSync(2, `roles-anywhere-agent: the installation is incomplete: cannot read ${bundle} (${(error as NodeJS.ErrnoException).code ?? "error"}); reinstall roles-anywhere-agent\n`);
    process.exit(1);
  }
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(join(dir, CLI_CODE_CACHE_FILE));
  } catch {
    // No cache (a development build): compile from source.
  }
  const script = new Script(wrapCommonJs(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  script.runInThisContext()(commonJs.exports, commonJs.require, commonJs.module, bundle, dir);
}
