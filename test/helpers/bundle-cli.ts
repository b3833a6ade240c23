import { build } from "esbuild";
import { join, resolve } from "node:path";

/**
 * Bundles the CLI program (src/cli/bin.ts, what dist/cli-bundle.cjs holds) as one ES module `cli.mjs` in `dir`,
 * independent of `npm run build` and of dist/; returns its path. Its bare import (pkcs11js) resolves only from a
 * directory under node_modules.
 */
export async function bundleCliInto(dir: string): Promise<string> {
  await build({
    entryPoints: { cli: resolve("src/cli/bin.ts") },
    outdir: dir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["pkcs11js"],
    define: { __AGENT_VERSION__: '"0.0.0-test"' },
    banner: { js: 'import{createRequire as __raaCreateRequire}from"node:module";const require=__raaCreateRequire(import.meta.url);' },
    logLevel: "silent",
  });
  return join(dir, "cli.mjs");
}
