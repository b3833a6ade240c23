import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/** Whether this machine lets a process make a user namespace with `unshare --user MAP` (MAP: how ids are mapped). */
export function canUnshare(map: "--map-root-user" | "--map-current-user" = "--map-root-user"): boolean {
  try {
    execFileSync("unshare", ["--user", map, "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh 0755 directory of root's on a path no other user can write to: under the checkout's tmp/, or under /var/lib
 * where the checkout is itself in a sticky, shared directory (a clone in /tmp, as CI makes one). Inside a user namespace
 * that does not map the host's root, everything of the unmapped owner in such a directory is another user's (rootsOwner).
 */
export function rootsTestDirectory(prefix: string): string {
  let shared = false;
  for (let at = process.cwd(); ; at = dirname(at)) {
    const { mode } = statSync(at);
    if ((mode & 0o1000) !== 0 && (mode & 0o002) !== 0) shared = true;
    if (at === dirname(at)) break;
  }
  const base = shared ? "/var/lib" : join(process.cwd(), "tmp");
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o755);
  return dir;
}
