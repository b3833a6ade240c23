/**
 * A tpm2-pkcs11 token for one test file: a private swtpm, tpm2-abrmd on a private D-Bus session bus (so
 * that the module, tpm2_ptool and tpm2-tools can all use the one-connection swtpm at the same time), and a
 * store made by `tpm2_ptool init` + `addtoken` in a temp directory.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startSwtpm, type Swtpm } from "./swtpm.js";

const execFileAsync = promisify(execFile);

export const TPM2_PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";
const TABRMD_TCTI = "tabrmd:bus_type=session";

export interface Tpm2Pkcs11Token {
  readonly module: string;
  readonly label: string;
  readonly userPin: string;
  readonly soPin: string;
  readonly dir: string;
  /** What the module, tpm2_ptool and tpm2-tools need to find this token (logging as quiet as it goes). */
  readonly env: NodeJS.ProcessEnv;
  /** A 0600 file holding `pin` (default: the user PIN). */
  pinFile(pin?: string): string;
  /** TPM_PT_LOCKOUT_COUNTER: failed authorisations the TPM has counted. */
  lockoutCounter(): Promise<number>;
  /** Runs a tool (tpm2_ptool, pkcs11-tool, tpm2_*) against this token; rejects with its stderr. */
  run(cmd: string, args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startTpm2Pkcs11Token(label = "tpm2-token", userPin = "user-1234", soPin = "so-5678"): Promise<Tpm2Pkcs11Token> {
  const dir = mkdtempSync(join(tmpdir(), "raa-tpm2-pkcs11-"));
  const children: ChildProcess[] = [];
  let swtpm: Swtpm | undefined;
  const stop = async () => {
    for (const child of children.reverse()) await terminate(child);
    await swtpm?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    swtpm = await startSwtpm();
    const bus = join(dir, "bus");
    writeFileSync(
      join(dir, "bus.conf"),
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${bus}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*"/><allow receive_sender="*"/><allow own="*"/></policy></busconfig>\n`,
    );
    const dbus = spawn("dbus-daemon", [`--config-file=${join(dir, "bus.conf")}`, "--nofork", "--nopidfile"], { stdio: "ignore" });
    children.push(dbus);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${bus}`,
      TPM2TOOLS_TCTI: TABRMD_TCTI,
      TPM2_PKCS11_TCTI: TABRMD_TCTI,
      TPM2_PKCS11_STORE: join(dir, "store"),
      // tpm2-tss's own logging off; tpm2-pkcs11 still prints its errors (level 0 cannot be turned off).
      TSS2_LOG: "all+none",
      TPM2_PKCS11_LOG_LEVEL: "0",
      NODE_EXTRA_CA_CERTS: "",
    };
    const run = async (cmd: string, args: string[]): Promise<string> => {
      try {
        return (await execFileAsync(cmd, args, { env, cwd: dir, encoding: "utf8" })).stdout;
      } catch (error) {
        const e = error as Error & { stderr?: string };
        throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
      }
    };
    await waitFor(() => run("dbus-send", [`--bus=unix:path=${bus}`, "--dest=org.freedesktop.DBus", "/", "org.freedesktop.DBus.Peer.Ping"]), "the private D-Bus", dbus);
    const abrmd = spawn("tpm2-abrmd", ["--session", "--allow-root", `--tcti=${swtpm.tcti}`, "--flush-all"], { env, stdio: "ignore" });
    children.push(abrmd);
    await waitFor(() => run("tpm2_getcap", ["properties-variable"]), "tpm2-abrmd", abrmd);
    await run("tpm2_ptool", ["init", `--path=${env["TPM2_PKCS11_STORE"]}`]);
    await run("tpm2_ptool", ["addtoken", "--pid=1", `--label=${label}`, `--userpin=${userPin}`, `--sopin=${soPin}`, `--path=${env["TPM2_PKCS11_STORE"]}`]);
    let pinFiles = 0;
    return {
      module: TPM2_PKCS11_MODULE,
      label,
      userPin,
      soPin,
      dir,
      env,
      pinFile(pin = userPin) {
        const path = join(dir, `pin-${++pinFiles}`);
        writeFileSync(path, `${pin}\n`, { mode: 0o600 });
        return path;
      },
      async lockoutCounter() {
        const out = await run("tpm2_getcap", ["properties-variable"]);
        const match = /TPM2_PT_LOCKOUT_COUNTER:\s*(0x[0-9a-fA-F]+|\d+)/.exec(out);
        if (!match) throw new Error(`no TPM2_PT_LOCKOUT_COUNTER in:\n${out}`);
        return Number(match[1]);
      },
      run,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitFor(check: () => Promise<unknown>, what: string, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode})`);
    try {
      await check();
      return;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${String(last)}`);
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await gone;
  clearTimeout(timer);
}
