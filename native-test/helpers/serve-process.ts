/** `serve` as a real process (dist/cli.js), started on a free port and stopped by the test that started it. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { DIST_CLI } from "./run-cli.js";

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** stderr lines so far (start-up lines, refresh events). */
  readonly log: string[];
  stop(): void;
}

/**
 * Starts `serve …args` and resolves once it listens: the port comes from the IMDS start-up line, or (ECS alone)
 * from the FULL_URI of the first env file it writes (`--ecs-env-dir` is then required). Rejects with its
 * stderr when it exits first or has not listened within 60 s.
 */
export async function startServe(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const child = spawn(process.execPath, [DIST_CLI, "serve", "--port", "0", ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
  const log: string[] = [];
  const ecsOnly = args.includes("--ecs") && !args.includes("--imds");
  // Listen with on("line") rather than `for await`, which would close the interface on return and lose later lines.
  const lines = createInterface({ input: child.stderr! });
  const port = await new Promise<number>((resolve, reject) => {
    let found = 0;
    // Bounded well under a test's timeout: a start that never finishes fails with what serve said so far.
    const late = setTimeout(() => {
      reject(new Error(`serve did not listen within 60 s:\n${log.join("\n")}`));
      child.kill("SIGKILL");
    }, 60_000);
    lines.on("line", (line) => {
      log.push(line);
      const m = /Local server started on port: (\d+)/.exec(line);
      if (m) found = Number(m[1]);
      const wrote = /^wrote (.*\.env)$/.exec(line);
      if (wrote) found = Number(/AWS_CONTAINER_CREDENTIALS_FULL_URI=http:\/\/[^/]+:(\d+)\//.exec(readFileSync(wrote[1]!, "utf8"))![1]);
      if (!found || (ecsOnly && !wrote)) return;
      clearTimeout(late);
      resolve(found);
    });
    child.once("exit", () => {
      clearTimeout(late);
      reject(new Error(`serve exited before listening:\n${log.join("\n")}`));
    });
  });
  return { child, port, log, stop: () => void child.kill("SIGKILL") };
}
