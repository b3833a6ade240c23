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
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync, chownSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
