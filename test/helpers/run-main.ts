import { main } from "../../src/cli/main.js";

export interface MainRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in process as `roles-anywhere-agent ARGV`, `env` its whole environment, and captures what it writes. */
export async function runMain(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<MainRun> {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: { write: (t: string | Uint8Array) => ((stdout += String(t)), true) },
    stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) },
    env,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
