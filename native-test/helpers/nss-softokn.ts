/**
 * NSS's softoken as a PKCS#11 token, for one test file. libsoftokn3 cannot be loaded on its own (its
 * C_Initialize wants NSS's reserved init arguments), so it is reached through the p11-kit proxy with a module
 * file that carries `x-init-reserved: configdir='sql:…'`. p11-kit reads module files only from system
 * directories (and ignores user configuration for root), so every program that uses the token runs through
 * `launcher`: a private mount namespace in which this fixture's module directory is the only one p11-kit sees.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const P11_KIT_PROXY = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so";
export const NSS_SOFTOKN = "/usr/lib/x86_64-linux-gnu/libsoftokn3.so";
const SYSTEM_MODULE_DIR = "/usr/share/p11-kit/modules";
const SYSTEM_CONFIG_DIR = "/etc/pkcs11";

export interface NssSoftokn {
  readonly dir: string;
  /** The NSS database (sql: format). */
  readonly dbDir: string;
  /** The key database's password: the token's user PIN. */
  readonly pin: string;
  /** The token NSS shows for its key database. */
  readonly token: "NSS Certificate DB";
  readonly module: string;
  /** Prefix for a command line: runs it where p11-kit sees only this fixture's NSS module. */
  readonly launcher: readonly string[];
  /** Environment for programs run through `launcher` (HOME in the fixture, no user p11-kit config). */
  readonly env: NodeJS.ProcessEnv;
  pinFile(pin?: string): string;
  /** Runs a tool through `launcher`; rejects with its stderr. */
  run(cmd: string, args: string[]): Promise<string>;
  cleanup(): void;
}

export function createNssSoftokn(pin = "nss-Pin-2468"): NssSoftokn {
  const dir = mkdtempSync(join(tmpdir(), "raa-nss-"));
  const dbDir = join(dir, "db");
  const modules = join(dir, "p11-kit-modules");
  const emptyConfig = join(dir, "pkcs11-config");
  for (const d of [dbDir, modules, emptyConfig, join(dir, "home")]) mkdirSync(d);
  const passwordFile = join(dir, "db-password");
  writeFileSync(passwordFile, `${pin}\n`, { mode: 0o600 });
  execFileSync("certutil", ["-N", "-d", `sql:${dbDir}`, "-f", passwordFile], { stdio: "ignore" });
  rmSync(passwordFile);
  writeFileSync(
    join(modules, "nss-softokn.module"),
    `module: ${NSS_SOFTOKN}\nx-init-reserved: configdir='sql:${dbDir}' certPrefix='' keyPrefix='' secmod='secmod.db' flags=optimizeSpace\n`,
  );
  const mounts = [`mount --bind "$1" ${SYSTEM_MODULE_DIR}`];
  if (existsSync(SYSTEM_CONFIG_DIR)) mounts.push(`mount --bind "$2" ${SYSTEM_CONFIG_DIR}`);
  const launcher = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", `${mounts.join(" && ")} && shift 2 && exec "$@"`, "nss-softokn", modules, emptyConfig];
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(dir, "home"), XDG_CONFIG_HOME: join(dir, "home", ".config"), NODE_EXTRA_CA_CERTS: "" };
  let pinFiles = 0;
  return {
    dir,
    dbDir,
    pin,
    token: "NSS Certificate DB",
    module: P11_KIT_PROXY,
    launcher,
    env,
    pinFile(value = pin) {
      const path = join(dir, `pin-${++pinFiles}`);
      writeFileSync(path, `${value}\n`, { mode: 0o600 });
      return path;
    },
    async run(cmd, args) {
      const [first, ...rest] = launcher;
      try {
        return (await execFileAsync(first!, [...rest, cmd, ...args], { env, encoding: "utf8" })).stdout;
      } catch (error) {
        const e = error as Error & { stderr?: string };
        throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
      }
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
