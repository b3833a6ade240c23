import { spawn } from "node:child_process";

/** Wall time of one run of a command, in milliseconds. Rejects on a non-zero exit. */
export function timeCommand(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: "ignore", env });
    child.on("error", reject);
    child.on("exit", (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      code === 0 ? resolve(ms) : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`));
    });
  });
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** One line: figure, reference, ratio and whether the target holds. */
export function printComparison(what: string, value: number, reference: string, referenceValue: number, targetRatio: number, runs: number): void {
  const ratio = value / referenceValue;
  const verdict = ratio <= targetRatio ? "meets" : "MISSES";
  console.log(
    `${what}: median ${value.toFixed(1)} ms | ${reference}: median ${referenceValue.toFixed(1)} ms | ratio ${ratio.toFixed(2)}× (target ≤ ${targetRatio}×: ${verdict}) | n=${runs}`,
  );
}
