/**
 * The RSA/EC credential_process path must not load the ML-DSA implementation (or the ASN.1 library):
 * bundle the file-signer entry points with esbuild (code splitting on) and check that nothing reachable
 * through static imports imports @noble/post-quantum or @peculiar/* — they may only be reached through a
 * dynamic import() (@noble/post-quantum: requireFromPackage, in src/signers/file/mldsa/params.ts's loadMlDsa).
 */
import { join } from "node:path";
import { build, type Metafile } from "esbuild";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..", "..", "..");
const HEAVY = /^@(noble\/post-quantum|peculiar\/)/;

/** Packages imported statically by `entry` or anything it statically imports. */
function staticPackages(metafile: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (output: string) => {
    if (seen.has(output)) return;
    seen.add(output);
    for (const imported of metafile.outputs[output]?.imports ?? []) {
      if (imported.kind !== "import-statement") continue;
      if (imported.external) packages.add(imported.path);
      else visit(imported.path);
    }
  };
  visit(entry);
  return packages;
}

describe("lazy loading of ML-DSA support", () => {
  it.each(["src/signers/factory.ts", "src/signers/file/key-parsers.ts", "src/local-endpoint/verify-signature.ts"])(
    "%s reaches @noble/post-quantum and @peculiar/* only through import()",
    async (entry) => {
      const result = await build({
        entryPoints: [join(ROOT, entry)],
        bundle: true,
        splitting: true,
        format: "esm",
        platform: "node",
        packages: "external",
        outdir: join(ROOT, "node_modules", ".cache", "raa-lazy-check"),
        write: false,
        metafile: true,
        logLevel: "silent",
      });
      const entryOutput = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint !== undefined)![0];
      const packages = [...staticPackages(result.metafile, entryOutput)];
      expect(packages.filter((p) => HEAVY.test(p))).toEqual([]);
      // …while the ML-DSA loader is still part of the bundle (it loads @noble/post-quantum with requireFromPackage,
      // src/os/own-package.ts, when called: a name esbuild does not see).
      expect(Object.keys(result.metafile.inputs).some((f) => f.endsWith("src/signers/file/mldsa/params.ts"))).toBe(true);
    },
  );
});
