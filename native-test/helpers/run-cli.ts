/** The CLI as a process: exit code, stdout and stderr, whatever the exit code. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The shipped CLI, built by `npm run build`. */
export const DIST_CLI = join(process.cwd(), "dist", "cli.js");

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node cli …args` with exactly `env`; a run that does not end within `timeoutMs` counts as code -1.
 * `launcher` goes in front of the command line (e.g. `unshare … sh -c '…' …` for a private mount namespace).
 */
export async function runCli(cli: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 90_000, launcher: readonly string[] = []): Promise<CliRun> {
  const [command, ...commandArgs] = [...launcher, process.execPath, cli, ...args];
  try {
    const { stdout, stderr } = await execFileAsync(command!, commandArgs, { env, encoding: "utf8", timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}
