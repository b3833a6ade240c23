/**
 * One long-mode fuzz worker (scripts/fuzz.mjs starts it, bundled): runs cases [start, end) of one target in
 * this process and reports its counts as JSON lines on stdout. Before each case it writes the case number
 * and input to `--current`, so that if the process dies (a native abort) the runner can save the input.
 * `--cli-sample` instead runs the CLI target's inputs through the built CLI as child processes.
 */
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { emptyCounts, Rng, runTarget, type Counts } from "./engine.js";
import { checkCliResult, setupTargets } from "./targets.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1]!);
const arg = (name: string) => {
  const v = args.get(name);
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};

const dir = arg("dir");
const seed = Number(arg("seed")) | 0;
const start = Number(arg("start"));
const end = Number(arg("end"));
const currentFd = openSync(arg("current"), "w");
const { targets } = await setupTargets(dir);
const target = targets.find((t) => t.name === arg("target"));
if (target === undefined) throw new Error(`no target ${arg("target")}`);

const cpuAtStart = process.cpuUsage();
/** Counts so far, the next case number and the CPU time spent on cases (set-up excluded), as one JSON line. */
const report = (kind: "progress" | "done", counts: Counts, next: number) => {
  const cpu = process.cpuUsage(cpuAtStart);
  process.stdout.write(`${JSON.stringify({ kind, next, counts, cpuMs: Math.round((cpu.user + cpu.system) / 1000) })}\n`);
};
const recordCurrent = (index: number, input: Buffer) => {
  ftruncateSync(currentFd, 0);
  writeSync(currentFd, `${index}\n${input.toString("base64")}\n`, 0);
};

if (args.has("cli-sample")) {
  const cli = arg("cli-sample");
  const counts = emptyCounts();
  const keyFile = join(dir, "cli-sample.key");
  for (let i = start; i < end; i++) {
    const input = target.generate(new Rng(seed, i));
    recordCurrent(i, input);
    writeFileSync(keyFile, input, { mode: 0o600 });
    const r = spawnSync(process.execPath, [cli, "sign-string", "--private-key", keyFile, "--certificate", join(dir, "ec", "ec-leaf.pem")], { encoding: "utf8", timeout: 30_000 });
    counts.cases++;
    try {
      checkCliResult({ code: r.status, err: r.stderr, signal: r.signal });
      if (r.status === 0) counts.accepted++;
      else counts.refused[`exit ${r.status}`] = (counts.refused[`exit ${r.status}`] ?? 0) + 1;
    } catch (e) {
      if (r.signal === "SIGABRT" || r.signal === "SIGSEGV") counts.aborts++;
      else if (r.signal === "SIGTERM" || r.error) counts.hangs++;
      else counts.internal++;
      if (counts.failures.length < 10) counts.failures.push({ index: i, kind: "cli", detail: (e as Error).message, input: input.toString("base64") });
    }
    if ((i - start) % 50 === 49) report("progress", counts, i + 1);
  }
  report("done", counts, end);
} else {
  const counts = emptyCounts();
  const STEP = 2_000;
  for (let from = start; from < end; from += STEP) {
    const to = Math.min(end, from + STEP);
    await runTarget(target, seed, from, to, counts, recordCurrent);
    report(to === end ? "done" : "progress", counts, to);
  }
}
closeSync(currentFd);
