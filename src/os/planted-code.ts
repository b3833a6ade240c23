import { statSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Whether another user could have put the code at `path` there: the one rule for code loaded from disk at run time
 * (the native helper: native-helper.ts; dependencies by name: own-package.ts). It, or a directory above it up to
 * `top`, is owned by neither root nor `owner` (the owner of the code that loads it), or is writable by others — a
 * directory with the sticky bit excepted (/tmp's shape: others cannot rename or replace what they do not own, and the
 * entry below is judged by its owner in turn). Group-writable is not refused: npm under umask 002 (a group of the
 * user's own) makes every node_modules so. Anything that cannot be read counts as planted.
 */
export function othersCouldPlant(path: string, top: string, owner: number): boolean {
  for (let at = path; ; at = dirname(at)) {
    let stats;
    try {
      stats = statSync(at);
    } catch {
      return true;
    }
    if (stats.uid !== 0 && stats.uid !== owner) return true;
    if ((stats.mode & 0o002) !== 0 && !(stats.isDirectory() && (stats.mode & 0o1000) !== 0)) return true;
    if (at === top || at === dirname(at)) return false;
  }
}
