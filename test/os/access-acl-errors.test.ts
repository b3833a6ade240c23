import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { aclGrants } from "../../src/os/access-acl.js";
import { aclReader } from "../../src/os/exposed-file.js";
import { readCredentialsTarget } from "../../src/update/credentials-target.js";
import { writeProfileCredentials } from "../../src/update/write-credentials.js";
import { makeTempDir } from "../helpers/pki.js";
import { aclBytes } from "../helpers/acl-bytes.js";

// A file system whose extended attributes fail (EIO on a FUSE mount): the native helper throws as it does for an
// errno other than ENODATA/ENOTSUP (native/raa_native.c throw_errno).
const helper = vi.hoisted(() => ({
  accessAcl: (_fd: number): Buffer | null => {
    throw new Error("fgetxattr(system.posix_acl_access): Input/output error");
  },
  setAccessAcl: (_fd: number, _acl: Buffer | null): void => {
    throw new Error("fsetxattr(system.posix_acl_access): Input/output error");
  },
}));
vi.mock("../../src/os/native-helper.js", () => ({ loadNativeHelper: () => ({ helper }) }));

/** ACL version 2: user::rw-, user:4242:r--, group::r--, mask::r--, other::--- */
const anAcl = () => aclBytes([0x01, 6], [0x02, 4, 4242], [0x04, 4], [0x10, 4], [0x20, 0]);

describe("the ACL calls failing (EIO): a typed error with one line for update, nothing for the warning-only readers", () => {
  const { dir, cleanup } = makeTempDir("raa-acl-eio-");
  afterAll(cleanup);
  const creds = { accessKeyId: "E1", secretAccessKey: "s", sessionToken: "t", expiration: new Date(Date.now() + 3600_000) };
  const file = join(dir, "credentials");
  beforeEach(() => {
    writeFileSync(file, "[old]\naws_access_key_id = O\n", { mode: 0o640 });
    chmodSync(file, 0o640);
  });

  it("reading the credentials file's ACL: FILE_UNREADABLE naming the file and the failure, the file left as it is", async () => {
    const error = await readCredentialsTarget(file).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "FILE_UNREADABLE",
      message: `cannot read the POSIX ACL of ${file}: fgetxattr(system.posix_acl_access): Input/output error`,
      hint: expect.stringContaining("dmesg"),
    });
    await expect(writeProfileCredentials(file, "gw", creds)).rejects.toMatchObject({ code: "FILE_UNREADABLE" });
    expect(readFileSync(file, "utf8")).toBe("[old]\naws_access_key_id = O\n");
  });

  it("setting it on the new file: FILE_WRITE_FAILED naming the file and the failure, the file left as it is", async () => {
    const read = vi.spyOn(helper, "accessAcl").mockImplementation(() => anAcl());
    try {
      await expect(writeProfileCredentials(file, "gw", creds)).rejects.toMatchObject({
        code: "FILE_WRITE_FAILED",
        message: `cannot set the POSIX ACL of ${file}: fsetxattr(system.posix_acl_access): Input/output error`,
        hint: expect.stringContaining("dmesg"),
      });
    } finally {
      read.mockRestore();
    }
    expect(readFileSync(file, "utf8")).toBe("[old]\naws_access_key_id = O\n");
  });

  it("the secret-file warning and doctor's ACL check (aclGrants, aclReader): no ACL found, no crash", () => {
    expect(aclGrants(file, 4)).toEqual({ users: [], groups: [] });
    expect(aclReader({ mode: 0o640, owner: process.getuid!() }, file)).toBeUndefined();
  });
});
