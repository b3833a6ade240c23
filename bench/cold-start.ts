/**
 * Cold `credential-process` (file EC key, local endpoint over HTTP) against `node -e 0`, measured in the same
 * run: what a user pays per `aws` command when no agent is used. Target: ≤ 1.5× `node -e 0`.
 * Next to it, for scale: the same dist/ without its V8 code cache, and bench/reference/minimal-create-session.mjs,
 * the least any Node program doing this work costs (node:crypto, node:http, no options, no error handling).
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { cpSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { median, printComparison, timeCommand } from "./lib/measure.js";

const RUNS = Number(process.env["BENCH_RUNS"] ?? 30);
const { dir, cleanup } = makeTempDir("raa-bench-cold-");
const ca = createCa(dir, { name: "Bench CA" });
const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "bench-device", keyType: "p256" });
// The shipped dist/ once more, without the code cache, beside node_modules so that it resolves the same packages.
const uncached = join(process.cwd(), "node_modules", ".cache", "raa-bench-uncached-dist");
rmSync(uncached, { recursive: true, force: true });
cpSync("dist", uncached, { recursive: true });
rmSync(join(uncached, "cli-bundle.cjs.cache"));

const endpoint = spawn(process.execPath, ["dist/cli.js", "local-endpoint", "--trust-anchors", ca.certPath, "--port", "0"], {
  stdio: ["ignore", "pipe", "ignore"],
});
try {
  const [url] = (await once(createInterface({ input: endpoint.stdout! }), "line")) as [string];
  const arns = {
    trustAnchor: "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/bench",
    profile: "arn:aws:rolesanywhere:us-east-1:000000000000:profile/bench",
    role: "arn:aws:iam::000000000000:role/bench",
  };
  const flags = [
    "credential-process",
    "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
    "--trust-anchor-arn", arns.trustAnchor, "--profile-arn", arns.profile, "--role-arn", arns.role,
    "--endpoint", url,
  ];
  const shipped = ["dist/cli.js", ...flags];
  const withoutCache = [join(uncached, "cli.js"), ...flags];
  const minimal = ["bench/reference/minimal-create-session.mjs", leaf.certPath, leaf.keyPath, url, arns.trustAnchor, arns.profile, arns.role];
  for (const args of [shipped, withoutCache, minimal]) {
    const check = spawnSync(process.execPath, args, { encoding: "utf8" });
    if (check.status !== 0 || !check.stdout.startsWith('{"Version":1')) throw new Error(`${args[0]} failed: ${check.stderr}`);
  }

  const t = { node: [] as number[], cold: [] as number[], uncached: [] as number[], minimal: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    t.node.push(await timeCommand(process.execPath, ["-e", "0"]));
    t.cold.push(await timeCommand(process.execPath, shipped));
    t.uncached.push(await timeCommand(process.execPath, withoutCache));
    t.minimal.push(await timeCommand(process.execPath, minimal));
  }
  const node = median(t.node);
  printComparison("cold credential-process (file EC key, HTTP local endpoint)", median(t.cold), "node -e 0", node, 1.5, RUNS);
  console.log(`  for scale: the same without the V8 code cache ${median(t.uncached).toFixed(1)} ms (${(median(t.uncached) / node).toFixed(2)}×); ` +
    `bench/reference/minimal-create-session.mjs (the least a Node program doing this work costs) ${median(t.minimal).toFixed(1)} ms (${(median(t.minimal) / node).toFixed(2)}×)`);
} finally {
  endpoint.kill("SIGTERM");
  rmSync(uncached, { recursive: true, force: true });
  cleanup();
}
