import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { shellWord } from "../errors.js";
import { MAP_YOUR_USER, ownedByOrRoot, ownerText, unmappedOwner, unmappedSelfText } from "../user-namespace.js";
import { aclByName, aclGrants, aclNamed, aclUnreadable, readAccessAcl, UNMAPPED_ID, type AccessAcl } from "./access-acl.js";

/**
 * A secret file (PIN, password, private key) that other users can read or change is warned about, not refused:
 * aws_signing_helper reads such files, and a key shared with a group on purpose (0640, group ssl-cert) is a
 * deliberate setup. One process warning naming the file and its mode (or owner), never the content, once per
 * process. A file of another user (not root) is one too, whatever its mode: they can change a PIN to a wrong one,
 * and each start then costs the token a strike. `mode` and `owner` are absent for `-` and `env:` (nothing to warn about).
 * Not exposed: root's file that this process reads through the file's group (a system service's setup, root:roles-anywhere
 * 0640), with no write bit for the group and no bit for others.
 */
export function warnIfExposed(file: FileFacts, path: string, what: string): void {
  warnOnce(`${what}\n${path}`, exposedFileWarnings(file, path, what));
}

/**
 * RAA_EXPOSED_FILE process warnings about one file (`key`: what it is for, and its path), each once per process while it
 * stays so: a long-running program re-reads the file at every refresh (a file key, a PIN file). One entry per file that
 * is exposed now; a file fixed and exposed again later is told again.
 */
export function warnOnce(key: string, messages: readonly string[]): void {
  const told = warned.get(key);
  for (const message of messages) {
    if (!told?.includes(message)) process.emitWarning(message, { code: "RAA_EXPOSED_FILE" });
  }
  if (messages.length > 0) warned.set(key, [...messages]);
  else warned.delete(key);
}

const warned = new Map<string, string[]>();

/** `acl`: the file's ACL read from the descriptor its bytes came from (secretFileAcl); without it, asked by name. */
export type FileFacts = { readonly mode?: number; readonly owner?: number; readonly gid?: number; readonly acl?: AccessAcl | undefined };

/** The rule itself, each warning as a line: for a command that prints its own warnings before it exits. */
export function exposedFileWarnings(file: FileFacts, path: string, what: string): string[] {
  const { mode } = file;
  const warnings: string[] = [];
  const foreign = foreignOwnerText(file, path);
  if (foreign) warnings.push(`${what} ${foreign.problem}: ${foreign.hint}`);
  if (mode !== undefined && isExposed(file)) {
    const { problem, fix } = exposedModeText(file, path);
    warnings.push(`${what} ${problem}: run ${fix}`);
  }
  const reader = aclReader(file, path);
  if (reader) {
    const { problem, fix } = aclReaderText(path, reader);
    warnings.push(`${what} ${problem}: run ${fix}`);
  }
  // The helper failed to read this file's ACL (EIO on FUSE): its mode alone shows no reader, but an entry may. No
  // helper at all (its platform) is doctor's row only: a root:service 0640 file is the setup the docs give.
  const acl = file.acl && "unknown" in file.acl && aclUnreadable() === undefined ? uncheckedFileAcl(file, path) : undefined;
  if (acl) warnings.push(`${what} ${path} can be read by its group (mode ${((mode ?? 0) & 0o777).toString(8)}); its ACL was not checked (${acl.why}): ${acl.hint}`);
  const aclAsked: AclAsked[] = [];
  const directory = mode === undefined ? undefined : changeableDirectory(path, aclAsked);
  const unchecked = directory ? undefined : uncheckedDirectoryAcl(aclAsked);
  if (directory) {
    const { problem, hint } = changeableDirectoryText(path, directory);
    warnings.push(`${what} ${problem}: ${hint}`);
  } else if (unchecked) {
    warnings.push(`${what} ${path} is in ${unchecked.path}, which its group may write to; its ACL was not checked (${unchecked.why}): ${unchecked.hint}`);
  }
  return warnings;
}

/**
 * The first directory on the way that only its ACL could let others change (changeableDirectory's `aclAsked`: its
 * group, which nobody else is in, may write to it) whose ACL was not read (no helper, or its read failed): why not, and
 * what to check. For this warning and doctor's row: silence, or a ✔, would say that it was checked.
 */
export function uncheckedDirectoryAcl(aclAsked: readonly AclAsked[]): { path: string; why: string; hint: string } | undefined {
  const { path, why } = aclAsked.find((asked) => asked.why !== undefined) ?? {};
  return path === undefined || why === undefined ? undefined : { path, why, hint: `check that it names no other writer: getfacl ${shellWord(path)}` };
}

/** A directory whose ACL changeableDirectory asked, and why it could not be read (absent: read, no other writer in it). */
export type AclAsked = { path: string; why?: string | undefined };

/**
 * A secret file its group may read (with a POSIX ACL, the mask its named entries get through) whose ACL was not read:
 * the read's failure (secretFileAcl), or no helper to read one. aclReader finds no reader there, which is not a ✔.
 */
export function uncheckedFileAcl(file: FileFacts, path: string): { why: string; hint: string } | undefined {
  if (isExposed(file) || ((file.mode ?? 0) & 0o040) === 0) return undefined; // aclReader's rule: none asked then
  const why = file.acl ? ("unknown" in file.acl ? file.acl.unknown : undefined) : aclUnreadable();
  return why === undefined ? undefined : { why, hint: `check that it names no other reader: getfacl ${shellWord(path)}` };
}

/**
 * The finding of a file another user owns (not root, not this process's), in words for this warning and doctor's row:
 * what is wrong, and what fixes it.
 */
export function foreignOwnerText({ owner }: FileFacts, path: string): { problem: string; hint: string } | undefined {
  const uid = process.getuid?.();
  if (owner === undefined || uid === undefined || ownedByOrRoot(owner, uid, statOf(() => dirname(realpathSync(path))))) return undefined;
  // This process unmapped too: its own files show as that owner, a copy it makes as well (in /tmp, told again).
  if (owner === uid && unmappedOwner(uid)) return { problem: `${path} may be another user's, who could change it: ${unmappedSelfText(uid)}`, hint: UNMAPPED_SELF_HINT };
  // An owner outside this user namespace: chown cannot give it back here (EPERM), a copy is ours. Nor to this process
  // where it is the unmapped one (EINVAL).
  const hint = unmappedOwner(owner) || unmappedOwner(uid) ? "copy it to a file of your own" : `run chown ${uid} ${shellWord(path)}`;
  return { problem: `${path} belongs to another user (${ownerText(owner)}), who can change it`, hint };
}

/** Where this process is unmapped: what makes a file or directory tell as its own (one not in a directory others write to). */
const UNMAPPED_SELF_HINT = `${MAP_YOUR_USER}, or keep it out of directories others can write to (/tmp)`;

/** The exposed-mode finding in words, for this warning and doctor's row: what is wrong, and the command that fixes it. */
export function exposedModeText(file: FileFacts, path: string): { problem: string; fix: string } {
  return { problem: `${path} can be read or changed by other users (mode ${((file.mode ?? 0) & 0o777).toString(8)})`, fix: modeFix(file, shellWord(path)) };
}

/**
 * A private key in a file that is not read as one (a certificate file, `cat key.pem crt.pem > crt.pem`; certificates
 * are left readable by all), in words: each way other users can read the file — its mode (as a key file's,
 * {@link isExposed}), an ACL entry — with the two fixes. Not its owner nor the directories on the way: what they could
 * change there is not the key used; who else can read it is all that tells.
 */
export function keyInsideWarnings(file: FileFacts, path: string, what: string): string[] {
  return keyInsideFindings(file, path).map(({ problem, fix }) => `${what} ${path} ${problem}: ${KEY_OWN_FILE}, or run ${fix}`);
}

/** What to do about a private key in a file others can read, before the command that shuts them out. */
export const KEY_OWN_FILE = "keep the private key in a file of its own";

/** One way other users can read a private key kept in another file: what is wrong after the path, and the command that fixes it. */
export interface KeyInside {
  readonly problem: string;
  readonly fix: string;
}

/** {@link keyInsideWarnings}' findings, for doctor's row. */
export function keyInsideFindings(file: FileFacts, path: string): KeyInside[] {
  const findings: KeyInside[] = [];
  if (file.mode !== undefined && isExposed(file)) {
    const mode = (file.mode & 0o777).toString(8);
    findings.push({ problem: `holds a private key and can be read or changed by other users (mode ${mode})`, fix: modeFix(file, shellWord(path)) });
  }
  const reader = aclReader(file, path);
  if (reader) findings.push({ problem: `holds a private key and can be read by other users through its ACL (entry ${aclEntryText(reader)})`, fix: aclFix(reader, path) });
  return findings;
}

/**
 * The changeable-directory finding in words, for this warning and doctor's row: what is wrong, and what fixes it. A
 * directory of another user's: not `chown` (that takes a home from its user), nor `chmod` (the owner renames anyway).
 */
export function changeableDirectoryText(path: string, directory: ChangeableDirectory): { problem: string; hint: string } {
  const { acl, owner } = directory;
  if (owner !== undefined && owner === process.getuid?.() && unmappedOwner(owner)) {
    const problem = `${path} is in a directory that may be another user's (${directory.path}), who could replace it: ${unmappedSelfText(owner)}`;
    return { problem, hint: UNMAPPED_SELF_HINT };
  }
  if (owner !== undefined) {
    const problem = `${path} is in a directory owned by another user (${ownerText(owner)}, ${directory.path}), who can replace it`;
    return { problem, hint: "move it to a directory of your own" };
  }
  const where = `${directory.path}, mode ${(directory.mode & 0o7777).toString(8)}${acl ? `, ACL entry ${aclEntryText(acl)}` : ""}`;
  const fix = acl ? aclFix(acl, directory.path) : `chmod go-w ${shellWord(directory.path)}`;
  return { problem: `${path} is in a directory other users can change (${where})`, hint: `run ${fix}` };
}

/**
 * An ACL entry naming an id this user namespace does not map (4294967295): `setfacl -x` of it fails (EINVAL) while the
 * ACL keeps another such entry, and says nothing of whose it is; `setfacl -b` (every named entry) works.
 */
const unmappedEntry = (entry: string) => entry.endsWith(`:${UNMAPPED_ID}`);
const aclEntryText = (entry: string) => {
  if (!unmappedEntry(entry)) return entry;
  return entry.startsWith("u:") ? `${entry}, a user outside this user namespace` : `${entry}, a group outside this user namespace`;
};
const aclFix = (entry: string, path: string) => (unmappedEntry(entry) ? `setfacl -b ${shellWord(path)}` : `setfacl -x ${entry} ${shellWord(path)}`);

/** A directory on the way to a secret file that someone else can change: by its mode, its ACL entry `acl`, or as its `owner`. */
export type ChangeableDirectory = { path: string; mode: number; acl?: string; owner?: number };

/** The ACL finding in words, for this warning and doctor's row. */
export function aclReaderText(path: string, entry: string): { problem: string; fix: string } {
  return { problem: `${path} can be read by other users through its ACL (entry ${aclEntryText(entry)})`, fix: aclFix(entry, path) };
}

/**
 * The first entry (`u:UID`, `g:GID`) of the POSIX ACL of `path` (the read's, `file.acl`, where given) that gives `perm`
 * (4 read, 2 write) to another user (not root, not the file's owner, not `ours`) or to a group another account than
 * `ours` is in (groupShared). `ours` is this process's user for a file it reads; `update` passes the directory's owner,
 * whose file root may be writing.
 * Only where the mode's group bit has `perm`: with an ACL those bits are its mask, which bounds every named entry; so
 * a 0600 file or a 0755 directory never loads the native helper. Without the helper: none (its limit).
 */
export function aclOther(path: string, { mode, owner, acl }: FileFacts, perm: 4 | 2, ours = process.getuid?.()): string | undefined {
  if (mode === undefined || ours === undefined || (mode & (perm << 3)) === 0) return undefined;
  const { users, groups } = acl ? aclNamed("bytes" in acl ? acl.bytes : null, perm) : aclGrants(path, perm);
  const user = users.find((u) => ![0, owner, ours].includes(u));
  const group = groups.find((g) => g === UNMAPPED_ID || groupShared(g, ours)); // a group outside this namespace: members unknown
  return user !== undefined ? `u:${user}` : group !== undefined ? `g:${group}` : undefined;
}

/**
 * The ACL of a secret file open as `fd` (readOpenedFile's onOpen), read with its bytes, where {@link aclReader} asks one:
 * its group may read it and its mode exposes it to nobody (a 0600 or 0644 file loads no helper). One that cannot be
 * read is `unknown`, with the file system's reason (uncheckedFileAcl).
 */
export function secretFileAcl(fd: number, stats: { mode: number; uid: number; gid: number }): AccessAcl | undefined {
  if (!aclAsked(stats)) return undefined;
  try {
    return readAccessAcl(fd);
  } catch (cause) {
    return { unknown: (((cause as Error).cause ?? cause) as Error).message }; // the errno's words, not "descriptor 7"
  }
}

/** Whether {@link aclReader} would ask the ACL of a file of this mode, owner and group (secretFileAcl reads it then). */
export const aclAsked = ({ mode, uid, gid }: { mode: number; uid: number; gid: number }): boolean =>
  (mode & 0o040) !== 0 && !isExposed({ mode, owner: uid, gid });

/**
 * The ACL entry that lets another user read a secret file its mode alone does not expose (root's 0640 file read through
 * its group, `setfacl -m u:bob:r`); an exposed one is told by its mode already.
 */
export function aclReader(file: FileFacts, path: string): string | undefined {
  return isExposed(file) ? undefined : aclOther(path, file, 4);
}

/** Whether users other than the owner may read or change the file, but for this process reading root's file through its group. */
export function isExposed(file: FileFacts): boolean {
  const mode = file.mode ?? 0;
  return (mode & 0o077) !== 0 && ((mode & 0o027) !== 0 || !readsThroughGroup(file));
}

/**
 * The first directory, from the file's own up to /, that users other than its owner can write to (rename another file
 * over the secret's name, or plant a symbolic link to any file this process reads), without the sticky bit: /tmp is
 * not (fs.protected_symlinks covers links there). Every directory a name is looked up in on the way (each link's
 * own, the file's), with every directory above them (one writable above lets them rename the whole subdirectory).
 * By name, after the file was read: a directory others can write now lets them swap the file at any later start, so
 * what it is at this moment is what tells; a swap in between gains them nothing they could not do anyway.
 * A group's write bit counts only when another account is in that group: a directory of a group nobody else is in (a
 * user-private group's 0775 ~/.config under umask 002, root's 0770 directory of the service's group) lets nobody else
 * change it. Nor does its ACL's named user or group (aclOther), unless another user or a group another account is in.
 * A directory's owner other than root and this process's user (for root too: any user) renames what is in it, whatever
 * its mode, sticky or not (trusted-path.ts's rule for the config file, told here instead of refused).
 */
export function changeableDirectory(path: string, aclAsked?: AclAsked[]): ChangeableDirectory | undefined {
  const seen = new Set<string>();
  const uid = process.getuid?.();
  for (const start of lookedUpIn(path).reverse()) {
    for (let at: string | undefined = start; at !== undefined && !seen.has(at); at = at === "/" ? undefined : dirname(at)) {
      seen.add(at);
      const info = statSync(at, { throwIfNoEntry: false });
      if (info && !ownedByOrRoot(info.uid, uid, at === "/" ? undefined : statOf(() => dirname(at)))) return { path: at, mode: info.mode, owner: info.uid };
      if (!info || (info.mode & 0o022) === 0 || (info.mode & 0o1000) !== 0) continue;
      if ((info.mode & 0o002) !== 0 || groupShared(info.gid, uid ?? 0)) return { path: at, mode: info.mode };
      const read = aclByName(at);
      const acl = aclOther(at, { mode: info.mode, owner: info.uid, acl: read }, 2);
      if (acl) return { path: at, mode: info.mode, acl };
      aclAsked?.push({ path: at, why: "unknown" in read ? read.unknown : undefined }); // unread: never checked
    }
  }
  return undefined;
}

/** The directory an entry is in, for rootsOwner (an unmapped owner's entry in /tmp is not root's); none if it is gone. */
function statOf(path: () => string) {
  try {
    return statSync(path());
  } catch {
    return undefined;
  }
}

/**
 * Every directory the kernel looks a name up in to reach `path`, in that order: each link's own, in a chain of links
 * or on the way, and where '..' after a link leads (the parent of its target, not of the link's name).
 */
function lookedUpIn(path: string): string[] {
  const pending = (isAbsolute(path) ? path : `${process.cwd()}/${path}`).split("/");
  const dirs = new Set<string>();
  let at = "/";
  for (let name = pending.shift(), links = 0; name !== undefined; name = pending.shift()) {
    if (name === "" || name === ".") continue;
    if (name === "..") {
      at = dirname(at);
      continue;
    }
    dirs.add(at);
    const target = links < 40 ? linkTarget(join(at, name)) : undefined; // the kernel's ELOOP bound
    if (target === undefined) {
      at = join(at, name);
      continue;
    }
    links += 1;
    pending.unshift(...target.split("/"));
    if (target.startsWith("/")) at = "/";
  }
  return [...dirs];
}

function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined; // EINVAL: not a link; ENOENT: not there
  }
}

/**
 * Root's file, and this process (not root) is in its group, which no other account is in: a service user reading its
 * key or PIN the way our docs set it up (not root:users 0640, which every user can read).
 */
function readsThroughGroup({ owner, gid }: FileFacts): boolean {
  const uid = process.getuid?.();
  if (owner !== 0 || uid === undefined || uid === 0 || gid === undefined) return false;
  return (process.getgroups?.().includes(gid) ?? false) && !groupShared(gid, uid); // Node includes the effective gid
}

/**
 * Whether an account other than `uid` and root has `gid` as its group (/etc/passwd) or is listed in it (/etc/group;
 * for a group not there, as the name service gives it: LDAP, sssd, systemd's userdb, by `getent group`, where
 * /etc/nsswitch.conf names one).
 * Where they are absent or unreadable (a scratch container, a Kubernetes fsGroup) no other account is known.
 */
export function groupShared(gid: number, uid: number): boolean {
  const table = (path: string, read = () => readFileSync(path, "utf8")) => {
    try {
      return read().split("\n").map((line) => line.split(":"));
    } catch {
      return [];
    }
  };
  // By a fixed path, not PATH's: root's `update` asks too, and a `getent` planted in PATH would run as root.
  const getent = (...key: string[]) => () => execFileSync(GETENT.find((at) => existsSync(at)) ?? GETENT[0]!, key, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 });
  const files = table("/etc/group").filter(([, , id]) => id === `${gid}`);
  // A process costs ~7 ms: only where /etc/nsswitch.conf names a service besides files for groups.
  const services = table("/etc/nsswitch.conf").find(([db]) => db === "group")?.[1]?.split(/\s+/) ?? [];
  const nss = files.length === 0 && services.some((name) => /^[a-z]/.test(name) && name !== "files");
  const listed = nss ? table("getent", getent("group", `${gid}`)) : files;
  const accounts = table("/etc/passwd");
  const named = nss && listed.length > 0 ? [...accounts, ...table("getent", getent("passwd", `${uid}`))] : accounts; // the name service's `uid` too
  const ours = new Set(named.filter(([, , id]) => id === `${uid}` || id === "0").map(([name]) => name));
  const members = listed.flatMap(([, , , list]) => list?.split(",") ?? []);
  return accounts.some(([name, , , group]) => group === `${gid}` && !ours.has(name)) || members.some((name) => name !== "" && !ours.has(name));
}

/** Where distributions put `getent` (glibc's; Alpine's musl-utils); without either, the name service is not asked (ENOENT). */
const GETENT = ["/usr/bin/getent", "/bin/getent"];

/** The command that narrows the mode of `path` (a shell word): chmod 600 on root's file would lock this process (not root) out, which reads it through the group. */
export function modeFix(file: FileFacts, path: string): string {
  const uid = process.getuid?.();
  if (file.owner !== 0 || uid === undefined || uid === 0) return `chmod 600 ${path}`;
  if (readsThroughGroup(file)) return `chmod 640 ${path}`;
  const gid = process.getgid?.() ?? 0;
  return groupShared(gid, uid) ? `chown ${uid} ${path} && chmod 600 ${path}` : `chgrp ${gid} ${path} && chmod 640 ${path}`;
}
