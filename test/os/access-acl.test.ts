import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { aclNamed, aclWithMode, readAccessAcl, setAccessAcl } from "../../src/os/access-acl.js";
import { writeFileAtomic } from "../../src/io/atomic-write.js";
import { loadNativeHelper } from "../../src/os/native-helper.js";
import { writeProfileCredentials } from "../../src/update/write-credentials.js";
import { makeTempDir } from "../helpers/pki.js";
import { aclBytes as acl } from "../helpers/acl-bytes.js";

describe("aclWithMode: an ACL as chmod(mode) leaves it", () => {
  it("the owner, the mask and others take the mode's bits; the owning group and named entries stay", () => {
    const before = acl([0x01, 7], [0x02, 6, 1001], [0x04, 4], [0x08, 7, 2002], [0x10, 7], [0x20, 5]);
    expect(aclWithMode(before, 0o640)).toEqual(acl([0x01, 6], [0x02, 6, 1001], [0x04, 4], [0x08, 7, 2002], [0x10, 4], [0x20, 0]));
    expect(before).toEqual(acl([0x01, 7], [0x02, 6, 1001], [0x04, 4], [0x08, 7, 2002], [0x10, 7], [0x20, 5])); // a copy
  });

  it("without a mask the owning group's entry takes the group bits", () => {
    expect(aclWithMode(acl([0x01, 4], [0x04, 6], [0x20, 4]), 0o600)).toEqual(acl([0x01, 6], [0x04, 0], [0x20, 0]));
  });
});

describe("aclNamed: the named users and groups an ACL gives read or write (round 33 mutation)", () => {
  it("only named user and group entries with that bit: not the owner, owning group, mask or others", () => {
    const all = acl([0x01, 7, 10], [0x02, 4, 1001], [0x02, 2, 1002], [0x02, 6, 1003], [0x04, 6, 11], [0x08, 4, 2001], [0x08, 0, 2002],
      [0x08, 2, 2003], [0x10, 7, 12], [0x20, 6, 13]);
    expect(aclNamed(all, 4)).toEqual({ users: [1001, 1003], groups: [2001] });
    expect(aclNamed(all, 2)).toEqual({ users: [1002, 1003], groups: [2003] });
  });

  it("none without an ACL; a header alone, or a cut-off last entry, names no one", () => {
    expect(aclNamed(null, 4)).toEqual({ users: [], groups: [] });
    expect(aclNamed(Buffer.alloc(0), 4)).toEqual({ users: [], groups: [] });
    expect(aclNamed(acl(), 4)).toEqual({ users: [], groups: [] });
    const cut = acl([0x02, 4, 1001], [0x08, 4, 2001]).subarray(0, 4 + 8 + 7);
    expect(aclNamed(cut, 4)).toEqual({ users: [1001], groups: [] });
  });
});

// Not skipped where setfacl or the built helper is missing: `npm test` installs acl and builds first.
describe("writeFileAtomic setting the ACL of the file it replaces (setAccessAcl)", () => {
  const { dir, cleanup } = makeTempDir("raa-acl-");
  afterAll(cleanup);
  const aclOf = async (path: string) => {
    const handle = await open(path, "r");
    try {
      return readAccessAcl(handle.fd);
    } finally {
      await handle.close();
    }
  };

  it("the temporary file is never wider than the mode written, also before its chmod (ACL other::r, mode 644 → 640)", async () => {
    const file = join(dir, "credentials");
    writeFileSync(file, "old", { mode: 0o600 });
    execFileSync("setfacl", ["-m", "u:nobody:r,g::-,o::r", file]);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    const old = await aclOf(file);
    if (!("bytes" in old) || !old.bytes) throw new Error("no ACL read");
    const handle = await open(file, "r");
    const proto = Object.getPrototypeOf(handle) as { chmod: (...a: unknown[]) => Promise<void> };
    await handle.close();
    const { chmod } = proto;
    const seen: number[] = [];
    proto.chmod = async function (this: FileHandle, ...args) {
      seen.push((await this.stat()).mode & 0o777);
      return chmod.apply(this, args);
    };
    try {
      expect(await writeFileAtomic(file, "new", 0o640, { setAcl: (fd, mode) => setAccessAcl(fd, old.bytes, mode) })).toBe(0o640);
    } finally {
      proto.chmod = chmod;
    }
    expect(seen).toEqual([0o640]); // the raw ACL set first: 644, readable by others until the chmod
    expect(readFileSync(file, "utf8")).toBe("new");
    expect(statSync(file).mode & 0o777).toBe(0o640);
    const nobody = execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim();
    expect(execFileSync("getfacl", ["--omit-header", "--numeric", file], { encoding: "utf8" }).trim().split("\n"))
      .toEqual(["user::rw-", `user:${nobody}:r--`, "group::---", "mask::r--", "other::---"]);
  });

  it("update's writer (writeProfileCredentials) gives the new file the ACL of the one it read", async () => {
    const file = join(dir, "update");
    writeFileSync(file, "", { mode: 0o600 });
    execFileSync("setfacl", ["-m", "u:nobody:r,g::-", file]);
    const before = await aclOf(file);
    const creds = { accessKeyId: "A1", secretAccessKey: "s", sessionToken: "t", expiration: new Date(Date.now() + 3600_000) };
    await writeProfileCredentials(file, "gw", creds);
    expect(readFileSync(file, "utf8")).toContain("aws_access_key_id = A1\n");
    expect([await aclOf(file), statSync(file).mode & 0o777]).toEqual([before, 0o640]);
  });

  it("acl null: the new file has none, not even the directory's default one", async () => {
    const sub = join(dir, "defaults");
    execFileSync("mkdir", ["-m", "755", sub]);
    const file = join(sub, "credentials");
    writeFileSync(file, "old", { mode: 0o640 });
    chmodSync(file, 0o640);
    execFileSync("setfacl", ["-d", "-m", "u:nobody:r", sub]);
    await writeFileAtomic(file, "new", 0o640, { setAcl: (fd, mode) => setAccessAcl(fd, null, mode) });
    expect(await aclOf(file)).toEqual({ bytes: null });
    await writeFileAtomic(file, "newer", 0o640);
    expect(await aclOf(file)).not.toEqual({ bytes: null }); // without the option: inherited, as before
  });
});
