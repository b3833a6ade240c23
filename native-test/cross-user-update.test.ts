/**
 * `update` run by root (the victim) and another local account (the attacker, `r15a-…`, created with useradd and
 * removed afterwards) racing it. The rule under test (SECURITY.md, "`update` targets"): a symbolic link on the way
 * to the credentials file is followed only when it belongs to the user or root, so root never rewrites (and gives
 * back to its owner) a file that another user's link names.
 *
 * The attacker keeps creating and removing a link to a file of hers at the name root writes, in a sticky
 * world-writable directory (as /tmp, with fs.protected_symlinks off, or a world-writable directory without the
 * sticky bit, where that sysctl does not apply). Before the fix the link was checked once and the name resolved
 * again for the read, the lock and the write: root then read her file, kept its owner and renamed its own
 * credentials over it, in her directory.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, chownSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { Credentials } from "../src/rolesanywhere/credentials.js";
import { writeProfileCredentials } from "../src/update/write-credentials.js";
import { makeTempDir } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";

const SECRET = "r15a-victim-secret-access-key";
const credentials: Credentials = {
  accessKeyId: "ASIAR15AVICTIM000001",
  secretAccessKey: SECRET,
  sessionToken: "r15a-victim-session-token",
  expiration: new Date(Date.now() + 3600_000),
};

const { dir, cleanup } = makeTempDir("raa-cross-user-update-");
let attacker: LocalUser;
let flipper: ChildProcess | undefined;

beforeAll(() => {
  chmodSync(dir, 0o755);
  attacker = createLocalUser("r15a-mallory", dir);
});

afterAll(() => {
  flipper?.kill("SIGKILL");
  attacker?.remove();
  cleanup();
});

/** The attacker's loop: her symbolic link at `name`, then nothing there, as fast as she can. */
function startFlipper(name: string, target: string): ChildProcess {
  // Mostly there (up to 80 µs), briefly not (up to 8 µs): root's one check must see nothing, its later uses the link.
  const script = [
    `const fs = require("fs"), [to, at] = ${JSON.stringify([target, name])};`,
    "const spin = (us) => { const end = process.hrtime.bigint() + BigInt(Math.floor(Math.random() * us * 1000)); while (process.hrtime.bigint() < end); };",
    "for (;;) { try { fs.symlinkSync(to, at); } catch {} spin(80); try { fs.unlinkSync(at); } catch {} spin(8); }",
  ].join("\n");
  return attacker.spawn(process.execPath, ["-e", script], { stdio: "ignore" });
}

describe.skipIf(!canCreateUsers())("update as root, racing another user's symbolic link", () => {
  for (const [kind, mode] of [["sticky", 0o1777], ["world-writable", 0o777]] as const) {
    it(`never writes root's credentials into the attacker's file (${kind} directory)`, async () => {
      const shared = join(dir, `shared-${kind}`);
      mkdirSync(shared);
      chmodSync(shared, mode);
      const attackerDir = attacker.mkdir(join(dir, `mallory-${kind}`), 0o755);
      const bait = join(attackerDir, "credentials");
      writeFileSync(bait, "[mallory]\nx = 1\n");
      chownSync(bait, attacker.uid, attacker.gid);
      chmodSync(bait, 0o644);
      const name = join(shared, "credentials");
      flipper = startFlipper(name, bait);
      const outcomes = new Map<string, number>();
      let leaked = 0;
      // Before the fix, 3 to 11 of about 3 000 attempts (15 s) leaked, in either directory.
      const deadline = Date.now() + 15_000;
      for (let attempt = 0; attempt < 4000 && Date.now() < deadline; attempt++) {
        const outcome = await writeProfileCredentials(name, "default", credentials).then(
          () => "written",
          (error: { code?: string }) => error.code ?? "other",
        );
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (readFileSync(bait, "utf8").includes(SECRET)) {
          leaked++;
          writeFileSync(bait, "[mallory]\nx = 1\n");
          chownSync(bait, attacker.uid, attacker.gid);
        }
        // Root's own file, when it won the name: removed so that the race goes on.
        const there = lstatSync(name, { throwIfNoEntry: false });
        if (there?.isFile() && there.uid === 0) rmSync(name, { force: true }); // she may have removed it first (no sticky bit)
      }
      flipper.kill("SIGKILL");
      flipper = undefined;
      console.log(`${kind}: ${JSON.stringify(Object.fromEntries(outcomes))}, leaked ${leaked}`);
      expect(lstatSync(bait).uid).toBe(attacker.uid);
      expect(leaked).toBe(0);
      // The race was run: root wrote its own file some of the time, and refused the attacker's link other times.
      expect(outcomes.get("written") ?? 0).toBeGreaterThan(0);
      // …and her link was there to be refused (a flipper that never ran, e.g. setpriv or node unusable by her, would
      // leave every attempt "written" and prove nothing).
      expect(outcomes.get("FILE_UNSAFE") ?? 0).toBeGreaterThan(0);
    });
  }
});

describe.skipIf(!canCreateUsers())("update as root into a directory its group can write", () => {
  const plant = async (path: string) => {
    const r = await attacker.run("sh", ["-c", 'umask 022 && printf "[mallory]\\nx = 1\\n" > "$0"', path]);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(lstatSync(path).uid).toBe(attacker.uid);
  };

  it("refuses a file another user put first in a shared directory of a group she is in (root:her group, 2775)", async () => {
    const shared = join(dir, "shared-group");
    mkdirSync(shared);
    chownSync(shared, 0, attacker.gid);
    chmodSync(shared, 0o2775);
    const planted = join(shared, "credentials");
    await plant(planted);
    await expect(writeProfileCredentials(planted, "default", credentials)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${planted}: it belongs to uid ${attacker.uid} and its directory ${shared} can be written by its group ${attacker.gid}`,
    });
    expect(readFileSync(planted, "utf8")).not.toContain(SECRET);
  });

  it("refuses a file another user put first in root's directory whose POSIX ACL lets her write (u:her:rwx, mode 0775 root:root)", async () => {
    const acl = join(dir, "acl-named-user");
    mkdirSync(acl, { mode: 0o755 });
    execFileSync("setfacl", ["-m", `u:${attacker.uid}:rwx`, acl]); // the mode's group bits are now the ACL's mask: rwx
    const planted = join(acl, "credentials");
    await plant(planted);
    await expect(writeProfileCredentials(planted, "default", credentials)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${planted}: it belongs to uid ${attacker.uid} and its directory ${acl} can be written by uid ${attacker.uid} (its ACL)`,
    });
    expect(readFileSync(planted, "utf8")).not.toContain(SECRET);
  });

  it("refuses her file in a directory of hers made in root's directory whose ACL lets her group write (g:her:rwx)", async () => {
    const acl = join(dir, "acl-named-group");
    mkdirSync(acl, { mode: 0o755 });
    execFileSync("setfacl", ["-m", `g:${attacker.gid}:rwx`, acl]);
    const hers = join(acl, "hers");
    expect(await attacker.run("mkdir", ["-m", "700", hers])).toMatchObject({ code: 0 });
    const planted = join(hers, "credentials");
    await plant(planted);
    await expect(writeProfileCredentials(planted, "default", credentials)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${planted}: it belongs to uid ${attacker.uid} and its directory ${hers} is in ${acl}, which group ${attacker.gid} (its ACL) can write`,
    });
    expect(readFileSync(planted, "utf8")).not.toContain(SECRET);
  });

  it("writes her file in her own directories when the ACL above names her own user-private group (g:her:rwx): nobody else can write there", async () => {
    // Whose account is ours for update's ACL rule is the directory's owner, not root's: her group has only her in it.
    const acl = join(dir, "acl-own-group");
    mkdirSync(acl, { mode: 0o755 });
    chownSync(acl, attacker.uid, attacker.gid);
    execFileSync("setfacl", ["-m", `g:${attacker.gid}:rwx`, acl]);
    const hers = join(acl, "hers");
    expect(await attacker.run("mkdir", ["-m", "700", hers])).toMatchObject({ code: 0 });
    const planted = join(hers, "credentials");
    await plant(planted);
    await writeProfileCredentials(planted, "default", credentials);
    expect(readFileSync(planted, "utf8")).toContain(SECRET);
    expect(lstatSync(planted).uid).toBe(attacker.uid);
  });

  it("refuses a file another user put first in a shared directory of a group only the name service knows (systemd userdb, as LDAP or sssd)", async (ctx) => {
    // A group /etc/group does not have, given by nss-systemd from a drop-in record (removed after): she is its member.
    const gid = 61_800 + (process.pid % 100);
    const record = `/run/userdb/raa-r18-${process.pid}.group`;
    const madeDir = !existsSync("/run/userdb");
    mkdirSync("/run/userdb", { recursive: true });
    writeFileSync(record, JSON.stringify({ groupName: `raa-r18-${process.pid}`, gid, members: [attacker.name] }));
    symlinkSync(record, `/run/userdb/${gid}.group`); // the record by its gid
    onTestFinished(() => {
      rmSync(`/run/userdb/${gid}.group`, { force: true });
      rmSync(record, { force: true });
      if (madeDir) rmSync("/run/userdb", { recursive: true, force: true });
    });
    const known = (() => { try { return execFileSync("getent", ["group", String(gid)], { encoding: "utf8" }); } catch { return ""; } })();
    if (!known.includes(attacker.name) || readFileSync("/etc/group", "utf8").includes(`:${gid}:`)) ctx.skip(); // no nss-systemd here
    const shared = join(dir, "nss-group");
    mkdirSync(shared);
    chownSync(shared, 0, gid);
    chmodSync(shared, 0o2775);
    const planted = join(shared, "credentials");
    const r = await attacker.run("sh", ["-c", 'printf "[mallory]\\nx = 1\\n" > "$0"', planted], { groups: [attacker.gid, gid] });
    expect(r, r.stderr).toMatchObject({ code: 0 });
    await expect(writeProfileCredentials(planted, "default", credentials)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${planted}: it belongs to uid ${attacker.uid} and its directory ${shared} can be written by its group ${gid}`,
    });
    expect(readFileSync(planted, "utf8")).not.toContain(SECRET);
  });

  it("control: nobody's directory whose ACL lets her read only (u:her:r-x; rwx for its owner and root): her file there is written, the file stays hers", async () => {
    const acl = join(dir, "acl-reader");
    mkdirSync(acl, { mode: 0o755 });
    chownSync(acl, 65534, 0);
    // mask rwx: its owner, root and root's group (named too: no other account in it) may write, she may not
    execFileSync("setfacl", ["-m", `u:${attacker.uid}:rx,u:65534:rwx,u:0:rwx,g::rwx,g:0:rwx`, acl]);
    const file = join(acl, "credentials");
    writeFileSync(file, "[mallory]\nx = 1\n");
    chownSync(file, attacker.uid, attacker.gid);
    await writeProfileCredentials(file, "default", credentials);
    expect(readFileSync(file, "utf8")).toContain(SECRET);
    expect(lstatSync(file).uid).toBe(attacker.uid);
  });

  it("control: her own directory of her user-private group (0775 her:her, only she in it) is written, the file stays hers", async () => {
    const own = attacker.mkdir(join(dir, "mallory-upg"), 0o775);
    chmodSync(own, 0o775);
    const file = join(own, "credentials");
    await plant(file);
    await writeProfileCredentials(file, "default", credentials);
    expect(readFileSync(file, "utf8")).toContain(SECRET);
    expect(lstatSync(file).uid).toBe(attacker.uid);
  });

  it("control: another user's file in her user-private-group directory is written (only she could have put it there)", async () => {
    const own = attacker.mkdir(join(dir, "mallory-upg-nobody"), 0o775);
    chmodSync(own, 0o775);
    const file = join(own, "credentials");
    writeFileSync(file, "[nobody]\nx = 1\n");
    chownSync(file, 65534, 65534);
    await writeProfileCredentials(file, "default", credentials);
    expect(readFileSync(file, "utf8")).toContain(SECRET);
  });

  it("control: her file is written where only she could put it: root's 0755 directory of her group, her own directory of a shared group", async () => {
    const closed = join(dir, "root-closed");
    mkdirSync(closed);
    chownSync(closed, 0, attacker.gid);
    chmodSync(closed, 0o755);
    const mine = attacker.mkdir(join(dir, "mallory-nogroup"), 0o775);
    chownSync(mine, attacker.uid, 65534); // nogroup, nobody's group: another account is in it, but she owns the directory
    chmodSync(mine, 0o775);
    for (const file of [join(closed, "credentials"), join(mine, "credentials")]) {
      writeFileSync(file, "[mallory]\nx = 1\n");
      chownSync(file, attacker.uid, attacker.gid);
      await writeProfileCredentials(file, "default", credentials);
      expect(readFileSync(file, "utf8"), file).toContain(SECRET);
    }
  });
});
