import { readFileSync, statSync } from "node:fs";

/**
 * Who owns a file, as this process's user namespace shows it (a rootless container, Kubernetes pods with user
 * namespaces, bwrap and flatpak, `unshare -U`): an owner the namespace does not map shows as the kernel's overflow
 * uid (65534; 4294967295 in a POSIX ACL's bytes). The local-trust rules ask here: ownedByOrRoot, this user's or root's.
 */

/**
 * Whether an owner counts as root: root, and in a user namespace that does not map the host's root (`unshare -U
 * --map-current-user`, bwrap, flatpak, a rootless container), the id the kernel shows for every owner it does not map
 * (unmappedOwner): root's /, /usr and /etc show so there, and so does every other host user's path visible in there.
 * The two cannot be told apart inside; refused, nothing could be fixed there (SECURITY.md). But not an entry in a
 * directory others or its group can write to, sticky or not (`within`, e.g. /tmp; a group's members outside cannot be
 * told in here): another user may have made it there, root plants nothing in /tmp; nor one in a directory of such a user's, or below one
 * (`within.theirs`: /tmp/hers/link). Where the host's root is mapped, that id is another host user's.
 */
export function rootsOwner(uid: number, within?: Within): boolean {
  return uid === 0 || (unmappedOwner(uid) && !idMap().rootMapped && !othersMadeIt(within));
}

/**
 * This user's or root's. Where this process's own uid is unmapped (`unshare --user` without a map: it runs as 65534, and
 * so shows every host file), 65534 is not known to be ours: it is judged as root's is, refused where others made it.
 */
export const ownedByOrRoot = (uid: number, self: number | undefined, within?: Within): boolean =>
  rootsOwner(uid, within) || (uid === self && !(unmappedOwner(uid) && othersMadeIt(within)));

type Within = { readonly mode: number; readonly theirs?: boolean } | undefined;

/** Whether an entry of `within` (rootsOwner) shown with the unmapped owner is another user's, who made it there. */
const othersMadeIt = (within: Within): boolean =>
  within !== undefined && (within.theirs === true || (within.mode & 0o022) !== 0);

/** Whether `uid` is the kernel's overflow uid (65534) standing for an owner this user namespace does not map. */
export function unmappedOwner(uid: number): boolean {
  const { overflow, unmapped } = idMap();
  return unmapped && uid === overflow;
}

/**
 * Why an owner shown as this process's own uid, unmapped (`unshare --user` with no map), is not taken for this user's:
 * every host file shows so there (io/trusted-path.ts refuses with these words, os/exposed-file.ts warns).
 */
export const unmappedSelfText = (uid: number): string =>
  `this process runs as an unmapped user in a user namespace (uid ${uid}): whose files these are cannot be told`;

/** The fix for {@link unmappedSelfText}. */
export const MAP_YOUR_USER = "map your user (unshare --user --map-current-user)";

/** "uid N" for messages, saying so when N stands for a user outside this user namespace. */
export const ownerText = (uid: number): string => (unmappedOwner(uid) ? `uid ${uid}, a user outside this user namespace` : `uid ${uid}`);

let ids: { overflow: number; unmapped: boolean; rootMapped: boolean } | undefined;

/**
 * This process's user namespace, once: /proc/self/uid_map (without it, as the initial namespace's: every id mapped).
 * Whether the host's root is mapped: the owner shown for a sysctl file, which is always the host's root (the overflow uid
 * where it is not mapped). Not uid_map's outside column: it holds the parent namespace's ids, so in a namespace made inside
 * another (`unshare -r unshare -U --map-current-user`) "0 0 1" is the parent's root, an ordinary host user, and where
 * the parent maps the host's root as 5, "5 5 1" maps it without a 0 there. Without that file, that column: right one deep.
 */
function idMap(): NonNullable<typeof ids> {
  if (ids) return ids;
  const attempt = <T>(get: () => T): T | undefined => {
    try {
      return get();
    } catch {
      return undefined;
    }
  };
  const read = (path: string) => attempt(() => readFileSync(path, "utf8"));
  const ranges = (read("/proc/self/uid_map") ?? "0 0 4294967295").trim().split("\n").map((line) => line.trim().split(/\s+/).map(Number));
  const maps = (side: 0 | 1, id: number) => ranges.some((r) => id >= r[side]! && id < r[side]! + r[2]!);
  const overflow = Number(read("/proc/sys/kernel/overflowuid") ?? 65534);
  const sysctlOwner = attempt(() => statSync("/proc/sys/kernel/overflowuid").uid);
  return (ids = { overflow, unmapped: !maps(0, overflow), rootMapped: sysctlOwner === undefined ? maps(1, 0) : sysctlOwner !== overflow });
}
