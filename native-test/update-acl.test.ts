/**
 * `update` and a POSIX ACL on the credentials file (real `setfacl`/`getfacl`, real accounts made with useradd and
 * removed afterwards, real `update --once` processes run by root against the verifying local endpoint):
 *
 * - a file shared with one user through an ACL (`u:READER:r`, `g::-`: mode 0640, whose group bits are the ACL's
 *   mask) keeps its ACL: the reader still reads it and the file's own group still cannot (before: the rename left
 *   a plain 0640 file, readable by the group the operator had shut out, and no longer by the reader);
 * - a file without an ACL in a directory with a default ACL stays without one (before: the temporary file
 *   inherited the directory's default ACL, so a user it names could read the credentials);
 * - in a user namespace that does not map the user an ACL names (a rootless container's), the kernel shows that
 *   entry's id as 4294967295 and refuses it back (EINVAL): the file is written 0600 without the ACL, with one line
 *   saying so (before: every update failed with "cannot set the POSIX ACL", blaming the file system).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { DIST_CLI, runCli, type CliRun } from "./helpers/run-cli.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";

const ACCOUNT = "111122223333";
const { dir, cleanup } = makeTempDir("raa-update-acl-");
let endpoint: LocalEndpoint;
let leaf: IssuedCertificate;
const users: LocalUser[] = [];

/** Whether setfacl works here (the acl package, and a file system that supports ACLs under the temp dir). */
function aclsWork(): boolean {
  try {
    const probe = join(dir, "probe");
    writeFileSync(probe, "");
    execFileSync("setfacl", ["-m", "u:nobody:r", probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function updateOnce(file: string, launcher: string[] = []): Promise<CliRun> {
  const flags = [
    "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
    "--trust-anchor-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:trust-anchor/acl`,
    "--profile-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:profile/acl`,
    "--role-arn", `arn:aws:iam::${ACCOUNT}:role/Acl`,
    "--endpoint", endpoint.url, "--timeout", "5", "--max-attempts", "1",
  ];
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: "", HOME: dir };
  return runCli(DIST_CLI, ["update", "--once", "--profile", "default", "--credentials-file", file, ...flags], env, 15_000, launcher);
}

const getfacl = (file: string) => execFileSync("getfacl", ["--omit-header", "--numeric", file], { encoding: "utf8" }).trim().split("\n");
const warnings = (r: CliRun) => r.stderr.split("\n").filter((line) => line.includes("warning"));
const reads = async (user: LocalUser, file: string) => (await user.run("cat", [file])).code === 0;

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "ACL Test CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "acl-device" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  chmodSync(dir, 0o755);
});
afterAll(async () => {
  for (const user of users) user.remove();
  await endpoint?.close();
  cleanup();
});

describe.skipIf(!canCreateUsers() || !aclsWork())("update and a POSIX ACL on the credentials file", () => {
  let reader: LocalUser;
  let groupmate: LocalUser;
  beforeAll(() => {
    reader = createLocalUser("a1read", dir);
    groupmate = createLocalUser("a1grp", dir);
    users.push(reader, groupmate);
  });

  it("keeps the ACL: its named reader still reads the file, its own group (shut out by the ACL) still cannot", async () => {
    const shared = mkdirSync(join(dir, "shared"), { mode: 0o755, recursive: true })!;
    const file = join(shared, "credentials");
    writeFileSync(file, "[default]\naws_access_key_id = OLD\n", { mode: 0o600 });
    chownSync(file, 0, groupmate.gid);
    execFileSync("setfacl", ["-m", `u:${reader.uid}:r,g::-`, file]);
    const acl = [`user::rw-`, `user:${reader.uid}:r--`, `group::---`, `mask::r--`, `other::---`];
    expect(getfacl(file)).toEqual(acl);
    expect(statSync(file).mode & 0o777).toBe(0o640); // the mask shows as the group bits
    expect([await reads(reader, file), await reads(groupmate, file)]).toEqual([true, false]);

    const r = await updateOnce(file);
    expect([r.code, warnings(r)]).toEqual([0, []]);
    expect(readFileSync(file, "utf8")).toContain(`aws_access_key_id = ${endpoint.issued.at(-1)!.credentials.accessKeyId}\n`);
    expect(getfacl(file)).toEqual(acl);
    expect([statSync(file).uid, statSync(file).gid, statSync(file).mode & 0o777]).toEqual([0, groupmate.gid, 0o640]);
    expect([await reads(reader, file), await reads(groupmate, file)]).toEqual([true, false]);
  });

  it("a file without an ACL does not take the directory's default ACL: a user it names still cannot read", async () => {
    const defaults = mkdirSync(join(dir, "defaults"), { mode: 0o755, recursive: true })!;
    const file = join(defaults, "credentials");
    writeFileSync(file, "[default]\naws_access_key_id = OLD\n", { mode: 0o640 });
    chmodSync(file, 0o640);
    chownSync(file, 0, groupmate.gid);
    execFileSync("setfacl", ["-d", "-m", `u:${reader.uid}:r`, defaults]); // for files made here from now on
    expect([await reads(reader, file), await reads(groupmate, file)]).toEqual([false, true]);

    const r = await updateOnce(file);
    expect([r.code, warnings(r)]).toEqual([0, []]);
    expect(getfacl(file)).toEqual([`user::rw-`, `group::r--`, `other::---`]);
    expect([await reads(reader, file), await reads(groupmate, file)]).toEqual([false, true]);
  });

  it.each(["u", "g"])("in a user namespace that cannot name the ACL's %s: entry: written 0600 without the ACL, one warning, no failure", async (kind) => {
    const unmapped = mkdirSync(join(dir, `unmapped-${kind}`), { mode: 0o755, recursive: true })!;
    const file = join(unmapped, "credentials");
    writeFileSync(file, "[default]\naws_access_key_id = OLD\n", { mode: 0o600 });
    execFileSync("setfacl", ["-m", `${kind}:${kind === "u" ? reader.uid : reader.gid}:r,g::-`, file]);
    expect(await reads(reader, file)).toBe(true);

    // Only root (0) is mapped: the reader's uid and gid are not, as in a rootless container with the host's file mounted.
    const r = await updateOnce(file, ["unshare", "--user", "--map-root-user"]);
    expect([r.code, r.stderr]).toEqual([0, expect.stringContaining(`credentials file ${file} was readable by its group, and a POSIX ACL it may have cannot be kept (it names a user or group this user namespace does not map) (mode 640); written 600`)]);
    expect(readFileSync(file, "utf8")).toContain(`aws_access_key_id = ${endpoint.issued.at(-1)!.credentials.accessKeyId}\n`);
    expect(getfacl(file)).toEqual([`user::rw-`, `group::---`, `other::---`]);
    expect(await reads(reader, file)).toBe(false);
  });
});
