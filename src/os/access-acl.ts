import { closeSync, constants, openSync } from "node:fs";
import { InputError } from "../errors.js";
import { loadNativeHelper } from "./native-helper.js";

/**
 * A file's POSIX access ACL as the kernel stores it (xattr system.posix_acl_access): `bytes` (null: none), or
 * `unknown` saying why it cannot be read (no native helper; not Linux). Node.js has no API for extended attributes.
 */
export type AccessAcl = { readonly bytes: Buffer | null } | { readonly unknown: string };

/** Why no POSIX ACL can be read here (no native helper, or one without ACL calls); undefined where it can. */
export function aclUnreadable(): string | undefined {
  const { helper, reason } = loadNativeHelper();
  return helper?.accessAcl ? undefined : (reason ?? `the native helper reads no ACL on ${process.platform}`);
}

/**
 * The ACL of the file open as `fd` (`path` names it in errors): the one actually read, never another now at its name.
 * Loads the native helper.
 */
export function readAccessAcl(fd: number, path = `descriptor ${fd}`): AccessAcl {
  const unknown = aclUnreadable();
  if (unknown !== undefined) return { unknown };
  try {
    return { bytes: loadNativeHelper().helper!.accessAcl!(fd) };
  } catch (cause) {
    throw aclFailure("FILE_UNREADABLE", `cannot read the POSIX ACL of ${path}`, cause);
  }
}

/**
 * Gives the file open as `fd` (`path` names it in errors) the ACL `acl` as `chmod(mode)` will leave it; with `acl`
 * null or `mode` undefined, none (neither one inherited from its directory's default ACL).
 */
export function setAccessAcl(fd: number, acl: Buffer | null, mode: number | undefined, path = `descriptor ${fd}`): void {
  try {
    loadNativeHelper().helper?.setAccessAcl?.(fd, acl && mode !== undefined ? aclWithMode(acl, mode) : null);
  } catch (cause) {
    throw aclFailure("FILE_WRITE_FAILED", `cannot set the POSIX ACL of ${path}`, cause);
  }
}

/** The native helper's error (an errno but ENODATA/ENOTSUP: EIO on a FUSE file system) as one line and what to do. */
function aclFailure(code: "FILE_UNREADABLE" | "FILE_WRITE_FAILED", what: string, cause: unknown): InputError {
  return new InputError(code, `${what}: ${(cause as Error).message}`, {
    cause,
    hint: "its file system failed the call (see dmesg, or the FUSE server's log); the file was left as it is",
  });
}

// struct posix_acl_xattr_header (u32 version) then entries { u16 tag, u16 perm, u32 id }, little-endian.
const USER_OBJ = 0x01, USER = 0x02, GROUP_OBJ = 0x04, GROUP = 0x08, MASK = 0x10, OTHER = 0x20;
const entries = (acl: Buffer) => Array.from({ length: Math.max(0, (acl.length - 4) >> 3) }, (_, i) => 4 + 8 * i)
  .map((at) => ({ at, tag: acl.readUInt16LE(at), perm: acl.readUInt16LE(at + 2), id: acl.readUInt32LE(at + 4) }));

/**
 * The named users and groups the access ACL of `path` gives `perm` (4 read, 2 write), which its mask (the mode's group
 * bits, the caller's to check) may take away: none when it has no ACL, or it cannot be read (no native helper).
 */
export function aclGrants(path: string, perm: 4 | 2): { users: number[]; groups: number[] } {
  const acl = aclByName(path);
  return aclNamed("bytes" in acl ? acl.bytes : null, perm);
}

/** The access ACL of `path`, opened by its name (a directory on the way); one that cannot be read is `unknown`, why. */
export function aclByName(path: string): AccessAcl {
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY); // a FIFO or a tty: no wait
    try {
      return readAccessAcl(fd);
    } finally {
      closeSync(fd);
    }
  } catch (cause) {
    return { unknown: (((cause as Error).cause ?? cause) as Error).message }; // the errno's words, not "descriptor 7"
  }
}

/** The named users and groups the ACL `acl` (null: none) gives `perm` (4 read, 2 write), its mask not applied. */
export function aclNamed(acl: Buffer | null, perm: 4 | 2): { users: number[]; groups: number[] } {
  const all = acl ? entries(acl) : [];
  const granting = (tag: number) => all.filter((e) => e.tag === tag && e.perm & perm).map((e) => e.id);
  return { users: granting(USER), groups: granting(GROUP) };
}

/**
 * Whether `acl` names a user or group this user namespace does not map (a rootless container's, the host's file
 * mounted): the kernel shows its id as 4294967295 and refuses it back (EINVAL), so the ACL cannot be kept.
 */
export const namesUnmappedId = (acl: Buffer) => entries(acl).some((e) => (e.tag === USER || e.tag === GROUP) && e.id === UNMAPPED_ID);

/** How an ACL entry names a user or group this user namespace does not map. */
export const UNMAPPED_ID = 0xffffffff;

/**
 * `acl` as `chmod(mode)` leaves it (the kernel's posix_acl_chmod): the owner's and others' entries and the mask
 * (the owning group's entry when there is no mask) take the mode's bits; named users and groups stay. Set so, the
 * ACL never gives more for a moment than the mode that follows it.
 */
export function aclWithMode(acl: Buffer, mode: number): Buffer {
  const out = Buffer.from(acl);
  const all = entries(out);
  const group = all.some((e) => e.tag === MASK) ? MASK : GROUP_OBJ;
  const bits: Record<number, number> = { [USER_OBJ]: mode >> 6, [group]: mode >> 3, [OTHER]: mode };
  for (const { at, tag } of all) if (tag in bits) out.writeUInt16LE(bits[tag]! & 7, at + 2);
  return out;
}
