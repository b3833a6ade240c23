/**
 * replacedIn (module-loader.ts warnIfReplaced): a module is the one mapped when device and inode both match, as
 * /proc/self/maps writes them ("major:minor" in hex, the inode in decimal). Before round 29 the inode alone was compared:
 * a module replaced by a file of another filesystem with the same inode number went unnoticed.
 */
import { describe, expect, it } from "vitest";
import { replacedIn } from "../../src/pkcs11/module-loader.js";

const PATH = "/usr/lib/pkcs11/module.so";
/** glibc's makedev. */
const makedev = (major: bigint, minor: bigint) => ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
const line = (dev: string, ino: number, path = PATH) => `7f0000000000-7f0000001000 r-xp 00001000 ${dev} ${ino}                    ${path}`;
const maps = (...lines: string[]) => ["00400000-00b6f000 r--p 00000000 fe:00 260689                             /usr/bin/node", ...lines, ""].join("\n");

describe("replacedIn: the file at the module's path against the mappings of that path", () => {
  it("the same device and inode: the module mapped, nothing replaced", () => {
    expect(replacedIn(maps(line("fe:01", 4242)), PATH, { dev: makedev(0xfen, 1n), ino: 4242n }, false)).toBeUndefined();
  });

  it("the same inode number on another filesystem (a tmpfs mounted over the directory): replaced", () => {
    // Before: undefined (the inodes matched).
    expect(replacedIn(maps(line("fe:01", 4242)), PATH, { dev: makedev(0n, 0x2an), ino: 4242n }, false)).toBe(`0:42 4242 ${PATH}`);
  });

  it("another inode on the same device (a package upgrade's rename), the old one deleted: replaced", () => {
    expect(replacedIn(maps(`${line("fe:01", 4242)} (deleted)`), PATH, { dev: makedev(0xfen, 1n), ino: 5151n }, false)).toBe(`254:1 5151 ${PATH}`);
  });

  it("majors and minors past one byte, written in hex by maps", () => {
    const dev = makedev(0x103n, 0x1234n);
    expect(replacedIn(maps(line("103:1234", 7)), PATH, { dev, ino: 7n }, false)).toBeUndefined();
    expect(replacedIn(maps(line("103:1235", 7)), PATH, { dev, ino: 7n }, false)).toBe(`259:4660 7 ${PATH}`);
    const wide = makedev(0x1003n, 0x12345n); // past glibc's first 12 and 8 bits
    expect(replacedIn(maps(line("1003:12345", 7)), PATH, { dev: wide, ino: 7n }, false)).toBeUndefined();
  });

  it("one mapping of several is the file at the path: not replaced", () => {
    const text = maps(`${line("fe:01", 1)} (deleted)`, line("fe:01", 2));
    expect(replacedIn(text, PATH, { dev: makedev(0xfen, 1n), ino: 2n }, false)).toBeUndefined();
  });

  it("nothing mapped from the path (another path with the same identity does not count): nothing to say", () => {
    expect(replacedIn(maps(line("fe:01", 9, "/other.so")), PATH, { dev: makedev(0xfen, 1n), ino: 1n }, false)).toBeUndefined();
  });

  it("on overlayfs the inode alone (maps gave the device under it before Linux 6.7)", () => {
    const now = { dev: makedev(0n, 0x28n), ino: 4242n };
    expect(replacedIn(maps(line("fe:01", 4242)), PATH, now, true)).toBeUndefined();
    expect(replacedIn(maps(line("fe:01", 4243)), PATH, now, true)).toBe(`4242 ${PATH}`);
  });
});
