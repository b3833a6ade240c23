import { execFileSync } from "node:child_process";

/** Whether this machine lets a process make a user namespace with `unshare --user MAP` (MAP: how ids are mapped). */
export function canUnshare(map: "--map-root-user" | "--map-current-user" = "--map-root-user"): boolean {
  try {
    execFileSync("unshare", ["--user", map, "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
