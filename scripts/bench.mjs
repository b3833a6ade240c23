#!/usr/bin/env node
// `npm run bench`: builds, then runs every benchmark in bench/ (`*.mjs` as is, `*.ts` bundled with esbuild)
// in its own Node process without NODE_EXTRA_CA_CERTS (which alone costs ~100 ms per Node start here).
// Each benchmark prints its figures next to its reference and the ratio. `npm run bench -- NAME…` runs a subset
// (`npm run bench -- fleet`: the fleet simulation alone, 10,000 refresh engines on a virtual clock).
import { build } from "esbuild";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join, basename } from "node:path";

const only = process.argv.slice(2);
execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
// Bundles live under node_modules so that their bare imports resolve to the project's packages.
mkdirSync(join("node_modules", ".cache"), { recursive: true });
const out = mkdtempSync(join("node_modules", ".cache", "raa-bench-"));
let failed = 0;
try {
  const files = readdirSync("bench")
    .filter((f) => /\.(mjs|ts)$/.test(f))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort();
  for (const file of files) {
    let entry = join("bench", file);
    if (file.endsWith(".ts")) {
      const outfile = join(out, basename(file, ".ts") + ".mjs");
      await build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        format: "esm",
        platform: "node",
        target: "node20",
        packages: "external",
        logLevel: "warning",
        banner: { js: 'import{createRequire as __cr}from"node:module";const require=__cr(import.meta.url);' },
      });
      entry = outfile;
    }
    console.log(`\n## ${file}`);
    const r = spawnSync(process.execPath, [entry], { stdio: "inherit", env, cwd: process.cwd() });
    if (r.status !== 0) {
      failed++;
      console.log(`(benchmark ${file} exited with ${r.status ?? r.signal})`);
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
