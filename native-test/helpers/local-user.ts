/**
 * A real second local account for cross-user tests: created with `useradd` (CI runs as root), used through
 * `setpriv`, removed with `userdel` when the test file ends — also when it fails or the worker exits.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, chownSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface LocalUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** A home directory of the user's own (0700), removed with the user. */
  readonly home: string;
  /** `cmd args` as this user (its uid, gid and no supplementary groups but `groups`). */
  run(cmd: string, args: readonly string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number; groups?: readonly number[] }): Promise<{ code: number; stdout: string; stderr: string }>;
  spawn(cmd: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** `mkdir` owned by this user. */
  mkdir(path: string, mode: number): string;
  remove(): void;
}

/** Whether this process may create users (root with useradd and setpriv). */
export function canCreateUsers(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("sh", ["-c", "command -v useradd && command -v userdel && command -v setpriv"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A new account named `<prefix>-<random>`, home under `parentDir`. */
export function createLocalUser(prefix: string, parentDir: string): LocalUser {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  const home = join(parentDir, name);
  // useradd holds /etc/passwd's lock briefly; other test files may be adding their own users at the same time.
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync("useradd", ["--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin", "--user-group", name], { stdio: ["ignore", "ignore", "pipe"] });
      break;
    } catch (error) {
      if (attempt >= 10) throw error;
      execFileSync("sleep", ["0.5"]);
    }
  }
  const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
  let removed = false;
  const children: ChildProcess[] = [];
  const remove = () => {
    if (removed) return;
    removed = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (let attempt = 1; attempt <= 10; attempt++) {
      try {
        execFileSync("userdel", [name], { stdio: "ignore" });
        break;
      } catch {
        execFileSync("sleep", ["0.3"]);
      }
    }
    rmSync(home, { recursive: true, force: true });
  };
  process.once("exit", remove);
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, uid, gid);
  const ids = ["--reuid", String(uid), "--regid", String(gid)];
  const as = [...ids, "--clear-groups"];
  return {
    name,
    uid,
    gid,
    home,
    run: (cmd, args, options = {}) =>
      new Promise((resolve) =>
        execFile("setpriv", [...(options.groups ? [...ids, `--groups=${options.groups.join(",")}`] : as), cmd, ...args], { env: options.env ?? { PATH: process.env["PATH"], HOME: home }, timeout: options.timeoutMs ?? 60_000, encoding: "utf8" }, (error, stdout, stderr) =>
          resolve({ code: error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : -1) : 0, stdout, stderr }),
        ),
      ),
    spawn: (cmd, args, options = {}) => {
      const child = spawn("setpriv", [...as, cmd, ...args], { env: { PATH: process.env["PATH"], HOME: home }, ...options });
      children.push(child);
      return child;
    },
    mkdir: (path, mode) => {
      mkdirSync(path, { mode });
      chownSync(path, uid, gid);
      return path;
    },
    remove,
  };
}
