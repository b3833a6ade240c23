/** A daemon's stderr as lines, for tests that wait until it is ready. */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

/**
 * Collects `child`'s stderr (or `input`) lines and resolves with them once one matches `ready` (the array keeps
 * growing with later lines); rejects with the log when the stream ends first (the child exited) or when no such
 * line came within `timeoutMs`, well under a test's timeout: a start that never finishes fails with what it said.
 */
export function untilLogLine(child: ChildProcess, ready: RegExp, timeoutMs = 60_000, input: Readable = child.stderr!): Promise<string[]> {
  const log: string[] = [];
  const lines = createInterface({ input });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${ready} within ${timeoutMs / 1000} s (pid ${child.pid}): ${log.join("\n")}`)), timeoutMs);
    lines.on("line", (line) => {
      log.push(line);
      if (!ready.test(line)) return;
      clearTimeout(timer);
      resolve(log);
    });
    lines.once("close", () => {
      clearTimeout(timer);
      reject(new Error(`exited before logging ${ready}: ${log.join("\n")}`));
    });
  });
}
