import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, lstatSync, mkdirSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "../..");

/** The files a clean checkout would have: tracked and untracked-but-not-ignored files of the working tree. */
export function copyWorkingTree(to: string): void {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO, encoding: "utf8" });
  for (const path of listed.split("\0").filter((p) => p && p !== "node_modules" && p !== "dist")) {
    let mode: number;
    try {
      const stat = lstatSync(join(REPO, path));
      if (!stat.isFile()) continue;
      mode = stat.mode;
    } catch {
      continue; // deleted in the working tree
    }
    mkdirSync(dirname(join(to, path)), { recursive: true });
    copyFileSync(join(REPO, path), join(to, path));
    chmodSync(join(to, path), mode & 0o777);
  }
  symlinkSync(join(REPO, "node_modules"), join(to, "node_modules"));
}
