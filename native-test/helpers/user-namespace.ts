import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Whether this machine lets a process make a user namespace with `unshare --user MAP` (MAP: how ids are mapped; "no map":
 * `unshare --user` alone, where the process runs as the overflow uid).
 */
export function canUnshare(map: "--map-root-user" | "--map-current-user" | "no map" = "--map-root-user"): boolean {
  try {
    execFileSync("unshare", ["--user", ...(map === "no map" ? [] : [map]), "true"], { stdio: "ignore" });
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

/** A config whose profile `p` signs with `certificate` and `key`; its endpoint (127.0.0.1:1) refuses, so a config that is used ends in "cannot connect", exit 7. */
export const unreachableConfig = (certificate: string, key: string): string => JSON.stringify({
  version: 1,
  profiles: {
    p: {
      certificate,
      "private-key": key,
      "trust-anchor-arn": "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/1f6ab2c3-0000-4000-8000-000000000001",
      "profile-arn": "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/5d2e8f10-0000-4000-8000-000000000002",
      "role-arn": "arn:aws:iam::123456789012:role/R",
      endpoint: "http://127.0.0.1:1",
    },
  },
});
