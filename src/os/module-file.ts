/**
 * Where this package's code runs from. Its own module, without imports beyond node:path and node:url: the native
 * helper's loader needs it on every cold start, and own-package.ts (loading dependencies, which only some runs need)
 * costs about 5 M instructions more there when the bundle has to set it up too.
 */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** This module's file: the built file it is part of (dist/lib/os/own-package.js, a bundle in dist/), or the source. */
export function thisModuleFile(): string {
  // ES modules have import.meta.url; CommonJS builds (the CLI bundles, the launcher) have __filename, and an empty
  // import.meta. Not the other way round: `node -e` makes __filename a global ("[eval]") that ES modules see too.
  return import.meta.url ? fileURLToPath(import.meta.url) : __filename;
}

/**
 * The build's dist/ seen from `from`: a bundle in dist/, a chunk in dist/daemon/, dist/lib/os/, or a checkout's
 * src/os/ (its dist/). Never a directory above the package: that may be another user's (/tmp).
 */
export function distDirectory(from: string = thisModuleFile()): string {
  const here = dirname(from);
  if (from.endsWith(".ts")) return join(here, "..", "..", "dist");
  if (basename(here) === "os" && basename(dirname(here)) === "lib") return dirname(dirname(here));
  return basename(here) === "daemon" ? dirname(here) : here;
}
