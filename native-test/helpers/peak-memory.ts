/**
 * The shipped CLI run under GNU time: its exit code, output and peak resident memory (the kernel's ru_maxrss of the
 * process, which a sampler could miss), with the V8 heap capped so that an unbounded parse dies of OOM instead of
 * swapping the machine.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DIST_CLI } from "./run-cli.js";

export interface PeakRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Peak RSS of the CLI's process, MiB. */
  readonly peakMiB: number;
}

export interface PeakOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Written to standard input, then closed; an empty, closed standard input otherwise. */
  readonly stdin?: Buffer | string;
  /** V8's old space, MiB (--max-old-space-size). */
  readonly heapMiB?: number;
  readonly timeoutMs?: number;
}

export function runWithPeak(args: readonly string[], options: PeakOptions = {}): Promise<PeakRun> {
  const dir = mkdtempSync(join(tmpdir(), "raa-peak-"));
  const report = join(dir, "time");
  const heap = `--max-old-space-size=${options.heapMiB ?? 256}`;
  const child = spawn("/usr/bin/time", ["-f", "%M", "-o", report, process.execPath, heap, DIST_CLI, ...args], {
    env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on("data", (b: Buffer) => out.push(b));
  child.stderr!.on("data", (b: Buffer) => err.push(b));
  child.stdin!.on("error", () => {}); // a CLI that fails before reading its standard input closes the pipe
  child.stdin!.end(options.stdin ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const lines = readFileSync(report, "utf8").trim().split("\n");
      rmSync(dir, { recursive: true, force: true });
      // GNU time's own line ("Command exited with non-zero status 1", "Command terminated by signal 6") comes first.
      const died = /terminated by signal (\d+)/.exec(lines.join("\n"));
      resolve({
        code: died ? null : code,
        signal: died ? (`SIG${died[1]}` as NodeJS.Signals) : signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        peakMiB: Number(lines.at(-1)) / 1024,
      });
    });
  });
}
