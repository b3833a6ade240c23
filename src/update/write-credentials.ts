import type { Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Credentials } from "../rolesanywhere/credentials.js";
import { InputError } from "../errors.js";
import { makeDirectories, mkdirError, writeFileAtomic } from "../io/atomic-write.js";
import { absoluteHome, UntrustedPathError, walkToEntry, type CheckedEntry } from "../io/trusted-path.js";
import { upsertProfileCredentials } from "./credentials-file.js";
import { readCredentialsTarget, type CredentialsTarget } from "./credentials-target.js";
import { withFileLock } from "../io/file-lock.js";
import { aclOther, groupShared } from "../os/exposed-file.js";
import { aclNamed, setAccessAcl } from "../os/access-acl.js";

/**
 * `--credentials-file`, else `$AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials` (where the AWS CLI and SDKs
 * look). A leading `~/` (or `~`) the shell left (quoted) is the home directory, as in the config file, never a file
 * or directory named `~` here.
 */
export function sharedCredentialsPath(env: NodeJS.ProcessEnv = process.env, home = homedir(), flag?: string): string {
  const given = flag ?? env["AWS_SHARED_CREDENTIALS_FILE"];
  const hint = "pass --credentials-file, or set HOME or AWS_SHARED_CREDENTIALS_FILE";
  let path = given;
  if (!path || path === "~" || path.startsWith("~/")) {
    const base = absoluteHome(home, "FILE_WRITE_FAILED", "credentials file", hint);
    path = path ? join(base, path.slice(2)) : join(base, ".aws", "credentials");
  }
  // Node.js reads argv and the environment as UTF-8: other bytes became U+FFFD, the name of another file.
  if (!path.includes("\uFFFD")) return path;
  const from = flag !== undefined ? "--credentials-file" : given ? "AWS_SHARED_CREDENTIALS_FILE" : "HOME";
  throw new InputError("FILE_WRITE_FAILED", `the credentials file path (from ${from}) holds bytes that are not UTF-8`, {
    hint: "Node.js would write a file of another name, which the AWS SDKs do not read: use a path in UTF-8",
  });
}

/**
 * Writes `credentials` into section `[profile]` of the shared credentials file, replaced only if it is still the
 * file read. The lock serialises concurrent writers (other `update` processes): none of their profiles is lost.
 * The path is resolved once, by the walk that checks its symbolic links; the read and the write then go through
 * the directory it reached, so a link planted at the name after the check is never followed.
 */
export async function writeProfileCredentials(path: string, profile: string, credentials: Credentials) {
  const entry = followOnlyOwnLinks(path);
  // Unlike aws_signing_helper (which creates ~/.aws as 0600, untraversable), a new directory gets 0700 whatever the
  // umask. The walk made the missing ones; without it (no uid, or it failed), they are made here, for the lock.
  if (!entry) {
    await makeDirectories(dirname(path)).catch((cause: NodeJS.ErrnoException) => {
      throw mkdirError(dirname(path), cause);
    });
  }
  try {
    // Next to the file itself: writers that reach it by different names (a link, its target) take the same lock.
    const real = entry?.path ?? (await realpath(path).catch(() => path));
    const at = entry ? entry.directory.entry(entry.name) : path;
    await withFileLock(`${real}.lock`, async () => {
      const target = await readCredentialsTarget(at, entry && real);
      // Root keeps a user's own file theirs; one that user put first where anyone can write (/tmp, or a directory
      // of theirs there: /tmp/x/credentials), or where a group another account is in can (a shared 2775 directory,
      // not a user-private group's; or one of theirs in it), would get its secrets.
      const dir = dirname(real);
      const uid = process.geteuid?.();
      const d = entry?.directory.stats ?? (await stat(dir));
      const theirs = target.uid !== undefined && ![0, uid].includes(target.uid);
      // A user, or a group another account is in, that its POSIX ACL lets write (its mask: the group bits), as its group would.
      const aclWriter = (at: string, s: Stats) => {
        const entry = aclOther(at, { mode: s.mode, owner: s.uid }, 2, s.uid);
        return entry && `${entry.startsWith("u:") ? "uid" : "group"} ${entry.slice(2)} (its ACL)`;
      };
      const groupWriters = (at: string, s: Stats) => s.mode & 0o020 && ((groupShared(s.gid, s.uid) && `its group ${s.gid}`) || aclWriter(at, s));
      const writers = (at: string, s: Stats) => (s.mode & 0o002 ? "anyone" : groupWriters(at, s));
      let above: { path: string; by: string; below: string } | undefined; // the first such directory above, and its child
      for (let sub = dir; theirs && !above && sub !== "/"; sub = dirname(sub)) {
        const by = writers(dirname(sub), await stat(dirname(sub)));
        if (by) above = { path: dirname(sub), by, below: sub };
      }
      const made = above && ![0, uid].includes((await stat(above.below)).uid) ? above : undefined;
      const writer = d.mode & 0o002 ? "anyone" : made ? made.by : target.uid !== d.uid && groupWriters(dir, d);
      if (theirs && writer) {
        const where = !(d.mode & 0o002) && made ? `is in ${made.path}, which ${made.by} can write` : `can be written by ${writer}`;
        const why = `it belongs to uid ${target.uid} and its directory ${dir} ${where}`;
        throw new InputError("FILE_UNSAFE", `not writing ${path}: ${why}`, {
          hint: "remove it, or point --credentials-file at a file in a directory only its owner can write",
        });
      }
      if ((target.links ?? 1) > 1) {
        const why = `it has ${target.links} names (hard links), and the others would keep the old credentials`;
        throw new InputError("FILE_UNSAFE", `not writing ${path}: ${why}`, {
          hint: "remove the other names (find / -samefile FILE) and give them a symbolic link to it instead",
        });
      }
      let duplicate: string | undefined; // told once written: the JS SDK reads the file, the AWS CLI none of it
      const data = upsertProfileCredentials(target.bytes, profile, credentials, (line) => (duplicate = line));
      // A group the operator let read it (a consumer of another uid) keeps reading; group write and others, never.
      // With an ACL the group bits are its mask: without it (unreadable, no native helper) they could widen access.
      const acl = target.acl && "bytes" in target.acl ? target.acl.bytes : undefined;
      const mode = 0o600 | (target.acl && acl === undefined ? 0 : (target.mode ?? 0) & 0o040);
      const setAcl = acl !== undefined ? (fd: number, m?: number) => setAccessAcl(fd, acl, m, real) : undefined;
      const written = await writeFileAtomic(at, data, mode, { replaces: target.identity, ...(entry && { shownAs: real }), ...(setAcl && { setAcl }) });
      warnIfNarrowed(real, target, written);
      if (duplicate) warnOnce(`${duplicate} (${real})`, "RAA_CREDENTIALS_FILE_DUPLICATE");
    });
  } finally {
    entry?.directory.close();
  }
}

/**
 * One line, once per process, when the file lost bits it had: session credentials are never written readable by
 * other users or writable by the group, nor readable by a group the new file cannot have (not root, not a member;
 * another user's file, replaced by this user's).
 */
function warnIfNarrowed(path: string, target: CredentialsTarget, written: number) {
  const { mode = 0, identity } = target;
  if (identity === "absent" || (mode & 0o077 & ~written) === 0) return;
  const uid = process.geteuid?.();
  const why = [];
  if (mode & 0o006) why.push(`${mode & 0o004 ? "readable" : "writable"} by other users`);
  if (mode & 0o020) why.push("writable by its group");
  if (mode & 0o040 && !(written & 0o040)) {
    const unknown = target.acl && "unknown" in target.acl && `its group, and a POSIX ACL it may have cannot be kept (${target.acl.unknown})`;
    // Its ACL went with the group (atomic-write): the named users and groups it let read are told too.
    const named = aclNamed(target.acl && "bytes" in target.acl ? target.acl.bytes : null, 4);
    const entries = [...named.users.map((id) => `u:${id}`), ...named.groups.map((id) => `g:${id}`)];
    const lost = unknown || (identity.uid !== uid ? `the group of uid ${identity.uid}, whose file it was` : `group ${identity.gid}, which this process is not in`)
      + (entries.length ? `, and through its ACL by ${entries.join(", ")}` : "");
    why.push(`readable by ${lost}`);
  }
  const octal = (m: number) => m.toString(8);
  warnOnce(`credentials file ${path} was ${why.join(" and ") || "executable"} (mode ${octal(mode)}); written ${octal(written)}`, "RAA_CREDENTIALS_FILE_MODE");
}

/** A warning line, once per process: `update --daemon` rewrites the file every refresh. */
function warnOnce(message: string, code: string) {
  if (told.has(message)) return;
  told.add(message);
  process.emitWarning(message, { code });
}

const told = new Set<string>();

/**
 * A symbolic link on the way to the file is followed only when it belongs to this user or root, as for the
 * paths that steer the process: root keeping another user's file filled must not rewrite (and chmod 0600) the
 * file that user's link points at, such as /etc/passwd. Missing directories are made (0700) by the walk, never
 * through such a link. Returns the walk's last step (the directory, held open, and the file's name in it);
 * undefined when the walk cannot be made (no uid; errors reaching the file are left to the read).
 */
function followOnlyOwnLinks(path: string): CheckedEntry | undefined {
  const uid = process.geteuid?.();
  if (uid === undefined) return undefined;
  try {
    return walkToEntry(path, { uid, linksOnly: true, createMode: 0o700 });
  } catch (cause) {
    if (!(cause instanceof UntrustedPathError)) return undefined;
    throw new InputError("FILE_UNSAFE", `not writing ${path}: ${cause.reason}`, {
      hint: "point --credentials-file at the file itself, or have its owner run update",
    });
  }
}
