/**
 * Round 32: the secret-file warning sees POSIX ACLs (R18 showed it did not, with real accounts). A service account
 * (`raa32s-…`) reads root's 0640 key through its group; a second account (`raa32b-…`) is given the key, or root's
 * directory, by `setfacl` alone: the mode still reads 0640 / 0775 of a group it is not in, and nothing was said.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const { dir, cleanup } = makeTempDir("raa-exposed-acl-");
let service: LocalUser;
let bob: LocalUser;
let leaf: IssuedCertificate;

beforeAll(() => {
  chmodSync(dir, 0o755);
  service = createLocalUser("raa32s", dir);
  bob = createLocalUser("raa32b", dir);
  leaf = issueLeaf(createCa(join(dir, "ca"), { name: "ACL CA" }), join(dir, "leaf"), { name: "acl-device" });
  chmodSync(leaf.certPath, 0o644);
});
afterAll(() => {
  service?.remove();
  bob?.remove();
  cleanup();
});

const WARNING = "roles-anywhere-agent: warning: ";

describe.runIf(canCreateUsers())("POSIX ACLs on a secret file and its directory (real accounts, setfacl)", () => {
  it("root's 0640 key of the service's group with u:bob:r: bob reads it, and the service's signer warns (was: nothing)", async () => {
    const keyDir = join(dir, "service-keys");
    mkdirSync(keyDir, { mode: 0o755 });
    const key = join(keyDir, "device.key");
    writeFileSync(key, readFileSync(leaf.keyPath));
    chownSync(key, 0, service.gid);
    chmodSync(key, 0o640);
    const asService = ["setpriv", "--reuid", String(service.uid), "--regid", String(service.gid), "--clear-groups"];
    const sign = () => runCli(DIST_CLI, ["sign-string", "--certificate", leaf.certPath, "--private-key", key], { PATH: process.env["PATH"], HOME: service.home }, 90_000, asService);

    let r = await sign();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(""); // the service's own setup: no warning

    execFileSync("setfacl", ["-m", `u:${bob.name}:r,u:root:r,u:${service.name}:r`, key]); // root and the service are no others
    expect(execFileSync("stat", ["-c", "%a", key], { encoding: "utf8" }).trim()).toBe("640");
    expect((await bob.run("cat", [key])).stdout).toContain("PRIVATE KEY");
    r = await sign();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`${WARNING}private key file ${key} can be read by other users through its ACL (entry u:${bob.uid}): run setfacl -x u:${bob.uid} ${key}\n`);

    execFileSync("setfacl", ["-x", `u:${bob.uid}`, key]); // as the line says: silent, and bob reads no more
    r = await sign();
    expect(r.stderr).toBe("");
    expect((await bob.run("cat", [key])).code).not.toBe(0);
  });

  it("root's key in root:root drwxrwxr-x+ with u:bob:rwx: bob renames the key away, and root's signer warns (was: nothing)", async () => {
    const keyDir = join(dir, "acl-dir");
    mkdirSync(keyDir, { mode: 0o755 });
    const key = join(keyDir, "key.pem");
    writeFileSync(key, readFileSync(leaf.keyPath), { mode: 0o600 });
    const sign = () => runCli(DIST_CLI, ["sign-string", "--certificate", leaf.certPath, "--private-key", key], { PATH: process.env["PATH"], HOME: dir });

    execFileSync("setfacl", ["-m", `u:${bob.name}:rwx`, keyDir]);
    expect(execFileSync("ls", ["-ld", keyDir], { encoding: "utf8" })).toMatch(/^drwxrwxr-x\+ \d+ root root /);
    let r = await sign();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`${WARNING}private key file ${key} is in a directory other users can change (${keyDir}, mode 775, ACL entry u:${bob.uid}): run setfacl -x u:${bob.uid} ${keyDir}\n`);
    expect((await bob.run("mv", [key, join(keyDir, "taken.pem")])).code).toBe(0); // it could be any file

    execFileSync("setfacl", ["-x", `u:${bob.uid}`, keyDir]); // as the line says: silent, and bob renames no more
    writeFileSync(key, readFileSync(leaf.keyPath), { mode: 0o600 });
    r = await sign();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect((await bob.run("mv", [key, join(keyDir, "again.pem")])).code).not.toBe(0);
  });
});
