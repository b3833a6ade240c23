/**
 * A system.posix_acl_access value as the kernel hands it out: version 2, then { tag, perm, id } entries of 8 bytes.
 * Tags: 0x01 owner, 0x02 named user, 0x04 owning group, 0x08 named group, 0x10 mask, 0x20 others; id 0xffffffff
 * for the entries that name no one.
 */
export function aclBytes(...entries: [tag: number, perm: number, id?: number][]): Buffer {
  const out = Buffer.alloc(4 + 8 * entries.length);
  out.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id = 0xffffffff], i) => {
    out.writeUInt16LE(tag, 4 + 8 * i);
    out.writeUInt16LE(perm, 6 + 8 * i);
    out.writeUInt32LE(id, 8 + 8 * i);
  });
  return out;
}
