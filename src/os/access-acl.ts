import { loadNativeHelper } from "./native-helper.js";

/**
 * A file's POSIX access ACL as the kernel stores it (xattr system.posix_acl_access): `bytes` (null: none), or
 * `unknown` saying why it cannot be read (no native helper; not Linux). Node.js has no API for extended attributes.
 */
export type AccessAcl = { readonly bytes: Buffer | null } | { readonly unknown: string };

/** The ACL of the file open as `fd`: the one actually read, never another now at its name. Loads the native helper. */
export function readAccessAcl(fd: number): AccessAcl {
  const { helper, reason } = loadNativeHelper();
  if (!helper?.accessAcl) return { unknown: reason ?? `the native helper reads no ACL on ${process.platform}` };
  return { bytes: helper.accessAcl(fd) };
}

/**
 * Gives the file open as `fd` the ACL `acl` as `chmod(mode)` will leave it; with `acl` null or `mode` undefined, none
 * (neither one inherited from its directory's default ACL).
 */
export function setAccessAcl(fd: number, acl: Buffer | null, mode: number | undefined): void {
  loadNativeHelper().helper?.setAccessAcl?.(fd, acl && mode !== undefined ? aclWithMode(acl, mode) : null);
}

// struct posix_acl_xattr_header (u32 version) then entries { u16 tag, u16 perm, u32 id }, little-endian.
const USER_OBJ = 0x01, GROUP_OBJ = 0x04, MASK = 0x10, OTHER = 0x20;

/**
 * `acl` as `chmod(mode)` leaves it (the kernel's posix_acl_chmod): the owner's and others' entries and the mask
 * (the owning group's entry when there is no mask) take the mode's bits; named users and groups stay. Set so, the
 * ACL never gives more for a moment than the mode that follows it.
 */
export function aclWithMode(acl: Buffer, mode: number): Buffer {
  const out = Buffer.from(acl);
  const tags = [];
  for (let at = 4; at + 8 <= out.length; at += 8) tags.push(out.readUInt16LE(at));
  const group = tags.includes(MASK) ? MASK : GROUP_OBJ;
  const bits: Record<number, number> = { [USER_OBJ]: mode >> 6, [group]: mode >> 3, [OTHER]: mode };
  tags.forEach((tag, i) => {
    if (tag in bits) out.writeUInt16LE(bits[tag]! & 7, 4 + 8 * i + 2);
  });
  return out;
}
