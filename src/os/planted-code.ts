import { statSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { shellWord } from "../errors.js";
import { ownedByOrRoot, ownerText, unmappedOwner } from "../user-namespace.js";

/** Why another user could have put code there: the highest path on the way at fault, what is wrong with it, its fix. */
export interface PlantedPath {
  readonly path: string;
  readonly why: string;
  readonly fix: string;
}

/** Why the code `what` names is refused, without the fix (a hint gives it). */
export const plantedRefusal = (what: string, fault: PlantedPath): string =>
  `${what} is not loaded: another user could have put it there: ${fault.path} is ${fault.why}`;

/**
 * Whether another user could have put the code at `path` there: the one rule for code loaded from disk at run time
 * (the native helper: native-helper.ts; dependencies by name: own-package.ts). It, or a directory above it up to
 * `top`, is owned by neither root nor `owner` (the owner of the code that loads it), or is writable by others — a
 * directory with the sticky bit excepted (/tmp's shape: others cannot rename or replace what they do not own, and the
 * entry below is judged by its owner in turn). Group-writable is not refused: npm under umask 002 (a group of the
 * user's own) makes every node_modules so. Anything that cannot be read counts as planted. In a user namespace owners
 * are judged as the trusted paths' (ownedByOrRoot, with the code's owner): one the namespace does not map (65534) is
 * root's, or the code owner's when it shows so too, except in a directory others can write to, where anyone could have made it.
 */
export function othersCouldPlant(path: string, top: string, owner: number): PlantedPath | undefined {
  let fault: PlantedPath | undefined;
  let below: { path: string; stats: Stats } | undefined;
  for (let at = path; ; at = dirname(at)) {
    let stats: Stats;
    try {
      stats = statSync(at);
    } catch (error) {
      return { path: at, why: `not readable here (${(error as NodeJS.ErrnoException).code})`, fix: `ls -ld ${shellWord(at)}` };
    }
    if (below) fault = ownerFault(below.path, below.stats, owner, { path: at, stats }) ?? fault;
    if ((stats.mode & 0o002) !== 0 && !(stats.isDirectory() && (stats.mode & 0o1000) !== 0)) {
      const group = (stats.mode & 0o020) !== 0 ? "; group-writable alone is allowed" : "";
      fault = { path: at, why: `writable by others (mode ${(stats.mode & 0o7777).toString(8)}${group})`, fix: `chmod o-w ${shellWord(at)}` };
    }
    below = { path: at, stats };
    if (at === top || at === dirname(at)) return ownerFault(at, stats, owner) ?? fault;
  }
}

function ownerFault(path: string, { uid }: Stats, owner: number, within?: { path: string; stats: Stats }): PlantedPath | undefined {
  if (ownedByOrRoot(uid, owner, within?.stats)) return undefined;
  const othersWrite = within !== undefined && (within.stats.mode & 0o002) !== 0;
  const shared = othersWrite ? ", in a sticky directory others can write to" : ", in a directory its group can write to";
  const where = uid !== owner ? ", neither root nor this code's owner" : shared;
  const chown = `chown -R ${owner === 0 || unmappedOwner(owner) ? "root" : owner} ${shellWord(path)}`;
  // In a directory its group or others can write to (sticky or not), the entry is refused in here whoever owns it (it
  // may be root's already): the chown alone would change nothing.
  const writers = within === undefined ? "" : `${(within.stats.mode & 0o020) !== 0 ? "g" : ""}${othersWrite ? "o" : ""}`;
  const shut = writers !== "" ? `chmod ${writers}-w ${shellWord(within!.path)} && ` : "";
  return { path, why: `owned by ${ownerText(uid)}${where}`, fix: unmappedOwner(owner) ? `outside this user namespace: ${shut}${chown} (or to the code's owner)` : chown };
}
