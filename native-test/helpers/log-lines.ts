/** A daemon's stderr as lines, for tests that wait until it is ready. */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/**
 * Collects `child`'s stderr lines and resolves with them once one matches `ready` (the array keeps growing with
 * later lines); rejects with the log when stderr ends first (the child exited).
 */
export async function untilLogLine(child: ChildProcess, ready: RegExp): Promise<string[]> {
  const log: string[] = [];
  const lines = createInterface({ input: child.stderr! });
  for await (const line of lines) {
    log.push(line);
    if (ready.test(line)) {
      lines.on("line", (l) => log.push(l));
      return log;
    }
  }
  throw new Error(`exited before logging ${ready}: ${log.join("\n")}`);
}
