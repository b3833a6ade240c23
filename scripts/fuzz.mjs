#!/usr/bin/env node
// `npm run fuzz`: the long mode of the structure-aware fuzzer (test/fuzz/). Every target runs in-process in a
// worker (test/fuzz/worker.ts, bundled here with esbuild), FUZZ_JOBS workers at a time (default 2); a worker
// that dies (a native abort) is counted, its input saved under fuzz-out/, and restarted after that case; one
// that reports nothing for 15 min is killed and counted as a hang. A sample of the CLI runs as child processes.
// Prints, per target: cases, accepted, refused (by code), aborts, internal errors, oracle failures, hangs.
//   FUZZ_CASES (default 100000 per parser), FUZZ_SEED (default 20261202), FUZZ_JOBS, FUZZ_ONLY (substring).
import { build } from "esbuild";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const CASES = Number(process.env.FUZZ_CASES ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261202) | 0;
const JOBS = Math.max(1, Number(process.env.FUZZ_JOBS ?? 2));
const ONLY = process.env.FUZZ_ONLY;
const CLI_SAMPLE = Number(process.env.FUZZ_CLI_SAMPLE ?? 300);
const CLI_IN_PROCESS = Math.min(CASES, Number(process.env.FUZZ_CLI_CASES ?? 20_000));
// A worker reports every 2,000 cases; a single bounded case may take minutes of wall time on a busy machine.
const SILENCE_MS = 900_000;

const TARGETS = [
  "certificate", "names/principal tags", "private key: PKCS#8", "private key: SEC1", "private key: PKCS#1",
  "private key: encrypted PKCS#8", "PKCS#12", "TSS2 key file", "pkcs11: URI", "ARN", "config", "CreateSession response",
  "local endpoint: CreateSession request", "local endpoint: STS request", "CLI (in-process: sign-string on mutated key files)",
].filter((t) => !ONLY || t.includes(ONLY));

const out = resolve("fuzz-out");
mkdirSync(out, { recursive: true });
const cacheDir = resolve("node_modules", ".cache", "raa-fuzz");
mkdirSync(cacheDir, { recursive: true });
const worker = join(cacheDir, "worker.mjs");
await build({
  entryPoints: ["test/fuzz/worker.ts"],
  outfile: worker,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["pkcs11js", "vitest"],
  define: { __AGENT_VERSION__: '"0.0.0-fuzz"' },
  banner: { js: 'import{createRequire as __raaCreateRequire}from"node:module";const require=__raaCreateRequire(import.meta.url);' },
  logLevel: "warning",
});
const cli = resolve("dist", "cli.js");

const merge = (a, b) => {
  for (const k of ["cases", "accepted", "aborts", "internal", "oracle", "hangs"]) a[k] += b[k];
  for (const [code, n] of Object.entries(b.refused)) a.refused[code] = (a.refused[code] ?? 0) + n;
  a.slowestMs = Math.max(a.slowestMs, b.slowestMs);
  a.failures.push(...b.failures.slice(0, Math.max(0, 10 - a.failures.length)));
  return a;
};
const empty = () => ({ cases: 0, accepted: 0, refused: {}, aborts: 0, internal: 0, oracle: 0, hangs: 0, slowestMs: 0, failures: [] });
const safe = (name) => name.replace(/[^A-Za-z0-9]+/g, "-");

/** Runs cases [0, total) of one target, restarting its worker after a death or a silence. */
async function runJob(name, total, sample) {
  const totals = empty();
  const dir = mkdtempSync(join(tmpdir(), "raa-fuzz-long-"));
  const current = join(dir, "current");
  let next = 0;
  let cpuMs = 0;
  const started = Date.now();
  try {
    while (next < total) {
      const from = next;
      const argv = [worker, "--dir", dir, "--seed", String(SEED), "--target", name, "--start", String(from), "--end", String(total), "--current", current];
      if (sample) argv.push("--cli-sample", cli);
      const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_EXTRA_CA_CERTS: "" } });
      let last = empty();
      let lastCpu = 0;
      let buffer = "";
      let stderr = "";
      let timer;
      const arm = () => {
        clearTimeout(timer);
        // The first report comes after the worker's set-up (openssl makes the seeds): allow it one more minute.
        timer = setTimeout(() => child.kill("SIGKILL"), SILENCE_MS + (from === next ? 60_000 : 0));
      };
      arm();
      child.stdout.on("data", (d) => {
        buffer += d;
        for (let i; (i = buffer.indexOf("\n")) >= 0; ) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          const msg = JSON.parse(line);
          last = msg.counts;
          lastCpu = msg.cpuMs;
          next = msg.next;
          arm();
        }
      });
      child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
      const [code, signal] = await new Promise((r) => child.on("exit", (c, s) => r([c, s])));
      clearTimeout(timer);
      merge(totals, last);
      cpuMs += lastCpu;
      if (code === 0 && next >= total) break;
      // Died or went silent: the case in `current` is the culprit.
      const [index, input] = existsSync(current) ? readFileSync(current, "utf8").split("\n") : ["?", ""];
      const killedForSilence = signal === "SIGKILL";
      if (killedForSilence) totals.hangs++;
      else if (signal) totals.aborts++;
      else totals.internal++;
      // The culprit counts as one case; the cases since the worker's last report are not counted (at most 2,000).
      totals.cases += 1;
      const file = join(out, `${safe(name)}-${killedForSilence ? "hang" : signal ? "abort" : "exit"}-${index}.b64`);
      writeFileSync(file, `${input}\n`);
      if (totals.failures.length < 10) totals.failures.push({ index: Number(index), kind: signal ?? `exit ${code}`, detail: stderr.split("\n").slice(-5).join(" | "), input: file });
      next = Number.isFinite(Number(index)) ? Number(index) + 1 : next + 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: sample ? `CLI (child processes: sign-string on mutated key files)` : name, counts: totals, seconds: Math.round((Date.now() - started) / 1000), cpuSeconds: Math.round(cpuMs / 1000) };
}

const jobs = TARGETS.map((name) => () => runJob(name, name.startsWith("CLI") ? CLI_IN_PROCESS : CASES, false));
if (!ONLY || "CLI".includes(ONLY)) jobs.push(() => runJob("CLI (in-process: sign-string on mutated key files)", CLI_SAMPLE, true));
if (CLI_SAMPLE > 0 && !existsSync(cli)) throw new Error("dist/cli.js is missing: npm run build first");

const started = Date.now();
const results = [];
let i = 0;
await Promise.all(
  Array.from({ length: JOBS }, async () => {
    while (i < jobs.length) {
      const job = jobs[i++];
      const r = await job();
      results.push(r);
      console.log(`${line(r)} [${r.seconds} s wall, ${r.cpuSeconds} s CPU]`);
    }
  }),
);

function line({ name, counts: c }) {
  const refused = Object.values(c.refused).reduce((a, b) => a + b, 0);
  const byCode = Object.entries(c.refused).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
  return `${name}: ${c.cases} cases, ${c.accepted} accepted, ${refused} refused (${byCode || "none"}), ${c.aborts} aborts, ${c.internal} internal errors, ${c.oracle} oracle failures, ${c.hangs} hangs (slowest ${c.slowestMs} ms)`;
}

const order = (r) => (TARGETS.indexOf(r.name) + 1 || 99);
results.sort((a, b) => order(a) - order(b));
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
const bad = results.reduce((n, r) => n + r.counts.aborts + r.counts.internal + r.counts.oracle + r.counts.hangs, 0);
console.log(`\nFUZZ SUMMARY (seed ${SEED}, ${JOBS} jobs, ${minutes} min)`);
for (const r of results) console.log(`  ${line(r)} [${r.seconds} s wall, ${r.cpuSeconds} s CPU]`);
for (const r of results) {
  for (const f of r.counts.failures) {
    const file = f.input.startsWith("/") ? f.input : join(out, `${safe(r.name)}-${f.kind}-${f.index}.b64`);
    if (!f.input.startsWith("/")) writeFileSync(file, `${f.input}\n`);
    console.log(`  ${r.name} case ${f.index}: ${f.kind}: ${f.detail} (input: ${file})`);
  }
}
console.log(bad === 0 ? "no aborts, internal errors, oracle failures or hangs" : `${bad} problems: see fuzz-out/summary.json`);
writeFileSync(join(out, "summary.json"), `${JSON.stringify({ seed: SEED, jobs: JOBS, minutes: Number(minutes), date: new Date().toISOString(), results }, null, 1)}\n`);
process.exitCode = bad === 0 ? 0 : 1;
