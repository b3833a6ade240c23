/**
 * Round 33: a secret file in a directory owned by another user (not root, not the process's), even at 0755, is the
 * owner's to rename away and replace: a wrong PIN (a strike on the token at each start), or their own key (the agent
 * signs as them). Nothing was said (R19 showed it with real accounts): the directory rule looked at write bits only.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const { dir, cleanup } = makeTempDir("raa-exposed-owner-");
let alice: LocalUser;
let bob: LocalUser;
let leaf: IssuedCertificate;
let bobs: IssuedCertificate;

beforeAll(() => {
  chmodSync(dir, 0o755);
  alice = createLocalUser("raa33a", dir);
  bob = createLocalUser("raa33b", dir);
  leaf = issueLeaf(createCa(join(dir, "ca"), { name: "Owner CA" }), join(dir, "leaf"), { name: "root-device" });
  bobs = issueLeaf(createCa(join(dir, "bob-ca"), { name: "Bob CA" }), join(dir, "bob-leaf"), { name: "bob-device" });
  for (const path of [leaf.certPath, bobs.keyPath]) chmodSync(path, 0o644);
});
afterAll(() => {
  alice?.remove();
  bob?.remove();
  cleanup();
});

const WARNING = "roles-anywhere-agent: warning: ";
const line = (key: string, owner: number, where: string) =>
  `${WARNING}private key file ${key} is in a directory owned by another user (uid ${owner}, ${where}), who can replace it: move it to a directory of your own\n`;

describe.runIf(canCreateUsers())("a secret file in a directory of another user (real accounts)", () => {
  it("root's 0600 key in bob's 0755 directory: bob puts his own key in its place, and root's signer warns (was: nothing)", async () => {
    const keyDir = bob.mkdir(join(dir, "bob-dir"), 0o755);
    const key = join(keyDir, "key.pem");
    writeFileSync(key, readFileSync(leaf.keyPath), { mode: 0o600 });
    const sign = () => runCli(DIST_CLI, ["sign-string", "--certificate", leaf.certPath, "--private-key", key, "abc"], { PATH: process.env["PATH"], HOME: dir });

    let r = await sign();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(line(key, bob.uid, keyDir));
    // What the line warns of: bob cannot read or write root's key, yet renames it away and puts his own there.
    expect((await bob.run("cat", [key])).code).not.toBe(0);
    expect((await bob.run("mv", [key, join(keyDir, "taken.pem")])).code).toBe(0);
    expect((await bob.run("cp", [bobs.keyPath, key])).code).toBe(0);
    r = await sign();
    expect(r.stderr).toContain(`private key file ${key} belongs to another user (uid ${bob.uid})`); // now his file too

    const ours = join(dir, "root-dir"); // as the line says: in root's own directory, silent
    mkdirSync(ours, { mode: 0o755 });
    writeFileSync(join(ours, "key.pem"), readFileSync(leaf.keyPath), { mode: 0o600 });
    r = await runCli(DIST_CLI, ["sign-string", "--certificate", leaf.certPath, "--private-key", join(ours, "key.pem"), "abc"], { PATH: process.env["PATH"], HOME: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("alice's 0600 key in her directory under bob's 0755 one: bob renames her directory away; her signer warns naming bob's, her own home is fine", async () => {
    const bobsDir = bob.mkdir(join(dir, "bob-top"), 0o755);
    const keyDir = alice.mkdir(join(bobsDir, "alice-keys"), 0o700);
    const key = join(keyDir, "key.pem");
    writeFileSync(key, readFileSync(leaf.keyPath), { mode: 0o600 });
    chownSync(key, alice.uid, alice.gid);
    const asAlice = ["setpriv", "--reuid", String(alice.uid), "--regid", String(alice.gid), "--clear-groups"];
    const sign = (path: string) => runCli(DIST_CLI, ["sign-string", "--certificate", leaf.certPath, "--private-key", path, "abc"], { PATH: process.env["PATH"], HOME: alice.home }, 90_000, asAlice);

    let r = await sign(key);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(line(key, bob.uid, bobsDir));
    expect((await bob.run("mv", [keyDir, join(bobsDir, "gone")])).code).toBe(0); // a directory above is as good

    const home = join(alice.home, "key.pem"); // her own 0700 home in root's 0755 directory
    writeFileSync(home, readFileSync(leaf.keyPath), { mode: 0o600 });
    chownSync(home, alice.uid, alice.gid);
    r = await sign(home);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
  });
});
