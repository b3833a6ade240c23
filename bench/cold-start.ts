/**
 * Cold `credential-process` (file key, local endpoint over HTTP) against `node -e 0`, measured in the same
 * run: what a user pays per `aws` command when no agent is used. Target: ≤ 1.5× `node -e 0`.
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { median, printComparison, timeCommand } from "./lib/measure.js";

const RUNS = Number(process.env["BENCH_RUNS"] ?? 30);
const { dir, cleanup } = makeTempDir("raa-bench-cold-");
const ca = createCa(dir, { name: "Bench CA" });
const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "bench-device", keyType: "p256" });

const endpoint = spawn(process.execPath, ["dist/cli.js", "local-endpoint", "--trust-anchors", ca.certPath, "--port", "0"], {
  stdio: ["ignore", "pipe", "ignore"],
});
try {
  const [url] = (await once(createInterface({ input: endpoint.stdout! }), "line")) as [string];
  const args = [
    "dist/cli.js", "credential-process",
    "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
    "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/bench",
    "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/bench",
    "--role-arn", "arn:aws:iam::000000000000:role/bench",
    "--endpoint", url,
  ];
  const check = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`credential-process failed: ${check.stderr}`);

  const baseline: number[] = [];
  const cold: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    baseline.push(await timeCommand(process.execPath, ["-e", "0"]));
    cold.push(await timeCommand(process.execPath, args));
  }
  printComparison("cold credential-process (file EC key, HTTP local endpoint)", median(cold), "node -e 0", median(baseline), 1.5, RUNS);
} finally {
  endpoint.kill("SIGTERM");
  cleanup();
}
