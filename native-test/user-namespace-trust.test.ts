/**
 * Round 33: the local-trust rules inside real user namespaces (`unshare --user`), where an owner the namespace does not
 * map shows as the overflow uid 65534 (4294967295 in a POSIX ACL's bytes): the host's files mounted into a rootless
 * container, bwrap or flatpak.
 * - Host root not mapped (`--map-current-user`): /, /tmp, /home show 65534. Every secret file warned of its directory
 *   ("owned by another user (uid 65534, /tmp/…)"), and the config file was refused at "/": no fix inside.
 * - Host root mapped (`--map-root-user` run by root): 65534 is another host user's. The lines said "uid 65534" (which
 *   reads as nobody), told to `chown` (EPERM there) or `setfacl -x u:4294967295` (EINVAL beside another such entry);
 *   an ACL entry for an unmapped group was not seen at all.
 * Round 34 (S27):
 * - Host root not mapped: every other host user's path shows 65534 too, so a symbolic link another user planted in /tmp
 *   to her own config was followed as root's, and her config used (its PKCS#11 module would be dlopen()ed). An entry
 *   of 65534 in a sticky directory others can write to is never root's now.
 * - A namespace made inside another: uid_map's outside column is the parent's ids, so `-r` then `--map-current-user`
 *   read "0 0 1" as the host's root mapped and refused `/`; `--map-user=5` then `--map-current-user` ("5 5 1") read
 *   it as unmapped and took another user's directory for root's.
 * The accounts' directories are under the worktree's tmp/ (root's, 0755, not sticky): a directory of root's in /tmp
 * shows 65534 there too, and now counts as another user's.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SOFTHSM_MODULE } from "./helpers/softhsm-fixture.js";
import { canCreateUsers } from "./helpers/local-user.js";
import { asUser, canUnshare as canUnshareWith, unreachableConfig, userNamespaceAccounts } from "./helpers/user-namespace.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const canUnshare = canUnshareWith();
// root's 0755 directory, not in /tmp; what is made in /tmp: accounts.inTmp
const accounts = userNamespaceAccounts("raa-userns-", { alice: "raa20a", bob: "raa20b", mal: "raa21m" }, { usable: canCreateUsers() && canUnshare, leaf: { ca: "Userns CA", name: "userns-device" } });
const { dir, users: { alice, bob, mal }, keyAt } = accounts;

const WARNING = "roles-anywhere-agent: warning: ";
const OUTSIDE = "a user outside this user namespace";
const asRootMapped = ["unshare", "--user", "--map-root-user"];
const sign = (key: string, launcher: string[], HOME = dir) =>
  runCli(DIST_CLI, ["sign-string", "--certificate", accounts.leaf.certPath, "--private-key", key, "abc"], { PATH: process.env["PATH"], HOME }, 90_000, launcher);
const configFor = (key: string) => unreachableConfig(accounts.leaf.certPath, key);

/** bob's key and config (endpoint 127.0.0.1:1: a config that is used ends in "cannot connect", exit 7), in his home. */
const bobsConfig = () => {
  const config = join(bob.home, "config.json");
  writeFileSync(config, configFor(keyAt(join(bob.home, "key.pem"), bob)), { mode: 0o600 });
  chownSync(config, bob.uid, bob.gid);
  return config;
};
const credentials = (config: string, launcher: string[], HOME = dir) =>
  runCli(DIST_CLI, ["credential-process", "--config", config, "--profile", "p"], { PATH: process.env["PATH"], HOME }, 90_000, launcher);
const USED = "cannot connect to endpoint http://127.0.0.1:1";

describe.runIf(canCreateUsers() && canUnshare)("the local-trust rules in a user namespace (real unshare, real accounts)", () => {
  it("host root not mapped (--map-current-user): bob's own key and config in his home are used without a word", async () => {
    const key = keyAt(join(bob.home, "key.pem"), bob);
    const config = join(bob.home, "config.json");
    writeFileSync(config, configFor(key), { mode: 0o600 });
    chownSync(config, bob.uid, bob.gid);
    const inside = asUser(bob, "--map-current-user");
    const seen = execFileSync(inside[0]!, [...inside.slice(1), "stat", "-c", "%u", "/", dir], { encoding: "utf8" });
    expect(seen).toBe("65534\n65534\n"); // what the rules see: root's directories as an unmapped owner

    let r = await sign(key, inside, bob.home);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(""); // was: "… is in a directory owned by another user (uid 65534, DIR) …"
    r = await runCli(DIST_CLI, ["credential-process", "--config", config, "--profile", "p"], { PATH: process.env["PATH"], HOME: bob.home }, 90_000, inside);
    // Was: "config … was not used: directory / belongs to uid 65534, not to this user (N) or root", code 3.
    expect(r.stderr).toContain("cannot connect to endpoint http://127.0.0.1:1");
    expect(r.code).toBe(7);
  });

  it("host root mapped: alice's directory and file are another user's, told as outside the namespace, with fixes that work there", async () => {
    const alicesDir = alice.mkdir(join(dir, "alice-keys"), 0o755);
    const inAlices = keyAt(join(alicesDir, "key.pem"), undefined);
    let r = await sign(inAlices, asRootMapped);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`${WARNING}private key file ${inAlices} is in a directory owned by another user (uid 65534, ${OUTSIDE}, ${alicesDir}), who can replace it: move it to a directory of your own\n`);

    const ours = join(dir, "ours");
    mkdirSync(ours, { mode: 0o755 });
    const alicesKey = keyAt(join(ours, "alices.pem"), alice, 0o644); // root in there reads no 0600 file of hers
    r = await sign(alicesKey, asRootMapped);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${WARNING}private key file ${alicesKey} belongs to another user (uid 65534, ${OUTSIDE}), who can change it: copy it to a file of your own\n`);
    // The fix it no longer gives: root in the namespace cannot chown a file of an unmapped owner.
    expect(() => execFileSync("unshare", ["--user", "--map-root-user", "chown", "0", alicesKey], { stdio: "ignore" })).toThrow();

    const config = join(alicesDir, "config.json");
    writeFileSync(config, configFor(join(ours, "k.pem")), { mode: 0o644 });
    r = await runCli(DIST_CLI, ["credential-process", "--config", config, "--profile", "p"], { PATH: process.env["PATH"], HOME: dir }, 90_000, asRootMapped);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`directory ${alicesDir} belongs to uid 65534, ${OUTSIDE}, not to this user (0) or root`);
  });

  it("host root mapped: a directory's ACL entries for unmapped users or groups are told with setfacl -b, which works inside (-x does not)", async () => {
    for (const entries of [`u:${alice.uid}:rwx,u:${bob.uid}:rwx`, `g:${alice.gid}:rwx`]) {
      const shared = join(dir, `shared-${entries.length}`);
      mkdirSync(shared, { mode: 0o775 });
      chmodSync(shared, 0o775);
      execFileSync("setfacl", ["-m", entries, shared]);
      const key = keyAt(join(shared, "key.pem"), undefined);
      const entry = entries.startsWith("u:") ? `u:4294967295, ${OUTSIDE}` : "g:4294967295, a group outside this user namespace";
      let r = await sign(key, asRootMapped);
      expect(r.code, r.stderr).toBe(0);
      // Was, for the group: nothing (an unmapped group's members are unknown, not none).
      expect(r.stderr).toBe(`${WARNING}private key file ${key} is in a directory other users can change (${shared}, mode 775, ACL entry ${entry}): run setfacl -b ${shared}\n`);
      if (entries.startsWith("u:")) {
        // What the line said before: setfacl -x cannot write back the ACL's other unmapped entry.
        expect(() => execFileSync("unshare", ["--user", "--map-root-user", "setfacl", "-x", "u:4294967295", shared], { stdio: "ignore" })).toThrow();
      }
      execFileSync("unshare", ["--user", "--map-root-user", "setfacl", "-b", shared]); // the fix, run in there
      r = await sign(key, asRootMapped);
      expect(r.stderr).toBe(""); // 0775 root:root, a group no other account is in
    }
  });

  it("host root not mapped: another user's link in /tmp, or her directory there, is not root's (S27)", async () => {
    const asBob = asUser(bob);
    const inside = [...asBob, "unshare", "--user", "--map-current-user"];
    const evil = mal.mkdir(join(dir, "mal-evil"), 0o755);
    const malsConfig = join(evil, "config.json");
    writeFileSync(malsConfig, configFor(keyAt(join(evil, "key.pem"), mal, 0o644)), { mode: 0o644 });
    chownSync(malsConfig, mal.uid, mal.gid);
    const planted = join(tmpdir(), `${mal.name}-config.json`);
    accounts.inTmp(planted);
    expect((await mal.run("ln", ["-s", malsConfig, planted])).code).toBe(0);

    let r = await credentials(planted, asBob, bob.home);
    expect(r.stderr).toContain(`symbolic link ${planted} belongs to uid ${mal.uid}, not to this user (${bob.uid}) or root`);
    expect(r.code).toBe(3);
    r = await credentials(planted, inside, bob.home);
    // Was: exit 7, "cannot connect to endpoint …": mal's config used (its pkcs11-lib would be dlopen()ed as bob).
    expect(r.stderr).toContain(`symbolic link ${planted} belongs to uid 65534, ${OUTSIDE}, not to this user (${bob.uid}) or root`);
    expect(r.code).toBe(3);

    const malsTmp = mal.mkdir(join(tmpdir(), `${mal.name}-dir`), 0o755);
    accounts.inTmp(malsTmp);
    writeFileSync(join(malsTmp, "config.json"), readFileSync(malsConfig), { mode: 0o644 });
    chownSync(join(malsTmp, "config.json"), mal.uid, mal.gid);
    r = await credentials(join(malsTmp, "config.json"), inside, bob.home);
    expect(r.stderr).toContain(`directory ${malsTmp} belongs to uid 65534, ${OUTSIDE}, not to this user (${bob.uid}) or root`); // was: used
    expect(r.code).toBe(3);

    // bob's own link in /tmp: his id is mapped, used as before.
    const own = join(tmpdir(), `${bob.name}-config.json`);
    accounts.inTmp(own);
    expect((await bob.run("ln", ["-s", bobsConfig(), own])).code).toBe(0);
    r = await credentials(own, inside, bob.home);
    expect(r.stderr).toContain(USED);
    expect(r.code).toBe(7);
    // What it costs: a directory of the host's root in /tmp looks the same as mal's in there, and is refused too.
    const rootsTmp = mkdtempSync(join(tmpdir(), "raa-userns-"));
    accounts.inTmp(rootsTmp);
    chmodSync(rootsTmp, 0o755);
    symlinkSync(join(bob.home, "config.json"), join(rootsTmp, "config.json"));
    r = await credentials(join(rootsTmp, "config.json"), inside, bob.home);
    expect(r.stderr).toContain(`directory ${rootsTmp} belongs to uid 65534, ${OUTSIDE}, not to this user (${bob.uid}) or root`);
  });

  it("whether the host's root is mapped, one or two namespaces deep: bob's own config is used where it is not, alice's directory refused where it is", async () => {
    const U = ["unshare", "--user"];
    const notMapped: [string, string[]][] = [
      ["--map-current-user", [...U, "--map-current-user"]],
      ["--map-root-user", [...U, "--map-root-user"]],
      ["-r, then --map-current-user (uid_map 0 0 1)", [...U, "--map-root-user", ...U, "--map-current-user"]], // was: refused at /
      ["-r, then -r (uid_map 0 0 1)", [...U, "--map-root-user", ...U, "--map-root-user"]], // was: refused at /
      ["--map-current-user, then -r", [...U, "--map-current-user", ...U, "--map-root-user"]],
      ["-r, then --map-current-user with its own pid namespace and /proc", [...U, "--map-root-user", ...U, "--map-current-user", "--pid", "--fork", "--mount-proc"]], // was: refused at /
    ];
    const config = bobsConfig();
    for (const [name, launcher] of notMapped) {
      const r = await credentials(config, [...asUser(bob), ...launcher], bob.home);
      expect(r.stderr, name).toContain(USED);
      expect(r.code, name).toBe(7);
    }
    const alicesDir = alice.mkdir(join(dir, "alice-config"), 0o755);
    writeFileSync(join(alicesDir, "config.json"), configFor(join(dir, "k.pem")), { mode: 0o644 });
    const mapped: [string, string[]][] = [
      ["root's -r", [...U, "--map-root-user"]],
      ["root's -r, then --map-current-user", [...U, "--map-root-user", ...U, "--map-current-user"]],
      ["root as 5, then --map-current-user (uid_map 5 5 1)", [...U, "--map-user=5", "--map-group=5", ...U, "--map-current-user"]], // was: used
    ];
    for (const [name, launcher] of mapped) {
      const r = await credentials(join(alicesDir, "config.json"), launcher);
      expect(r.stderr, name).toContain(`directory ${alicesDir} belongs to uid 65534, ${OUTSIDE}, not to this user (`);
      expect(r.code, name).toBe(3);
    }
  });

  it("host root not mapped: what still counts as root's (decided in round 34): root's module through root's links, root's config, root's file in the user's own directory", async () => {
    const inside = asUser(bob, "--map-current-user");
    const pkcs11Config = (module: string) => JSON.stringify({
      version: 1,
      profiles: { p: { ...JSON.parse(configFor("unused")).profiles.p, "private-key": undefined, certificate: "pkcs11:token=raa-none;object=x", "pkcs11-lib": module } },
    });
    // The host root's link (/usr/lib/softhsm/libsofthsm2.so -> ../x86_64-linux-gnu/softhsm/…) and directories, all 65534.
    const roots = join(dir, "roots");
    mkdirSync(roots, { mode: 0o755 });
    writeFileSync(join(roots, "config.json"), pkcs11Config(SOFTHSM_MODULE), { mode: 0o644 }); // root's, as in /etc
    let r = await credentials(join(roots, "config.json"), inside, bob.home);
    expect(r.stderr).toContain(`C_Initialize of the PKCS#11 module ${SOFTHSM_MODULE}`); // loaded: past every check
    // A file root left in the user's directory (a `sudo` that kept HOME): root's outside, so inside too; refusing it
    // would stop only what mal cannot do (she cannot put a file in bob's 0700 directory).
    const leftover = join(bob.home, "roots-config.json");
    writeFileSync(leftover, configFor(keyAt(join(bob.home, "key.pem"), bob)), { mode: 0o644 });
    r = await credentials(leftover, inside, bob.home);
    expect(r.stderr).toContain(USED);
    expect(r.code).toBe(7);
    // The same module in mal's directory in /tmp: hers (was: dlopen()ed as bob).
    const malsTmp = mal.mkdir(join(tmpdir(), `${mal.name}-module`), 0o755);
    accounts.inTmp(malsTmp);
    copyFileSync(realpathSync(SOFTHSM_MODULE), join(malsTmp, "module.so"));
    chownSync(join(malsTmp, "module.so"), mal.uid, mal.gid);
    writeFileSync(join(roots, "mals-module.json"), pkcs11Config(join(malsTmp, "module.so")), { mode: 0o644 });
    r = await credentials(join(roots, "mals-module.json"), inside, bob.home);
    expect(r.stderr).toContain(`directory ${malsTmp} belongs to uid 65534, ${OUTSIDE}, not to this user (${bob.uid}) or root`);
    expect(r.stderr).toContain("it was not loaded");
    expect(r.code).toBe(3);
  });

  it("outside any namespace nothing changes: 65534 is nobody, another user", async () => {
    const nobodysDir = join(dir, "nobodys");
    mkdirSync(nobodysDir, { mode: 0o755 });
    chownSync(nobodysDir, 65534, 65534);
    const key = keyAt(join(nobodysDir, "key.pem"), undefined);
    const r = await sign(key, []);
    expect(r.stderr).toBe(`${WARNING}private key file ${key} is in a directory owned by another user (uid 65534, ${nobodysDir}), who can replace it: move it to a directory of your own\n`);
  });
});
