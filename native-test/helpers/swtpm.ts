/**
 * A private swtpm for one test file: fresh state in a temp dir, served on a UNIX socket (or a free loopback
 * TCP port pair), `--flags not-need-init,startup-clear`, DA parameters set for tests, stopped cleanly.
 * swtpm serves ONE connection at a time: close every client (our signers included) before running a tool.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface DaParameters {
  /** TPM_PT_MAX_AUTH_FAIL (swtpm default 3). */
  maxTries: number;
  /** TPM_PT_LOCKOUT_INTERVAL in seconds: one failure is forgotten per interval. */
  recoveryTime: number;
  /** TPM_PT_LOCKOUT_RECOVERY in seconds (after a failed lockout-auth). */
  lockoutRecoveryTime: number;
}

/** Enough tries for wrong-password tests, and a long interval so that a counted failure stays visible. */
export const TEST_DA_PARAMETERS: DaParameters = { maxTries: 1000, recoveryTime: 3600, lockoutRecoveryTime: 0 };

export interface StartSwtpmOptions {
  transport?: "unix" | "tcp";
  da?: DaParameters;
  /** false: start with `--flags not-need-init` only, so the TPM still waits for TPM2_Startup (no DA setup then). */
  startupClear?: boolean;
}

export interface Swtpm {
  readonly dir: string;
  readonly transport: "unix" | "tcp";
  /** What `--tpm-device` / TPM_DEVICE take: `unix:/…/tpm.sock` or `tcp:127.0.0.1:PORT`. */
  readonly device: string;
  /** The tpm2-tss TCTI string for tpm2-tools and tpm2-openssl. */
  readonly tcti: string;
  readonly socketPath?: string;
  readonly port?: number;
  /** Environment for tpm2-tools / openssl -provider tpm2 pointed at this TPM. */
  readonly toolEnv: NodeJS.ProcessEnv;
  /** Runs a tool against this TPM (tpm2_*, openssl) and returns stdout; rejects with stderr on failure. */
  run(cmd: string, args: string[], opts?: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv }): Promise<string>;
  /** Flushes transient objects and sessions that tools (which have no resource manager here) leave behind. */
  flushAll(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL: a power loss. Transient objects and sessions are lost; the state directory stays. */
  kill(): Promise<void>;
  /** Starts swtpm again on the same state directory and address (persistent objects and seeds survive). */
  restart(): Promise<void>;
}

async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (port >= 65535) continue;
    const nextFree = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port + 1, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (nextFree) return port;
  }
  throw new Error("no free loopback port pair found");
}

/** swtpm's TCP server on `port`, its control channel on `port + 1`, and how tools and the agent name them. */
function tcpAddress(port: number) {
  return {
    port,
    serverArgs: ["--server", `type=tcp,port=${port},bindaddr=127.0.0.1`],
    ctrlArgs: ["--ctrl", `type=tcp,port=${port + 1},bindaddr=127.0.0.1`],
    device: `tcp:127.0.0.1:${port}`,
    tcti: `swtpm:host=127.0.0.1,port=${port}`,
    ctrlSpec: ["--tcp", `127.0.0.1:${port + 1}`],
  };
}

async function waitUntil(check: () => Promise<boolean> | boolean, what: string, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`swtpm exited (${child.exitCode}) while waiting for ${what}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function canConnect(opts: { path: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(opts as never);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export async function startSwtpm(options: StartSwtpmOptions = {}): Promise<Swtpm> {
  const transport = options.transport ?? "unix";
  const dir = mkdtempSync(join(tmpdir(), "raa-swtpm-"));
  const state = join(dir, "state");
  mkdirSync(state);
  let serverArgs: string[];
  let ctrlArgs: string[];
  let device: string;
  let tcti: string;
  let socketPath: string | undefined;
  let port: number | undefined;
  let ctrlSpec: string[];
  if (transport === "unix") {
    socketPath = join(dir, "tpm.sock");
    // tpm2-tss's swtpm TCTI insists on the control socket being "<path>.ctrl".
    serverArgs = ["--server", `type=unixio,path=${socketPath}`];
    ctrlArgs = ["--ctrl", `type=unixio,path=${socketPath}.ctrl`];
    device = `unix:${socketPath}`;
    tcti = `swtpm:path=${socketPath}`;
    ctrlSpec = ["--unix", `${socketPath}.ctrl`];
  } else {
    ({ port, serverArgs, ctrlArgs, device, tcti, ctrlSpec } = tcpAddress(await freePortPair()));
  }
  const launch = () => {
    const c = spawn(
      "swtpm",
      ["socket", "--tpm2", ...serverArgs, ...ctrlArgs, "--flags", options.startupClear === false ? "not-need-init" : "not-need-init,startup-clear", "--tpmstate", `dir=${state}`, "--log", `file=${join(dir, "swtpm.log")},level=1`],
      { stdio: "ignore" },
    );
    return { c, gone: new Promise<void>((resolve) => c.once("exit", () => resolve())) };
  };
  let { c: child, gone: exited } = launch();
  const listening = () =>
    waitUntil(
      () => (socketPath ? existsSync(socketPath) && canConnect({ path: socketPath }) : canConnect({ host: "127.0.0.1", port: port! })),
      "the swtpm socket",
      child,
    );
  const envFor = (t: string): NodeJS.ProcessEnv => ({ ...process.env, TPM2TOOLS_TCTI: t, TPM2OPENSSL_TCTI: t });
  let toolEnv = envFor(tcti);
  const run = async (cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> => {
    const env = { ...toolEnv, ...opts.env };
    try {
      if (opts.input !== undefined) {
        return await new Promise<string>((resolve, reject) => {
          const p = execFile(cmd, args, { env, cwd: opts.cwd ?? dir, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
            err ? reject(Object.assign(err, { stderr })) : resolve(stdout),
          );
          p.stdin!.end(opts.input);
        });
      }
      const { stdout } = await execFileAsync(cmd, args, { env, cwd: opts.cwd ?? dir, maxBuffer: 16 << 20 });
      return stdout;
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`${cmd} ${args.join(" ")} failed: ${err.stderr?.trim() || err.message}`);
    }
  };
  const flushAll = async () => {
    for (const kind of ["-t", "-l", "-s"]) await run("tpm2_flushcontext", [kind]).catch(() => undefined);
  };
  try {
    // A pair found free can be taken by another process (a parallel test file) before swtpm binds it; swtpm then
    // exits at once: another pair, a few times. (After restart() the address must stay: no new pair there.)
    for (let attempt = 1; ; attempt++) {
      try {
        await listening();
        break;
      } catch (e) {
        if (transport !== "tcp" || child.exitCode === null || attempt >= 5) throw e;
        ({ port, serverArgs, ctrlArgs, device, tcti, ctrlSpec } = tcpAddress(await freePortPair()));
        toolEnv = envFor(tcti);
        ({ c: child, gone: exited } = launch());
      }
    }
    const da = options.da ?? TEST_DA_PARAMETERS;
    if (options.startupClear !== false) await run("tpm2_dictionarylockout", [
      "--setup-parameters",
      `--max-tries=${da.maxTries}`,
      `--recovery-time=${da.recoveryTime}`,
      `--lockout-recovery-time=${da.lockoutRecoveryTime}`,
      "--clear-lockout",
    ]);
  } catch (e) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // An orderly TPM2_Shutdown first, so that the DA counter is not charged for a "power loss".
    await run("tpm2_shutdown", ["-c"]).catch(() => undefined);
    await execFileAsync("swtpm_ioctl", [...ctrlSpec, "-s"]).catch(() => child.kill("SIGTERM"));
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  const kill = async () => {
    child.kill("SIGKILL");
    await exited;
  };
  const restart = async () => {
    if (child.exitCode === null && child.signalCode === null) throw new Error("swtpm is still running");
    ({ c: child, gone: exited } = launch());
    await listening();
  };
  return { dir, transport, device, tcti, socketPath, port, toolEnv, run, flushAll, stop, kill, restart };
}
