import type { TextOutput } from "./command.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

interface ProgressOptions {
  /** Draw a spinner (a terminal that nobody else is writing a prompt to); else print one line. */
  readonly spinner: boolean;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/**
 * Runs `work` while telling the operator it is running: on a terminal, a one-line spinner with the elapsed
 * time, replaced by the outcome when done; elsewhere (logs, pipes, boot scripts) exactly one line, at start.
 */
export async function withProgress<T>(what: string, out: TextOutput, work: () => Promise<T>, options: ProgressOptions): Promise<T> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  if (!options.spinner) {
    out.write(`${what}…\n`);
    return work();
  }
  let frame = 0;
  const draw = () => out.write(`\r\x1b[K${FRAMES[frame++ % FRAMES.length]} ${what}… ${seconds(now() - started)}`);
  draw();
  const timer = setInterval(draw, 100);
  try {
    const result = await work();
    out.write(`\r\x1b[K✔ ${what}: done in ${seconds(now() - started)}\n`);
    return result;
  } catch (error) {
    out.write(`\r\x1b[K✘ ${what}: failed after ${seconds(now() - started)}\n`);
    throw error;
  } finally {
    clearInterval(timer);
  }
}
