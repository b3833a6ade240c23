import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadNativeHelper } from "../../src/os/native-helper.js";
import { writeProfileCredentials } from "../../src/update/write-credentials.js";
import type { Credentials } from "../../src/rolesanywhere/credentials.js";
import { makeTempDir } from "../helpers/pki.js";

const creds = (id: string): Credentials => ({
  accessKeyId: id,
  secretAccessKey: `secret-${id}`,
  sessionToken: `token-${id}`,
  expiration: new Date(Date.now() + 3600_000),
});

// Mutation survivors of write-credentials.ts (round 32), in a file of their own while another helper owns that module.
describe("credentials file writing: mutation survivors", () => {
  const { dir, cleanup } = makeTempDir("raa-update-mut-");
  afterAll(cleanup);
  const root = process.geteuid?.() === 0;

  it.skipIf(!root)("without a uid (no checked walk), another user's file in a directory anyone can write is still refused", async () => {
    // The directory's mode then comes from stat(), not the walk's handle (`??` → `&&` left it undefined: a TypeError).
    const shared = join(dir, "anyone");
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const planted = join(shared, "credentials");
    writeFileSync(planted, "", { mode: 0o644 });
    chownSync(planted, 65534, 65534);
    const geteuid = process.geteuid;
    process.geteuid = undefined;
    try {
      await expect(writeProfileCredentials(planted, "gw", creds("N1"))).rejects.toMatchObject({
        code: "FILE_UNSAFE",
        message: `not writing ${planted}: it belongs to uid 65534 and its directory ${shared} can be written by anyone`,
      });
    } finally {
      process.geteuid = geteuid;
    }
    expect([readFileSync(planted, "utf8"), statSync(planted).uid]).toEqual(["", 65534]);
  });

  // Round 41 (M45): l.97 (the ACL handed to the atomic write) survived: only native-test/update-acl.test.ts ran it.
  it.skipIf(!loadNativeHelper().helper)("a file shared through its ACL (u:65534:r, its group shut out) keeps that ACL, entry for entry", async () => {
    const file = join(dir, "shared-acl");
    writeFileSync(file, "", { mode: 0o600 });
    execFileSync("setfacl", ["-m", "u:65534:r,g::-", file]); // mode 0640: its group bits are the ACL's mask
    const before = statSync(file).ino;
    await writeProfileCredentials(file, "gw", creds("A1"));
    expect(statSync(file).ino).not.toBe(before); // a new file (renamed over it), which got the ACL
    expect(readFileSync(file, "utf8")).toContain("[gw]\naws_access_key_id = A1\n");
    const acl = execFileSync("getfacl", ["--omit-header", "--numeric", file], { encoding: "utf8" }).trim().split("\n");
    expect(acl).toEqual(["user::rw-", "user:65534:r--", "group::---", "mask::r--", "other::---"]);
  });
});
