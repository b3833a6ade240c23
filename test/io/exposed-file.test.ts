/**
 * A secret file others can read is warned about once per process: a long-running program (the SDK provider, the
 * agent) builds a new file signer at every refresh, and each build warned again, a line on the host's stderr per
 * refresh ("private key file … can be read or changed by other users (mode 644)" every hour, per provider).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { changeableDirectory, exposedFileWarnings, groupShared, warnIfExposed } from "../../src/os/exposed-file.js";
import { exposedWarnings, warningsEmitted } from "../helpers/exposed-warnings.js";

const warnings = exposedWarnings();
const flush = warningsEmitted;

describe("warnIfExposed", () => {
  it("warns once per file and mode in a process, however often the file is read", async () => {
    for (let i = 0; i < 3; i++) warnIfExposed({ mode: 0o100644 }, "/keys/device.key", "private key file");
    await flush();
    expect(warnings).toEqual([
      "private key file /keys/device.key can be read or changed by other users (mode 644): run chmod 600 /keys/device.key",
    ]);
    warnIfExposed({ mode: 0o100640 }, "/keys/device.key", "private key file"); // changed since: told again
    warnIfExposed({ mode: 0o100600 }, "/keys/device.key", "private key file");
    await flush();
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain("(mode 640)");
  });

  it("warns again about a file exposed again after it was fixed (chmod 600, then 644 again)", async () => {
    const path = "/keys/again.key";
    warnIfExposed({ mode: 0o100644 }, path, "private key file");
    warnIfExposed({ mode: 0o100600 }, path, "private key file"); // fixed
    warnIfExposed({ mode: 0o100644 }, path, "private key file"); // exposed again: before, not told
    await flush();
    expect(warnings.filter((line) => line.includes(path))).toHaveLength(2);
  });
});

describe("exposedFileWarnings", () => {
  it("names a file of another user whatever its mode, but not one of this user's or root's", () => {
    // As a user other than root, so that "this user's" and "root's" are two rules.
    const uid = 1000;
    const other = 65534;
    const getuid = vi.spyOn(process, "getuid").mockReturnValue(uid);
    onTestFinished(() => getuid.mockRestore());
    expect(exposedFileWarnings({ mode: 0o100600, owner: other }, "/p/pin", "PIN file")).toEqual([
      `PIN file /p/pin belongs to another user (uid ${other}), who can change it: run chown ${uid} /p/pin`,
    ]);
    expect(exposedFileWarnings({ mode: 0o100600, owner: uid }, "/p/pin", "PIN file")).toEqual([]);
    expect(exposedFileWarnings({ mode: 0o100600, owner: 0 }, "/p/pin", "PIN file")).toEqual([]);
    expect(exposedFileWarnings({}, "-", "PIN")).toEqual([]);
  });

  it("names any group or other permission bit, and none of the owner's", () => {
    for (const mode of [0o100604, 0o100620, 0o100601, 0o100610, 0o100640]) {
      expect(exposedFileWarnings({ mode }, "/k", "key file"), mode.toString(8)).toHaveLength(1);
    }
    expect(exposedFileWarnings({ mode: 0o100700 }, "/k", "key file")).toEqual([]);
  });
});

// Round 30: the system services run as user roles-anywhere and read root's 0640 key or PIN files through the group
// (src/systemd/unit-files.ts, docs/long-running.md). Each start warned, and its "chmod 600" locked the service out.
describe("exposedFileWarnings for a process reading root's file through the file's group", () => {
  // Ids no account of a test machine has: groupShared reads the real /etc/passwd and /etc/group.
  const uid = 61_000;
  const gid = 61_000;
  const service = 61_990;
  function runAs(groups: number[]) {
    const spies = [
      vi.spyOn(process, "getuid").mockReturnValue(uid),
      vi.spyOn(process, "getgid").mockReturnValue(gid),
      vi.spyOn(process, "getgroups").mockReturnValue(groups),
    ];
    onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
  }

  it("no warning for root's 0640 (or 0440, 0650) file of this process's group or of a supplementary group (Node lists the gid among the groups)", () => {
    runAs([gid, service]);
    for (const mode of [0o100640, 0o100440, 0o100650]) {
      expect(exposedFileWarnings({ mode, owner: 0, gid }, "/etc/r/pin", "PIN file"), mode.toString(8)).toEqual([]);
      expect(exposedFileWarnings({ mode, owner: 0, gid: service }, "/etc/r/pin", "PIN file"), mode.toString(8)).toEqual([]);
    }
  });

  it("warns with chmod 640 (not 600, which locks the process out) when others have a bit or the group can write", () => {
    runAs([gid]);
    for (const mode of [0o100644, 0o100660, 0o100641, 0o100670]) {
      const octal = (mode & 0o777).toString(8);
      expect(exposedFileWarnings({ mode, owner: 0, gid }, "/etc/r/key", "private key file")).toEqual([
        `private key file /etc/r/key can be read or changed by other users (mode ${octal}): run chmod 640 /etc/r/key`,
      ]);
    }
  });

  it("warns about root's group-readable file of a group this process is not in, with chgrp to its own group", () => {
    runAs([gid]);
    expect(exposedFileWarnings({ mode: 0o100644, owner: 0, gid: service }, "/etc/r/key", "private key file")).toEqual([
      `private key file /etc/r/key can be read or changed by other users (mode 644): run chgrp ${gid} /etc/r/key && chmod 640 /etc/r/key`,
    ]);
  });

  it("still warns about the process's own 0640 file (the group grants nobody needed access) and another user's", () => {
    runAs([gid]);
    expect(exposedFileWarnings({ mode: 0o100640, owner: uid, gid }, "/home/u/pin", "PIN file")).toEqual([
      "PIN file /home/u/pin can be read or changed by other users (mode 640): run chmod 600 /home/u/pin",
    ]);
    expect(exposedFileWarnings({ mode: 0o100640, owner: 1001, gid }, "/home/v/pin", "PIN file")).toHaveLength(2);
  });

  it("as root: root's 0640 file is exposed to its group (root reads it as owner, not through the group)", () => {
    expect(exposedFileWarnings({ mode: 0o100640, owner: 0, gid: 0 }, "/etc/r/pin", "PIN file")).toEqual([
      "PIN file /etc/r/pin can be read or changed by other users (mode 640): run chmod 600 /etc/r/pin",
    ]);
  });
});

// Round 31: a file is only as safe as its directory. Whoever can write it (no sticky bit) renames another file over the
// PIN file, or plants a link to a file the process reads (a wrong PIN: a strike on the token at each start). Not told.
describe("exposedFileWarnings for a secret file in a directory others can change", () => {
  function scratch(): string {
    const dir = mkdtempSync(join(tmpdir(), "raa-exposed-dir-")); // 0700, in sticky /tmp: not exposed
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
  const secret = (dir: string) => {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "pin");
    writeFileSync(path, "1234\n", { mode: 0o600 });
    return path;
  };
  // nogroup: the primary group of nobody (and sync), accounts other than this process's; 61990: no account's.
  const SHARED_GID = 65_534;
  const LONE_GID = 61_990;
  const line = (path: string, dir: string, mode: string) =>
    `PIN file ${path} is in a directory other users can change (${dir}, mode ${mode}): run chmod go-w ${dir}`;

  it.runIf(process.getuid?.() === 0)("warns for its own directory writable by others or by a group, naming it and chmod go-w; none for 0755 or 0700", () => {
    const dir = join(scratch(), "shared");
    const path = secret(dir);
    expect(exposedFileWarnings({ mode: 0o100600 }, path, "PIN file")).toEqual([]);
    chownSync(dir, process.getuid?.() ?? 0, SHARED_GID);
    for (const [mode, text] of [[0o777, "777"], [0o775, "775"], [0o757, "757"], [0o2775, "2775"]] as const) {
      chmodSync(dir, mode);
      expect(exposedFileWarnings({ mode: 0o100600 }, path, "PIN file")).toEqual([line(path, dir, text)]);
    }
    chmodSync(dir, 0o755);
    expect(exposedFileWarnings({ mode: 0o100600 }, path, "PIN file")).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)("a group-writable directory of a group no other account is in (a user-private group, umask 002) is not exposure", () => {
    const dir = join(scratch(), "upg");
    const path = secret(dir);
    chownSync(dir, process.getuid?.() ?? 0, LONE_GID);
    chmodSync(dir, 0o2775);
    expect(exposedFileWarnings({ mode: 0o100600 }, path, "PIN file")).toEqual([]);
    chmodSync(dir, 0o2777); // others' write bit: exposure whatever the group
    expect(exposedFileWarnings({ mode: 0o100600 }, path, "PIN file")).toEqual([line(path, dir, "2777")]);
  });

  it("a sticky world-writable directory (/tmp's rule) is not exposure; nor a file of standard input or env: (no mode)", () => {
    const dir = join(scratch(), "sticky");
    const path = secret(dir);
    chmodSync(dir, 0o1777);
    expect(exposedFileWarnings({ mode: 0o100600 }, path, "PIN file")).toEqual([]);
    chmodSync(dir, 0o777);
    expect(exposedFileWarnings({}, path, "PIN file")).toEqual([]);
  });

  it("a directory above it that others can write counts (they rename the whole subdirectory): the first one from the file up", () => {
    const top = join(scratch(), "top");
    const path = secret(join(top, "own"));
    chmodSync(top, 0o777);
    chmodSync(join(top, "own"), 0o700);
    expect(exposedFileWarnings({ mode: 0o100600 }, path, "PIN file")).toEqual([line(path, top, "777")]);
  });

  it("a name that is a link, in a safe directory, to a file in a directory others can write: that directory", () => {
    const root = scratch();
    const target = secret(join(root, "open"));
    chmodSync(join(root, "open"), 0o777);
    const path = join(root, "pin-link");
    symlinkSync(target, path);
    expect(exposedFileWarnings({ mode: 0o100600 }, path, "PIN file")).toEqual([line(path, join(root, "open"), "777")]);
  });

  it("every directory a name is looked up in counts: a link's own directory in a chain of links, a directory link's, and where '..' after a link leads", () => {
    const root = scratch();
    const target = secret(join(root, "safe", "secret"));
    mkdirSync(join(root, "open", "sub"), { recursive: true });
    chmodSync(join(root, "open"), 0o777);
    const open = (name: string) => line(join(root, "safe", name), join(root, "open"), "777");
    symlinkSync(target, join(root, "open", "pin")); // anyone can replace this link
    symlinkSync(join(root, "open", "pin"), join(root, "safe", "chain"));
    expect(exposedFileWarnings({ mode: 0o100600 }, join(root, "safe", "chain"), "PIN file")).toEqual([open("chain")]);
    symlinkSync(join(root, "safe", "secret"), join(root, "open", "dir"));
    symlinkSync(join(root, "open", "dir"), join(root, "safe", "dir"));
    expect(exposedFileWarnings({ mode: 0o100600 }, join(root, "safe", "dir", "pin"), "PIN file")).toEqual([open("dir/pin")]);
    symlinkSync(join(root, "open", "sub"), join(root, "safe", "up"));
    const dotdot = `${join(root, "safe", "up")}/../pin`; // the kernel's '..': open, not safe (join would say safe)
    expect(exposedFileWarnings({ mode: 0o100600 }, dotdot, "PIN file")).toEqual([line(dotdot, join(root, "open"), "777")]);
    mkdirSync(join(root, "mid", "sub"), { recursive: true }); // '..' into a safe directory whose name is a link in open
    symlinkSync(join(root, "open", "pin"), join(root, "mid", "pin"));
    symlinkSync(join(root, "mid", "sub"), join(root, "safe", "mid"));
    const viaMid = `${join(root, "safe", "mid")}/../pin`;
    expect(exposedFileWarnings({ mode: 0o100600 }, viaMid, "PIN file")).toEqual([line(viaMid, join(root, "open"), "777")]);
  });

  it.runIf(process.getuid?.() === 0)("root's group-writable directory read through a group nobody else is in is not exposure (as for a file)", () => {
    const uid = 61_000;
    const gid = 61_000;
    const dir = join(scratch(), "service");
    chmodSync(join(dir, ".."), 0o755);
    const path = secret(dir);
    chownSync(dir, 0, gid);
    chmodSync(dir, 0o770);
    const groups = vi.spyOn(process, "getgroups").mockReturnValue([gid]);
    const spies = [vi.spyOn(process, "getuid").mockReturnValue(uid), groups];
    onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
    expect(exposedFileWarnings({ mode: 0o100600, owner: uid }, path, "PIN file")).toEqual([]);
    chmodSync(dir, 0o777); // others' write bit: exposure, the group or not
    expect(exposedFileWarnings({ mode: 0o100600, owner: uid }, path, "PIN file")).toEqual([line(path, dir, "777")]);
    chmodSync(dir, 0o770);
    groups.mockReturnValue([]); // not in the group, which nobody else is in either: nobody else can change it
    expect(exposedFileWarnings({ mode: 0o100600, owner: uid }, path, "PIN file")).toEqual([]);
    chownSync(dir, 0, SHARED_GID); // a group other accounts are in
    expect(exposedFileWarnings({ mode: 0o100600, owner: uid }, path, "PIN file")).toEqual([line(path, dir, "770")]);
  });
});

// Round 34 (M39): without the set of directories seen, a directory two names are looked up through was judged twice,
// and doctor's list of directories whose ACL was not checked held it twice (Stryker: `seen.add` removed survived).
describe("changeableDirectory: each directory judged once", () => {
  it.runIf(process.getuid?.() === 0)("a group-writable directory of a group nobody is in, above a link and its target: asked once", () => {
    const root = mkdtempSync(join(tmpdir(), "raa-exposed-seen-"));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    chmodSync(root, 0o755);
    const g = join(root, "g");
    mkdirSync(join(g, "a"), { recursive: true, mode: 0o755 });
    mkdirSync(join(g, "b"), { mode: 0o755 });
    chownSync(g, 0, 61_996); // a gid no account has
    chmodSync(g, 0o775);
    writeFileSync(join(g, "a", "pin"), "1234\n", { mode: 0o600 });
    symlinkSync(join(g, "a", "pin"), join(g, "b", "link"));
    const asked: { path: string }[] = [];
    expect(changeableDirectory(join(g, "b", "link"), asked)).toBeUndefined();
    expect(asked.map(({ path }) => path)).toEqual([g]);
  });
});

// Round 33: a directory's owner renames what is in it, whatever its mode (R19, with real accounts in native-test too).
describe("exposedFileWarnings for a secret file in a directory owned by another user", () => {
  const scratch = (): string => {
    const dir = mkdtempSync(join(tmpdir(), "raa-exposed-owner-")); // root's 0700 in sticky /tmp (the runner is root)
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o755);
    return dir;
  };
  const line = (path: string, owner: number, dir: string) =>
    `PIN file ${path} is in a directory owned by another user (uid ${owner}, ${dir}), who can replace it: move it to a directory of your own`;
  const warned = (path: string) => exposedFileWarnings({ mode: 0o100600, owner: process.getuid?.() }, path, "PIN file");

  it.runIf(process.getuid?.() === 0)("its own directory or one above, 0755 or sticky 1777, of a user not this process's or root's; before the mode rule", () => {
    const root = scratch();
    const path = join(root, "a", "b", "pin");
    mkdirSync(join(root, "a", "b"), { recursive: true, mode: 0o755 });
    writeFileSync(path, "1234\n", { mode: 0o600 });
    expect(warned(path)).toEqual([]);
    chownSync(join(root, "a"), 61_998, 61_998); // above the file's own: renames b away with the file in it
    expect(warned(path)).toEqual([line(path, 61_998, join(root, "a"))]);
    chownSync(join(root, "a", "b"), 61_997, 61_997); // the nearest is told
    chmodSync(join(root, "a", "b"), 0o1777); // the sticky bit binds others, not the directory's owner; nor does chmod go-w
    expect(warned(path)).toEqual([line(path, 61_997, join(root, "a", "b"))]);
    const getuid = vi.spyOn(process, "getuid").mockReturnValue(61_997); // that user's own directory, under another's
    onTestFinished(() => getuid.mockRestore());
    expect(warned(path)).toEqual([line(path, 61_998, join(root, "a"))]);
    getuid.mockReturnValue(61_998);
    chmodSync(join(root, "a", "b"), 0o755);
    expect(warned(path)).toEqual([line(path, 61_997, join(root, "a", "b"))]);
    getuid.mockRestore();
    chownSync(join(root, "a"), 0, 0);
    chownSync(join(root, "a", "b"), 0, 0);
    expect(warned(path)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)("a link's own directory of another user counts, the target's own directories root's", () => {
    const root = scratch();
    const safe = join(root, "safe");
    const theirs = join(root, "theirs");
    mkdirSync(safe, { mode: 0o755 });
    mkdirSync(theirs, { mode: 0o755 });
    const path = join(safe, "pin");
    writeFileSync(path, "1234\n", { mode: 0o600 });
    symlinkSync(path, join(theirs, "link"));
    chownSync(theirs, 61_998, 61_998);
    expect(warned(join(theirs, "link"))).toEqual([line(join(theirs, "link"), 61_998, theirs)]);
    expect(warned(path)).toEqual([]);
  });
});

// Round 32: Stryker's survivors in the directory rule (lookedUpIn, changeableDirectory, groupShared) and without ids.
describe("exposedFileWarnings: the directories a name is looked up in, and whose group counts (round 32 mutants)", () => {
  function scratch(): string {
    const dir = mkdtempSync(join(tmpdir(), "raa-exposed-m32-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
  const secret = (dir: string) => {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "pin");
    writeFileSync(path, "1234\n", { mode: 0o600 });
    return path;
  };
  const line = (path: string, dir: string, mode: string) =>
    `PIN file ${path} is in a directory other users can change (${dir}, mode ${mode}): run chmod go-w ${dir}`;
  const warned = (path: string) => exposedFileWarnings({ mode: 0o100600 }, path, "PIN file");

  it("a relative link's target is taken from the link's directory; a relative name from the working directory", () => {
    const root = scratch();
    secret(join(root, "open"));
    chmodSync(join(root, "open"), 0o777);
    mkdirSync(join(root, "safe"));
    symlinkSync("../open/pin", join(root, "safe", "pin")); // relative: root/open, not /open
    expect(warned(join(root, "safe", "pin"))).toEqual([line(join(root, "safe", "pin"), join(root, "open"), "777")]);
    const cwd = vi.spyOn(process, "cwd").mockReturnValue(root);
    onTestFinished(() => cwd.mockRestore());
    expect(warned("open/pin")).toEqual([line("open/pin", join(root, "open"), "777")]);
  });

  it("'..' that follows no link is not a directory looked up in: a 0777 directory entered and left by '..' is not named", () => {
    const root = scratch();
    const path = secret(join(root, "safe"));
    mkdirSync(join(root, "safe", "sub"));
    chmodSync(join(root, "safe", "sub"), 0o777); // whoever can write it cannot change what its '..' is
    expect(warned(`${join(root, "safe", "sub")}/../pin`)).toEqual([]);
    expect(path).toBe(join(root, "safe", "pin"));
  });

  it("the file's own directory and those above it come first, before a link's directory elsewhere", () => {
    const root = scratch();
    chmodSync(root, 0o777);
    const target = secret(join(root, "top", "own"));
    chmodSync(join(root, "top"), 0o700);
    chmodSync(join(root, "top", "own"), 0o700);
    mkdirSync(join(root, "open"));
    chmodSync(join(root, "open"), 0o777);
    symlinkSync(target, join(root, "open", "link"));
    const own = join(root, "top", "own", "elsewhere");
    mkdirSync(own);
    chmodSync(own, 0o777);
    const far = secret(own);
    symlinkSync(far, join(root, "open", "far"));
    // The file's directory first (its own, then above it: root), not the link's directory (open) looked up before them.
    expect(warned(join(root, "open", "far"))).toEqual([line(join(root, "open", "far"), own, "777")]);
    expect(warned(join(root, "open", "link"))).toEqual([line(join(root, "open", "link"), root, "777")]);
  });

  it("links past the kernel's 40 (ELOOP) are not followed; a loop of links ends", () => {
    const root = scratch();
    const target = secret(join(root, "open"));
    chmodSync(join(root, "open"), 0o777);
    mkdirSync(join(root, "safe"));
    const chain = (n: number, name: string) => {
      let to = target;
      for (let i = n; i >= 1; i--) {
        const link = join(root, "safe", `${name}${i}`);
        symlinkSync(to, link);
        to = link;
      }
      return to;
    };
    const forty = chain(40, "a");
    expect(warned(forty)).toEqual([line(forty, join(root, "open"), "777")]);
    expect(warned(chain(41, "b"))).toEqual([]); // the kernel opens no such name
    symlinkSync(join(root, "safe", "loop2"), join(root, "safe", "loop1"));
    symlinkSync(join(root, "safe", "loop1"), join(root, "safe", "loop2"));
    expect(warned(join(root, "safe", "loop1"))).toEqual([]);
  });

  it("without process.getuid (not POSIX): no owner rule, chmod 600; without getgroups, root's 0640 file is not read through its group", () => {
    const { getuid, getgroups } = process;
    onTestFinished(() => void Object.assign(process, { getuid, getgroups }));
    process.getuid = undefined;
    const groups = vi.spyOn(process, "getgroups").mockReturnValue([61_000]);
    expect(exposedFileWarnings({ mode: 0o100640, owner: 1000 }, "/k", "key file")).toEqual([
      "key file /k can be read or changed by other users (mode 640): run chmod 600 /k",
    ]);
    // Root's file of a group this process is in, which nobody else is in: without a uid, not "read through the group".
    expect(exposedFileWarnings({ mode: 0o100640, owner: 0, gid: 61_000 }, "/k", "key file")).toEqual([
      "key file /k can be read or changed by other users (mode 640): run chmod 600 /k",
    ]);
    groups.mockRestore();
    process.getuid = () => 61_000;
    process.getgroups = undefined;
    expect(exposedFileWarnings({ mode: 0o100640, owner: 0, gid: 61_000 }, "/k", "key file")).toHaveLength(1);
  });

  it.runIf(process.getuid?.() === 0)("without process.getuid, a directory of a group other accounts are in (nogroup) is still named", () => {
    const dir = join(scratch(), "g");
    const path = secret(dir);
    chmodSync(join(dir, ".."), 0o755);
    chownSync(dir, 0, 65_534);
    chmodSync(dir, 0o775);
    const { getuid } = process;
    onTestFinished(() => void Object.assign(process, { getuid }));
    process.getuid = undefined;
    expect(warned(path)).toEqual([line(path, dir, "775")]);
  });

  it("root's file readable by others, for a process whose own group other accounts are in (nogroup): chown to it and chmod 600", () => {
    const spies = [vi.spyOn(process, "getuid").mockReturnValue(61_000), vi.spyOn(process, "getgid").mockReturnValue(65_534), vi.spyOn(process, "getgroups").mockReturnValue([65_534])];
    onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
    expect(exposedFileWarnings({ mode: 0o100644, owner: 0, gid: 0 }, "/etc/r/key", "private key file")).toEqual([
      "private key file /etc/r/key can be read or changed by other users (mode 644): run chown 61000 /etc/r/key && chmod 600 /etc/r/key",
    ]);
  });

  // groupShared reads the real /etc/passwd and /etc/group: accounts and a group made for the test, removed after it.
  it.runIf(process.getuid?.() === 0)("a group is shared only by accounts other than this process's and root's: its own private group, a group listing only it and root, is not", () => {
    const tag = `raa32-${process.pid.toString(36)}`;
    const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    onTestFinished(() => {
      for (const [cmd, name] of [["userdel", `${tag}u`], ["groupdel", `${tag}g`]]) {
        try {
          sh(cmd!, [name!]);
        } catch {
          // already gone
        }
      }
    });
    sh("useradd", ["--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", `${tag}u`]);
    sh("groupadd", [`${tag}g`]);
    sh("gpasswd", ["-M", `root,${tag}u`, `${tag}g`]);
    const id = (flag: string, name: string) => Number(execFileSync("id", [flag, name], { encoding: "utf8" }).trim());
    const uid = id("-u", `${tag}u`);
    const upg = id("-g", `${tag}u`);
    const listed = Number(execFileSync("getent", ["group", `${tag}g`], { encoding: "utf8" }).split(":")[2]);
    const dir = join(scratch(), "d");
    const path = secret(dir);
    chmodSync(join(dir, ".."), 0o755);
    const getuid = vi.spyOn(process, "getuid").mockReturnValue(uid);
    onTestFinished(() => getuid.mockRestore());
    for (const gid of [upg, listed]) {
      chownSync(dir, 0, gid);
      chmodSync(dir, 0o775);
      expect(warned(path), `gid ${gid} as uid ${uid}`).toEqual([]);
    }
    getuid.mockReturnValue(61_000); // another process: that account is in both groups
    for (const gid of [upg, listed]) {
      chownSync(dir, 0, gid);
      expect(warned(path), `gid ${gid} as uid 61000`).toEqual([line(path, dir, "775")]);
    }
  });

  // Round 32: a group only the name service has (LDAP, sssd; here systemd's userdb, drop-in records removed after it).
  it.runIf(process.getuid?.() === 0)("a group /etc/group does not have is judged by getent: shared when it lists another account, not when it lists only this one (itself only the name service's)", () => {
    const [uid, gid] = [61_850 + (process.pid % 50), 61_950 + (process.pid % 50)];
    const [user, group] = [`raa-r18u-${process.pid}`, `raa-r18g-${process.pid}`];
    const records = { [`${user}.user`]: { userName: user, uid, gid }, [`${group}.group`]: { groupName: group, gid, members: [user] } };
    const made = !existsSync("/run/userdb");
    mkdirSync("/run/userdb", { recursive: true });
    onTestFinished(() => {
      for (const name of [...Object.keys(records), `${uid}.user`, `${gid}.group`]) rmSync(`/run/userdb/${name}`, { force: true });
      if (made) rmSync("/run/userdb", { recursive: true, force: true });
    });
    for (const [name, record] of Object.entries(records)) writeFileSync(`/run/userdb/${name}`, JSON.stringify(record));
    symlinkSync(`/run/userdb/${user}.user`, `/run/userdb/${uid}.user`);
    symlinkSync(`/run/userdb/${group}.group`, `/run/userdb/${gid}.group`);
    const getent = (...key: string[]) => { try { return execFileSync("getent", key, { encoding: "utf8" }); } catch { return ""; } };
    if (!getent("group", `${gid}`).includes(user) || !getent("passwd", `${uid}`).includes(user)) return; // no nss-systemd here
    expect([groupShared(gid, 61_000), groupShared(gid, uid)]).toEqual([true, false]);
  });
});
