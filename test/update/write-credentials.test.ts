import { afterAll, describe, expect, it, vi } from "vitest";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { chmodSync, chownSync, cpSync, existsSync, linkSync, lchownSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { constants, lutimesSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { createServer } from "node:net";
import { hostname } from "node:os";
import { buildSync } from "esbuild";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/io/atomic-write.js";
import { absoluteHome } from "../../src/io/trusted-path.js";
import { readCredentialsTarget } from "../../src/update/credentials-target.js";
import { holdFileLock, withFileLock } from "../../src/io/file-lock.js";
import { sharedCredentialsPath, writeProfileCredentials } from "../../src/update/write-credentials.js";
import { credentialsFileUpdater } from "../../src/update/file-updater.js";
import type { Credentials } from "../../src/rolesanywhere/credentials.js";
import { InputError } from "../../src/errors.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { workOf } from "../helpers/work-counted.js";
import { main } from "../../src/cli/main.js";

const creds = (id: string): Credentials => ({
  accessKeyId: id,
  secretAccessKey: `secret-${id}`,
  sessionToken: `token-${id}`,
  expiration: new Date(Date.now() + 3600_000),
});

describe("credentials file writing", () => {
  const { dir, cleanup } = makeTempDir("raa-update-");
  afterAll(cleanup);

  it("writes atomically with mode 0600 and creates a missing directory with mode 0700", async () => {
    const path = join(dir, "new-aws", ".aws", "credentials");
    await writeProfileCredentials(path, "default", creds("A1"));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "new-aws", ".aws")).mode & 0o777).toBe(0o700);
    expect(readFileSync(path, "utf8")).toContain("aws_access_key_id = A1\n");
    expect(readdirSync(join(dir, "new-aws", ".aws"))).toEqual(["credentials"]); // no temp or lock file left
  });

  it("leaves no descriptor open: the temporary file's, the directory's, the lock's", async () => {
    const path = join(dir, "descriptors");
    const open = () => readdirSync("/proc/self/fd").length;
    await writeProfileCredentials(path, "default", creds("D1")); // modules loaded, the first write's descriptors gone
    const before = open();
    for (const id of ["D2", "D3", "D4"]) await writeProfileCredentials(path, "default", creds(id));
    expect(open()).toBe(before);
  });

  it("without the checked walk (no uid), missing directories are still 0700 under umask 777 (were d---------)", async () => {
    const path = join(dir, "no-walk", ".aws", "credentials");
    const geteuid = process.geteuid;
    const before = process.umask(0o777);
    process.geteuid = undefined;
    try {
      await writeProfileCredentials(path, "default", creds("A2"));
    } finally {
      process.geteuid = geteuid;
      process.umask(before);
    }
    const made = [join(dir, "no-walk"), join(dir, "no-walk", ".aws")];
    expect(made.map((d) => statSync(d).mode & 0o777)).toEqual([0o700, 0o700]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("a file where a directory should be is named as such (was: 'cannot create directory …/pf: EEXIST')", async () => {
    const file = join(dir, "pf");
    writeFileSync(file, "not a directory\n");
    for (const path of [join(file, "credentials"), join(file, "sub", "credentials")]) {
      for (const write of [() => writeProfileCredentials(path, "default", creds("F1")), () => writeFileAtomic(path, "x")]) {
        const e = await write().then(() => undefined, (error: unknown) => error as InputError);
        expect(e).toBeInstanceOf(InputError);
        expect(e?.code).toBe("FILE_WRITE_FAILED");
        expect(e?.message).toBe(`cannot create directory ${join(path, "..")}: ${file} is a file, not a directory`);
        expect(e?.hint).toContain(`move ${file} out of the way`);
      }
    }
    expect(readFileSync(file, "utf8")).toBe("not a directory\n");
  });

  it("writeFileAtomic given a symbolic link (no checked walk: no shownAs) writes the file it names, the link stays", async () => {
    const real = join(dir, "atomic-real");
    writeFileSync(real, "old");
    const link = join(dir, "atomic-link");
    symlinkSync(real, link);
    await writeFileAtomic(link, "new", 0o600, { replaces: (await readCredentialsTarget(link)).identity });
    expect([readFileSync(real, "utf8"), lstatSync(link).isSymbolicLink()]).toEqual(["new", true]);
  });

  it("writes through a symlink and keeps the link", async () => {
    const real = join(dir, "real-credentials");
    writeFileSync(real, "[keep]\nx = 1\n");
    const linkPath = join(dir, "linked-credentials");
    symlinkSync(real, linkPath);
    await writeProfileCredentials(linkPath, "gw", creds("L1"));
    expect(readFileSync(real, "utf8")).toBe("[keep]\nx = 1\n\n[gw]\naws_access_key_id = L1\naws_secret_access_key = secret-L1\naws_session_token = token-L1\n");
    expect(statSync(linkPath).isFile()).toBe(true);
  });

  it("leaves the target and no temporary file behind when the final rename fails", async () => {
    const parent = join(dir, "rename-fails");
    const target = join(parent, "credentials");
    mkdirSync(join(target, "occupied"), { recursive: true }); // a non-empty directory cannot be renamed over
    await expect(writeFileAtomic(target, "new")).rejects.toMatchObject({ code: "FILE_WRITE_FAILED" });
    expect(readdirSync(parent)).toEqual(["credentials"]);
    expect(readdirSync(target)).toEqual(["occupied"]);
  });

  it("removes the temporary files that writers killed mid-write left, and only those (before: they stayed for good)", async () => {
    // Each is a full copy of the credentials file; SIGKILL, or SIGTERM to `update --once`, between the temporary
    // file's creation and its rename left one more in ~/.aws, never removed.
    const parent = join(dir, "leftovers");
    mkdirSync(parent);
    const old = new Date(Date.now() - 120_000);
    const leftover = (name: string, when = old) => {
      writeFileSync(join(parent, name), "[p]\naws_secret_access_key = left\n", { mode: 0o600 });
      utimesSync(join(parent, name), when, when);
      return name;
    };
    leftover(".credentials.999999999.0123456789ab.tmp"); // its process is gone: removed
    const kept = [
      leftover(".credentials.999999998.0123456789ab.tmp", new Date()), // maybe a writer on another host: kept
      leftover(`.credentials.${process.pid}.0123456789ab.tmp`), // a writer still running
      leftover(".credentials.999999997.0123456789ab.tmp.bak"), // not one of ours
      leftover(".other.999999996.0123456789ab.tmp"), // another file's
    ];
    await writeProfileCredentials(join(parent, "credentials"), "p", creds("AKIAFRESH"));
    expect(readdirSync(parent).sort()).toEqual(["credentials", ...kept].sort());
  });

  it("leaves a name like a leftover alone when it is not this user's regular file (a link, another user's file)", async () => {
    const parent = join(dir, "not-leftovers");
    mkdirSync(parent);
    const old = new Date(Date.now() - 120_000);
    const link = ".credentials.999999995.0123456789ab.tmp";
    symlinkSync("credentials", join(parent, link));
    lutimesSync(join(parent, link), old, old);
    const kept = [link];
    if (process.geteuid?.() === 0) {
      // Root cleaning up must not delete what another user put in the directory under that name.
      const theirs = ".credentials.999999994.0123456789ab.tmp";
      writeFileSync(join(parent, theirs), "hers", { mode: 0o600 });
      chownSync(join(parent, theirs), 65534, 65534);
      utimesSync(join(parent, theirs), old, old);
      kept.push(theirs);
    }
    await writeProfileCredentials(join(parent, "credentials"), "p", creds("AKIAFRESH"));
    expect(readdirSync(parent).sort()).toEqual(["credentials", ...kept].sort());
  });

  it("reads no FIFO nor socket as the credentials file: each named, by the type seen before opening", async () => {
    const fifo = join(dir, "fifo-credentials");
    execFileSync("mkfifo", [fifo]);
    const socket = join(dir, "socket-credentials");
    const server = await new Promise<import("node:net").Server>((resolve) => {
      const s = createServer().listen(socket, () => resolve(s));
    });
    try {
      const hint = "point --credentials-file (or AWS_SHARED_CREDENTIALS_FILE) at a regular file, or at a path that does not exist yet";
      for (const [path, kind] of [[fifo, "a FIFO"], [socket, "a socket"]] as const) {
        await expect(readCredentialsTarget(path)).rejects.toMatchObject({
          code: "FILE_NOT_REGULAR", message: `${path} is not a regular file (it is ${kind}); it was left as it is`, hint,
        });
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("replaces the target only if it is still the file that was read (a FIFO swapped in is left alone)", async () => {
    const target = join(dir, "swapped");
    writeFileSync(target, "[a]\nk = v\n");
    const read = await readCredentialsTarget(target);
    rmSync(target);
    execFileSync("mkfifo", [target]);
    await expect(writeFileAtomic(target, "new", 0o600, { replaces: read.identity })).rejects.toMatchObject({ code: "FILE_WRITE_FAILED", message: expect.stringMatching(/changed while it was being updated/) });
    expect(lstatSync(target).isFIFO()).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes("swapped"))).toEqual(["swapped"]);
    // and a file that appeared where there was none is not overwritten either
    const fresh = join(dir, "appeared");
    const none = await readCredentialsTarget(fresh);
    writeFileSync(fresh, "theirs");
    await expect(writeFileAtomic(fresh, "ours", 0o600, { replaces: none.identity })).rejects.toMatchObject({ code: "FILE_WRITE_FAILED" });
    expect(readFileSync(fresh, "utf8")).toBe("theirs");
  });

  it("root writing another user's file leaves it theirs (it became root's 0600: its user could no longer read it)", async () => {
    const home = join(dir, "alice");
    mkdirSync(join(home, ".aws"), { recursive: true });
    writeFileSync(join(home, ".aws/credentials"), "[a]\nk = v\n", { mode: 0o600 });
    for (const p of [home, join(home, ".aws"), join(home, ".aws/credentials")]) chownSync(p, 65534, 65534);
    await writeProfileCredentials(join(home, ".aws/credentials"), "gw", creds("U1"));
    const after = statSync(join(home, ".aws/credentials"));
    expect([after.uid, after.gid, after.mode & 0o777]).toEqual([65534, 65534, 0o600]);
    expect(readFileSync(join(home, ".aws/credentials"), "utf8")).toContain("[a]\nk = v\n\n[gw]\naws_access_key_id = U1\n");
  });

  it("root does not hand its credentials to a user who put the file first in a directory anyone can write (/tmp)", async () => {
    // Before: root's `update --credentials-file /tmp/aws-creds` kept the file another user had created there as
    // theirs (the rule for a user's own ~/.aws/credentials): that user then read root's credentials.
    const shared = join(dir, "anyone-tmp");
    mkdirSync(shared, { mode: 0o1777 });
    chmodSync(shared, 0o1777);
    const planted = join(shared, "aws-creds");
    writeFileSync(planted, "", { mode: 0o666 });
    chownSync(planted, 65534, 65534);
    await expect(writeProfileCredentials(planted, "gw", creds("T1"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${planted}: it belongs to uid 65534 and its directory ${shared} can be written by anyone`,
    });
    expect([readFileSync(planted, "utf8"), statSync(planted).uid]).toEqual(["", 65534]);
    expect(readdirSync(shared)).toEqual(["aws-creds"]);
    // Control: root's own file there, or a new one, is written (root's, 0600).
    chownSync(planted, 0, 0);
    await writeProfileCredentials(planted, "gw", creds("T0"));
    expect(readFileSync(planted, "utf8")).toContain("aws_access_key_id = T0\n");
    rmSync(planted);
    await writeProfileCredentials(planted, "gw", creds("T2"));
    expect([statSync(planted).uid, statSync(planted).mode & 0o777]).toEqual([0, 0o600]);
  });

  it("the same refusal for a file in a subdirectory that user made where anyone can write (/tmp/aws/credentials)", async () => {
    // Before: written, kept theirs (the subdirectory, theirs, 0755, is closed to others): they read root's credentials.
    const shared = join(dir, "anyone-tmp-above");
    mkdirSync(join(shared, "aws"), { recursive: true });
    chmodSync(shared, 0o1777);
    const planted = join(shared, "aws", "credentials");
    writeFileSync(planted, "", { mode: 0o600 });
    for (const p of [join(shared, "aws"), planted]) chownSync(p, 65534, 65534);
    await expect(writeProfileCredentials(planted, "gw", creds("S1"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${planted}: it belongs to uid 65534 and its directory ${shared}/aws is in ${shared}, which anyone can write`,
    });
    expect(readFileSync(planted, "utf8")).toBe("");
  });

  it("and for one in a subdirectory of theirs in a directory a shared group can write (root:nogroup 2775)", async () => {
    const shared = join(dir, "group-above");
    mkdirSync(join(shared, "aws"), { recursive: true });
    chownSync(shared, 0, 65534); // nogroup: nobody's group
    chmodSync(shared, 0o2775);
    const planted = join(shared, "aws", "credentials");
    writeFileSync(planted, "", { mode: 0o600 });
    for (const p of [join(shared, "aws"), planted]) chownSync(p, 65534, 65534);
    await expect(writeProfileCredentials(planted, "gw", creds("G1"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${planted}: it belongs to uid 65534 and its directory ${shared}/aws is in ${shared}, which its group 65534 can write`,
    });
    chmodSync(shared, 0o755); // control: closed to the group, the file is written
    await writeProfileCredentials(planted, "gw", creds("G2"));
    expect(readFileSync(planted, "utf8")).toContain("aws_access_key_id = G2\n");
  });

  it("the same refusal in a directory only others (not the group) can write: the bit tested is o+w", async () => {
    // A mutant testing the group's write bit instead (0o020) passed the /tmp test above (1777 has both).
    const shared = join(dir, "others-write");
    mkdirSync(shared, { mode: 0o703 });
    chmodSync(shared, 0o703);
    const planted = join(shared, "aws-creds");
    writeFileSync(planted, "", { mode: 0o666 });
    chownSync(planted, 65534, 65534);
    await expect(writeProfileCredentials(planted, "gw", creds("O1"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${planted}: it belongs to uid 65534 and its directory ${shared} can be written by anyone`,
    });
    expect(readFileSync(planted, "utf8")).toBe("");
  });

  it("refuses a file with other names (hard links), which the rename would leave holding the old credentials", async () => {
    // Before: written (exit 0); the other name (an application's copy, linked with ln) silently kept the old,
    // soon expired credentials.
    const [file, other] = [join(dir, "hard-linked-credentials"), join(dir, "app-credentials")];
    writeFileSync(file, "[gw]\naws_access_key_id = OLD\n", { mode: 0o600 });
    linkSync(file, other);
    await expect(writeProfileCredentials(file, "gw", creds("H1"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${file}: it has 2 names (hard links), and the others would keep the old credentials`,
    });
    expect([readFileSync(file, "utf8"), readFileSync(other, "utf8")]).toEqual(Array(2).fill("[gw]\naws_access_key_id = OLD\n"));
    rmSync(other);
    await writeProfileCredentials(file, "gw", creds("H2"));
    expect(readFileSync(file, "utf8")).toContain("aws_access_key_id = H2\n");
  });

  it("does not follow a symbolic link of another user's (root rewrote and chmodded the file it named, e.g. /etc/passwd)", async () => {
    const home = join(dir, "mallory");
    mkdirSync(join(home, ".aws"), { recursive: true });
    for (const p of [home, join(home, ".aws")]) chownSync(p, 65534, 65534);
    const victim = join(dir, "passwd");
    writeFileSync(victim, "root:x:0:0:root:/root:/bin/sh\n", { mode: 0o644 });
    const link = join(home, ".aws/credentials");
    symlinkSync(victim, link);
    lchownSync(link, 65534, 65534);
    await expect(writeProfileCredentials(link, "gw", creds("M1"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${link}: symbolic link ${link} belongs to uid 65534, not to this user (0) or root`,
    });
    expect(readFileSync(victim, "utf8")).toBe("root:x:0:0:root:/root:/bin/sh\n");
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    expect(readdirSync(join(home, ".aws"))).toEqual(["credentials"]); // no lock file left either
    // Control: the same link, root's own, is followed (the file keeps its owner, root).
    lchownSync(link, 0, 0);
    await writeProfileCredentials(link, "gw", creds("M2"));
    expect(readFileSync(victim, "utf8")).toContain("aws_access_key_id = M2\n");
  });

  it("does not follow root's own symbolic link given a second name in another user's directory (a hard link)", async () => {
    // Where fs.protected_hardlinks=0, anyone may hard-link root's links (e.g. /etc/alternatives/awk -> /usr/bin/mawk):
    // made here by root, as mallory could. Before: followed as root's, and root rewrote and chmodded the file it named.
    const home = join(dir, "mallory-hardlink");
    mkdirSync(join(home, ".aws"), { recursive: true });
    for (const p of [home, join(home, ".aws")]) chownSync(p, 65534, 65534);
    const system = join(dir, "mawk");
    writeFileSync(system, "#!/bin/sh\n", { mode: 0o755 });
    const alternative = join(dir, "alternatives-awk");
    symlinkSync(system, alternative);
    const link = join(home, ".aws/credentials");
    linkSync(alternative, link);
    await expect(writeProfileCredentials(link, "gw", creds("HL1"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${link}: symbolic link ${link} has 2 names (hard links), in a directory others can write to: another user may have made this one`,
    });
    expect(readFileSync(system, "utf8")).toBe("#!/bin/sh\n");
    expect(statSync(system).mode & 0o777).toBe(0o755);
  });

  it("creates no directory through another user's link either (was: root made the missing ones where the link led)", async () => {
    const elsewhere = join(dir, "link-target");
    mkdirSync(elsewhere);
    const link = join(dir, "their-link");
    symlinkSync(elsewhere, link);
    lchownSync(link, 65534, 65534);
    const file = join(link, "new", ".aws", "credentials");
    await expect(writeProfileCredentials(file, "gw", creds("D1"))).rejects.toMatchObject({ code: "FILE_UNSAFE" });
    expect(readdirSync(elsewhere)).toEqual([]);
    // Control: missing directories on a path of this user's are made, 0700.
    const own = join(dir, "own-tree", "new", ".aws", "credentials");
    await writeProfileCredentials(own, "gw", creds("D2"));
    expect(statSync(join(dir, "own-tree")).mode & 0o777).toBe(0o700);
    expect(readFileSync(own, "utf8")).toContain("aws_access_key_id = D2\n");
  });

  it("writers reaching the file by a link and by its own name share one lock: no write fails, no profile is lost", async () => {
    // Before: two locks (link.lock, file.lock); a writer whose file was replaced meanwhile failed ("changed while
    // it was being updated"), and one replaced between the other's check and rename lost that profile.
    const real = join(dir, "shared-credentials");
    const link = join(dir, "shared-link");
    writeFileSync(real, "");
    symlinkSync(real, link);
    const profiles = Array.from({ length: 16 }, (_, i) => `p${i}`);
    const results = await Promise.allSettled(profiles.map((p, i) => writeProfileCredentials(i % 2 ? link : real, p, creds(p))));
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    const text = readFileSync(real, "utf8");
    for (const p of profiles) expect(text).toContain(`[${p}]\naws_access_key_id = ${p}\n`);
    expect(readdirSync(dir).filter((f) => f.startsWith("shared-"))).toEqual(["shared-credentials", "shared-link"]);
  });

  it("does not rename over an edit made in place while it was writing (the edit was lost)", async () => {
    const target = join(dir, "edited");
    writeFileSync(target, "[a]\nk = v\n");
    const read = await readCredentialsTarget(target);
    await new Promise((r) => setTimeout(r, 5));
    writeFileSync(target, "[a]\nk = v\n[mine]\nregion = x\n", { flag: "r+" }); // same inode, as nano or `>>` write
    await expect(writeFileAtomic(target, "ours", 0o600, { replaces: read.identity })).rejects.toMatchObject({
      code: "FILE_WRITE_FAILED",
      message: `${target} changed while it was being updated; it was left as it is`,
      hint: "another program changed or replaced the file; try again",
    });
    expect(readFileSync(target, "utf8")).toBe("[a]\nk = v\n[mine]\nregion = x\n");
    await writeProfileCredentials(target, "gw", creds("E1")); // the next write keeps the edit
    expect(readFileSync(target, "utf8")).toContain("[mine]\nregion = x\n\n[gw]\n");
  });

  it("refuses a credentials file over 16 MiB in one line, without reading it (1 GiB: 2.1 GB of memory, then 'internal error')", async () => {
    const huge = join(dir, "huge");
    writeFileSync(huge, "");
    truncateSync(huge, 3 * 2 ** 30); // sparse: before, "internal error: File size (3221225472) is greater than 2 GiB"
    await expect(writeProfileCredentials(huge, "gw", creds("H1"))).rejects.toMatchObject({
      code: "FILE_UNREADABLE",
      message: `${huge} is 3072.0 MiB, too large for a credentials file (16 MiB at most); it was left as it is`,
    });
    expect(statSync(huge).size).toBe(3 * 2 ** 30);
    const large = join(dir, "large"); // under the bound: kept byte for byte, profile added
    const body = `[other]\n${"x = y\n".repeat(2 ** 20)}`;
    writeFileSync(large, body);
    await writeProfileCredentials(large, "gw", creds("L2"));
    expect(readFileSync(large, "utf8")).toBe(`${body}\n[gw]\naws_access_key_id = L2\naws_secret_access_key = secret-L2\naws_session_token = token-L2\n`);
  }, 30_000); // 0.6 s here, a million lines: under mutation testing or a loaded CI machine, well over vitest's 5 s

  it("uses AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials", () => {
    expect(sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "/x/c" }, "/home/u")).toBe("/x/c");
    expect(sharedCredentialsPath({}, "/home/u")).toBe("/home/u/.aws/credentials");
  });

  it("has no default file when HOME is empty or relative (never ./.aws/credentials in the working directory)", () => {
    const message = "no default credentials file: HOME ('') is not an absolute path";
    expect(() => sharedCredentialsPath({}, "")).toThrow(message);
    expect(() => sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "~/c" }, "")).toThrow(message);
    expect(() => sharedCredentialsPath({}, "rel")).toThrow(expect.objectContaining({ code: "FILE_WRITE_FAILED" }));
    expect(sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "/x/c" }, "")).toBe("/x/c");
  });

  it("refuses a path with bytes that are not UTF-8 (Node.js made them U+FFFD: another file, which no SDK reads)", () => {
    // AWS_SHARED_CREDENTIALS_FILE=$'/srv/cr\xe9d' reaches process.env as "/srv/cr\uFFFDd": before, update wrote
    // /srv/cr\xef\xbf\xbdd, said 'wrote profile [default]' and exited 0, while the SDKs read the stale file.
    const bad = "/srv/cr\uFFFDd";
    const message = (from: string) => `the credentials file path (from ${from}) holds bytes that are not UTF-8`;
    expect(() => sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: bad }, "/home/u")).toThrow(message("AWS_SHARED_CREDENTIALS_FILE"));
    expect(() => sharedCredentialsPath({}, "/home/u", bad)).toThrow(message("--credentials-file"));
    expect(() => sharedCredentialsPath({}, "/home/jos\uFFFD")).toThrow(expect.objectContaining({ code: "FILE_WRITE_FAILED", message: message("HOME") }));
    expect(() => sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "~/c" }, "/home/jos\uFFFD")).toThrow(message("AWS_SHARED_CREDENTIALS_FILE"));
    expect(sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "/srv/crééd" }, "/home/u")).toBe("/srv/crééd");
    expect(sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "" }, "/home/u")).toBe("/home/u/.aws/credentials");
  });

  it("a quoted ~ alone is the home directory, as in the config file (before: update wrote a file ./~ in the working directory)", () => {
    expect(sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "~" }, "/home/u")).toBe("/home/u");
    expect(sharedCredentialsPath({}, "/home/u", "~")).toBe("/home/u");
    expect(() => sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "~" }, "")).toThrow("no default credentials file: HOME ('') is not an absolute path");
  });

  it("has no default file for root under another user's HOME (sudo -E): root's credentials would be that user's", () => {
    // Before: root wrote ~/.aws/credentials there, and a file that user had put first kept its owner: hers to read.
    const home = join(dir, "alice-home");
    mkdirSync(home);
    const root = process.geteuid?.() === 0;
    if (root) chownSync(home, 1234, 1234);
    const message = `no default credentials file for root: HOME (${home}) belongs to uid ${statSync(home).uid}`;
    expect(() => absoluteHome(home, "FILE_WRITE_FAILED", "credentials file", "pass --credentials-file", 0)).toThrow(message);
    expect(absoluteHome(home, "FILE_WRITE_FAILED", "credentials file", "", 1234)).toBe(home); // not root: its own rules
    if (!root) return;
    expect(() => sharedCredentialsPath({}, home)).toThrow(expect.objectContaining({ code: "FILE_WRITE_FAILED", message }));
    expect(() => sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "~/c" }, home)).toThrow(message);
    expect(sharedCredentialsPath({ AWS_SHARED_CREDENTIALS_FILE: "/x/c" }, home)).toBe("/x/c");
    expect(sharedCredentialsPath({}, home, join(home, "c"))).toBe(join(home, "c")); // named: root's choice
  });

  it("has no default file for root under a HOME of root's inside another user's directory, nor where she can put one", () => {
    // Before: HOME=/home/alice/x (x root's, or absent) passed, and a long-running update kept writing there after
    // alice swapped x for a directory of hers holding her own .aws/credentials: root's secret key, hers to read.
    if (process.geteuid?.() !== 0) return;
    const alice = join(dir, "alice");
    mkdirSync(join(alice, "roots"), { recursive: true });
    mkdirSync(join(dir, "root-home"));
    symlinkSync(join(dir, "root-home"), join(alice, "link"));
    chownSync(alice, 1234, 1234);
    lchownSync(join(alice, "link"), 1234, 1234);
    const at = (home: string) => () => absoluteHome(home, "FILE_WRITE_FAILED", "credentials file", "pass --credentials-file", 0);
    for (const home of [join(alice, "roots"), join(alice, "absent"), join(alice, "link")]) {
      expect(at(home)).toThrow(expect.objectContaining({ code: "FILE_WRITE_FAILED", message: expect.stringContaining("uid 1234") }));
    }
    expect(at(join(dir, "root-home"))()).toBe(join(dir, "root-home"));
    expect(at(join(dir, "absent"))()).toBe(join(dir, "absent")); // only root can make it
  });

  it("has no default file for root under a HOME others can write to (HOME=/tmp): another user makes ~/.aws there first", async () => {
    // Before: the sticky bit kept HOME itself root's, not what others make in it: a user's own .aws (0755) and
    // credentials file there received root's secret key, the file given back to her (root keeps a file's owner).
    if (process.geteuid?.() !== 0) return;
    const home = join(dir, "tmp-home");
    mkdirSync(home);
    chmodSync(home, 0o1777);
    const aws = join(home, ".aws");
    mkdirSync(aws, { mode: 0o755 });
    writeFileSync(join(aws, "credentials"), "", { mode: 0o600 });
    for (const p of [aws, join(aws, "credentials")]) chownSync(p, 65534, 65534);
    const message = `no default credentials file for root: HOME (${home}) is not root's alone: directory ${home} can be written by other users (mode 1777)`;
    const update = async () => writeProfileCredentials(sharedCredentialsPath({}, home), "default", creds("T1"));
    await expect(update()).rejects.toMatchObject({ code: "FILE_WRITE_FAILED", message });
    expect(readFileSync(join(aws, "credentials"), "utf8")).toBe("");
    // The same where HOME is missing, in a directory others can write to: they can make it first.
    const missing = (at: string) => () => absoluteHome(at, "FILE_WRITE_FAILED", "credentials file", "pass --credentials-file", 0);
    expect(missing(join(home, "absent", "deeper"))).toThrow(`directory ${home} can be written by other users (mode 1777)`);
    chmodSync(home, 0o755); // control: root's alone
    expect(missing(join(home, "absent", "deeper"))()).toBe(join(home, "absent", "deeper"));
    expect(sharedCredentialsPath({}, home)).toBe(join(aws, "credentials"));
  });
});

describe("withFileLock", () => {
  const { dir, cleanup } = makeTempDir("raa-lock-");
  afterAll(cleanup);

  it("serialises holders in one process", async () => {
    const lock = join(dir, "serial.lock");
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withFileLock(lock, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await new Promise((r) => setTimeout(r, 2));
          inside--;
        }, { pollMs: 1 }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(existsSync(lock)).toBe(false);
  });

  it("breaks a lock left by a process that no longer exists", async () => {
    const lock = join(dir, "dead.lock");
    writeFileSync(lock, `999999999 ${hostname()}/${readlinkSync("/proc/self/ns/pid")} 0 dead\n`);
    await expect(withFileLock(lock, async () => "ran")).resolves.toBe("ran");
  });

  it("breaks an old lock from another host, but waits for a fresh one and then gives up clearly", async () => {
    const old = join(dir, "old.lock");
    writeFileSync(old, `1 other-host 0 x\n`);
    utimesSync(old, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    await expect(withFileLock(old, async () => "ran")).resolves.toBe("ran");

    const live = join(dir, "live.lock");
    writeFileSync(live, `${process.pid} ${hostname()} ${Date.now()} mine\n`);
    const error = await withFileLock(live, async () => "ran", { timeoutMs: 100, pollMs: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ code: "FILE_LOCKED" });
    expect((error as Error).message).toContain(`held by process ${process.pid}`);
    expect(existsSync(live)).toBe(true); // a live holder's lock is never removed
  });

  it("a holder stopped for a minute whose lock was taken over stops renewing it (the new holder's to age)", async () => {
    // Before: the first serve, resumed after SIGSTOP, kept touching the second's lock every 15 s: once that one
    // died in another pid namespace or host, its lock never aged and the directory could never be taken again.
    const lock = join(dir, "taken.lock");
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const release = await holdFileLock(lock);
      const old = new Date(Date.now() - 120_000);
      writeFileSync(lock, "1 other-host 0 second\n");
      utimesSync(lock, old, old);
      vi.advanceTimersByTime(15_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(Math.round(statSync(lock).mtimeMs / 1000)).toBe(Math.round(old.getTime() / 1000));
      await release();
      expect(readFileSync(lock, "utf8")).toBe("1 other-host 0 second\n"); // not ours: left
    } finally {
      vi.useRealTimers();
    }
  });

  it("breaks a lock whose time is far in the future (a clock set back), not only one far in the past", async () => {
    const lock = join(dir, "future.lock");
    writeFileSync(lock, "1 other-host 0 x\n");
    utimesSync(lock, new Date(Date.now() + 3600_000), new Date(Date.now() + 3600_000));
    await expect(withFileLock(lock, async () => "ran", { timeoutMs: 200, pollMs: 10 })).resolves.toBe("ran");
  });

  it("names the holder's pid only if the lock holds one: never other text of a file linked there", async () => {
    // Before: the message took the file's first word, whatever it was (several lines, a secret, escapes).
    const lock = join(dir, "text.lock");
    writeFileSync(lock, "s3cr3t\nsecond-line\u001b[2J rest\n");
    const error = await withFileLock(lock, async () => "ran", { timeoutMs: 50, pollMs: 10 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "FILE_LOCKED", message: `${lock} is held by process ?; gave up after 0 s` });
  });

  it("refuses at once what is not a lock file at its name: a FIFO (hung forever), links to /dev/zero or a secret", async () => {
    // Before: a FIFO blocked the read for good; /dev/zero was read into memory (hundreds of MB), and a link to a
    // file of root's that had been written in the last minute put its first word into the FILE_LOCKED message.
    const fifo = join(dir, "fifo.lock");
    execFileSync("mkfifo", [fifo]);
    const zero = join(dir, "zero.lock");
    symlinkSync("/dev/zero", zero);
    writeFileSync(join(dir, "secret"), "s3cr3t rest\n");
    const secret = join(dir, "secret.lock");
    symlinkSync(join(dir, "secret"), secret);
    // Counted, not timed: each of these throws before it is made: an open() that can wait for a writer (neither
    // O_NONBLOCK nor O_EXCL), a read of what is at the lock's name, a pause before a try again.
    const require = createRequire(import.meta.url);
    const [fsPromises, timers] = [require("node:fs/promises") as object, require("node:timers/promises") as object];
    const probe = await open(join(dir, "secret"), "r");
    const handles = Object.getPrototypeOf(probe) as object;
    await probe.close();
    const blocking = (flags: unknown) => (typeof flags === "number" ? !(flags & (constants.O_NONBLOCK | constants.O_EXCL)) : !String(flags).includes("x"));
    type Weigh = (self: unknown, args: unknown[]) => number;
    const none = async <T>(owner: object, method: string, run: () => Promise<T>, weigh?: Weigh) => (await workOf(owner, method, run, { budget: 0, weigh })).result;
    for (const lock of [fifo, zero, secret]) {
      const refused = () => withFileLock(lock, async () => "ran", { timeoutMs: 300, pollMs: 10 }).catch((e: unknown) => e);
      const error = await none(fsPromises, "open", () => none(handles, "read", () => none(timers, "setTimeout", refused)), (_, [, flags]) => Number(blocking(flags)));
      expect(error).toMatchObject({ code: "FILE_UNSAFE", message: `${lock} is not a lock file of this tool's (it is not a regular file)` });
      expect(lstatSync(lock).isFile()).toBe(false); // left as it is
    }
  });
});

describe("credentialsFileUpdater", () => {
  it("writes only the newest credentials and retries a failed write", async () => {
    vi.useFakeTimers();
    try {
      const written: string[] = [];
      let fail = true;
      const lines: string[] = [];
      const updater = credentialsFileUpdater({
        path: "/p",
        profile: "gw",
        log: (l) => lines.push(l),
        retryMs: 1000,
        write: async (_p, _n, c) => {
          await Promise.resolve();
          if (fail) {
            fail = false;
            throw new InputError("FILE_LOCKED", "locked");
          }
          written.push(c.accessKeyId);
        },
      });
      const a = creds("A");
      updater.offer(a);
      await updater.idle();
      expect(written).toEqual([]);
      expect(updater.written()).toBeUndefined(); // what update's failure lines say the file holds: nothing of its own
      expect(lines[0]).toContain("could not write /p: locked; trying again in 1 s");
      await vi.advanceTimersByTimeAsync(1000);
      await updater.idle();
      expect(written).toEqual(["A"]);
      expect(updater.written()).toBe(a.expiration);
      updater.offer(creds("B"));
      updater.offer(creds("C"));
      updater.offer(creds("D"));
      await updater.idle();
      expect(written).toEqual(["A", "B", "D"]);
      expect(lines.join("\n")).not.toContain("secret-");
      await updater.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("credentialsFileUpdater with credentials already expired", () => {
  it("does not retry a failed write of credentials that have expired, nor any once stopped", async () => {
    // A mutant retrying expired credentials every 30 s for good survived.
    vi.useFakeTimers();
    try {
      const tries: string[] = [];
      const updater = credentialsFileUpdater({
        path: "/p",
        profile: "gw",
        log: () => {},
        retryMs: 1000,
        write: async (_p, _n, c) => {
          tries.push(c.accessKeyId);
          throw new InputError("FILE_LOCKED", "locked");
        },
      });
      updater.offer({ ...creds("OLD"), expiration: new Date(Date.now() - 1) });
      await updater.idle();
      await vi.advanceTimersByTimeAsync(5000);
      expect(tries).toEqual(["OLD"]);
      updater.offer(creds("LIVE"));
      await updater.idle();
      await updater.stop(); // ends the retry the failed LIVE write planned
      await vi.advanceTimersByTimeAsync(5000);
      expect(tries).toEqual(["OLD", "LIVE"]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("credentialsFileUpdater retrying a write while the credentials lapse", () => {
  it("does not write, on the retry, credentials that expired (or came within the expiry margin) meanwhile", async () => {
    // Before: the retry 30 s after a failed write wrote them whatever their expiration by then.
    vi.useFakeTimers();
    try {
      const written: string[] = [];
      let fail = true;
      const updater = credentialsFileUpdater({
        path: "/p", profile: "gw", log: () => {}, retryMs: 30_000,
        write: async (_p, _n, c) => {
          if (fail) {
            fail = false;
            throw new InputError("FILE_LOCKED", "locked");
          }
          written.push(c.accessKeyId);
        },
      });
      updater.offer({ ...creds("SHORT"), expiration: new Date(Date.now() + 20_000) });
      await updater.idle();
      await vi.advanceTimersByTimeAsync(30_000);
      await updater.idle();
      expect(written).toEqual([]);
      expect(updater.written()).toBeUndefined();
      fail = true; // 5 s left when the retry comes: within the 10 s margin
      updater.offer({ ...creds("EDGE"), expiration: new Date(Date.now() + 35_000) });
      await updater.idle();
      await vi.advanceTimersByTimeAsync(30_000);
      await updater.idle();
      expect(written).toEqual([]);
      updater.offer({ ...creds("LIVE"), expiration: new Date(Date.now() + 3_600_000) });
      await updater.idle();
      expect(written).toEqual(["LIVE"]);
      await updater.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("credentialsFileUpdater on a disk that stays full", () => {
  it("logs the failed write once, not every 30 s, and the write that succeeds", async () => {
    // Before: `could not write … trying again in 30 s` every 30 s while the credentials lasted, ~2,800 lines a day.
    vi.useFakeTimers();
    try {
      let full = true;
      const lines: string[] = [];
      const updater = credentialsFileUpdater({
        path: "/p", profile: "gw", log: (l) => lines.push(l),
        write: async () => {
          if (full) throw new InputError("FILE_WRITE_FAILED", "cannot write /p: no space left on device (ENOSPC)");
        },
      });
      const lasting = (id: string) => ({ ...creds(id), expiration: new Date(Date.now() + 86_400_000) });
      updater.offer(lasting("A"));
      for (let hour = 0; hour < 23; hour++) {
        await vi.advanceTimersByTimeAsync(3_600_000);
        updater.offer(lasting(`B${hour}`)); // each refresh offers new credentials
      }
      await updater.idle();
      expect(lines).toEqual(["could not write /p: cannot write /p: no space left on device (ENOSPC); trying again in 30 s; not logged again until it changes"]);
      full = false;
      await vi.advanceTimersByTimeAsync(30_000);
      await updater.idle();
      expect(lines).toHaveLength(2);
      expect(lines[1]).toBe("wrote profile [gw] to /p");
      await updater.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("update --profile", () => {
  const { dir, cleanup } = makeTempDir("raa-update-profile-");
  afterAll(cleanup);
  const arn = "arn:aws:rolesanywhere:us-east-1:111122223333";
  const arns = ["--trust-anchor-arn", `${arn}:trust-anchor/t`, "--profile-arn", `${arn}:profile/p`, "--role-arn", "arn:aws:iam::111122223333:role/r"];
  const key = ["--certificate", join(dir, "none.pem"), "--private-key", join(dir, "none.key")];

  /** `update --once FLAGS` with a key and the ARNs: its exit code and standard error. */
  async function update(flags: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true", ...env } };
    const code = await main(["update", "--once", ...flags, ...key, ...arns], io);
    return { code, stderr };
  }

  it("an empty --profile or --credentials-file (\"$P\" unset) is refused, not taken for [default] or the default file", async () => {
    // Before: --profile "" meant the default section; its keys would have been overwritten.
    const file = join(dir, "credentials");
    writeFileSync(file, "[default]\naws_access_key_id = AKIALONGTERM\n", { mode: 0o600 });
    expect(await update(["--profile", "", "--credentials-file", file])).toEqual({
      code: 2,
      stderr: 'roles-anywhere-agent: --profile "" cannot name a section of the credentials file (not empty, no [, ] or line breaks, and no spaces around it)\n',
    });
    expect(readFileSync(file, "utf8")).toBe("[default]\naws_access_key_id = AKIALONGTERM\n");
    // Nor is an empty --credentials-file the default file (~/.aws/credentials), which it was before.
    expect(await update(["--profile", "gw", "--credentials-file", ""], { HOME: join(dir, "home") })).toEqual({
      code: 2,
      stderr: "roles-anywhere-agent: --credentials-file is empty (give a value, or leave the flag out for the default)\n",
    });
  });

  it("DEFAULT is refused: botocore gives the keys of [DEFAULT] to every other profile of the file, and has no profile DEFAULT", async () => {
    // Before: written (exit 0); `aws --profile other` then signed with the role's credentials, not its own chain.
    const file = join(dir, "credentials-default");
    writeFileSync(file, "[other]\nregion = eu-west-1\n", { mode: 0o600 });
    expect(await update(["--profile", "DEFAULT", "--credentials-file", file])).toEqual({
      code: 2,
      stderr: "roles-anywhere-agent: --profile DEFAULT names the credentials file's defaults section: botocore gives its keys to every " +
        "other profile in the file (use another name; the AWS CLI's default profile is default, in lower case)\n",
    });
    expect(readFileSync(file, "utf8")).toBe("[other]\nregion = eu-west-1\n");
    await expect(writeProfileCredentials(file, "DEFAULT", creds("ASIAROLE"))).rejects.toThrow(/invalid profile name "DEFAULT"/);
    expect(readFileSync(file, "utf8")).toBe("[other]\nregion = eu-west-1\n");
  });
});

describe("a credentials file saved as UTF-16 (Windows PowerShell's >)", () => {
  const { dir, cleanup } = makeTempDir("raa-update-utf16-");
  afterAll(cleanup);

  it("is left as it is, with one line that says so, instead of getting ASCII lines appended to its UTF-16", async () => {
    // Before: "[gw]" and the keys were appended as single bytes after the UTF-16 text: a file of two encodings.
    const file = join(dir, "credentials");
    const before = Buffer.from("\uFEFF[other]\r\naws_access_key_id = AKIAOTHER\r\n", "utf16le");
    writeFileSync(file, before, { mode: 0o600 });
    await expect(writeProfileCredentials(file, "gw", creds("ASIANEW"))).rejects.toMatchObject({
      code: "INPUT_INVALID",
      message: `credentials file ${file} is UTF-16 text`,
    });
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});

describe("update --credentials-file with a ~/ the shell did not expand (quoted in a script or unit)", () => {
  const { dir, cleanup } = makeTempDir("raa-update-tilde-");
  afterAll(cleanup);

  it("is the home directory, as in AWS_SHARED_CREDENTIALS_FILE and the config; no directory named ~ in the cwd", async () => {
    // Before: '--credentials-file "~/.aws/credentials"' wrote ./~/.aws/credentials in the working directory (the
    // SDKs kept reading the stale file, and "rm -rf ~" is how such a directory gets removed).
    const ca = createCa(join(dir, "ca"), { name: "Tilde CA" });
    const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "tilde", keyType: "p256" });
    const { startLocalEndpoint } = await import("../../src/local-endpoint/server.js");
    const endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
    const [home, work, cwd] = [join(dir, "home"), join(dir, "work"), process.cwd()];
    mkdirSync(work);
    vi.stubEnv("HOME", home);
    process.chdir(work);
    try {
      const arn = "arn:aws:rolesanywhere:us-east-1:111122223333";
      const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: { CI: "true", HOME: home } };
      const argv = ["update", "--once", "--credentials-file", "~/.aws/credentials", "--certificate", leaf.certPath, "--private-key", leaf.keyPath];
      const arns = ["--trust-anchor-arn", `${arn}:trust-anchor/t`, "--profile-arn", `${arn}:profile/p`, "--role-arn", "arn:aws:iam::111122223333:role/r"];
      expect(await main([...argv, ...arns, "--endpoint", endpoint.url], io)).toBe(0);
      expect(readdirSync(work)).toEqual([]);
      expect(readFileSync(join(home, ".aws/credentials"), "utf8")).toMatch(/^\[default\]\naws_access_key_id = /);
    } finally {
      process.chdir(cwd);
      vi.unstubAllEnvs();
      await endpoint.close();
    }
  });
});

describe("update's log lines", () => {
  it("are printable single lines: a line break or ESC in --credentials-file forges no log line", async () => {
    // Before: "updating profile [default] in …/credentials" and a separate "FAKE LINE" line, ESC and all.
    const { dir, cleanup } = makeTempDir("raa-update-log-");
    const ca = createCa(join(dir, "ca"), { name: "ca" });
    const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "leaf" });
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
    const arn = "arn:aws:rolesanywhere:us-east-1:111122223333";
    const argv = ["update", "--credentials-file", join(dir, "creds\nFAKE LINE\u001b[2J"), "--certificate", leaf.certPath,
      "--private-key", leaf.keyPath, "--endpoint", "http://127.0.0.1:1", "--trust-anchor-arn", `${arn}:trust-anchor/t`,
      "--profile-arn", `${arn}:profile/p`, "--role-arn", "arn:aws:iam::111122223333:role/r"];
    try {
      const code = main(argv, io);
      await vi.waitFor(() => expect(stderr).toContain("updating profile [default]"), { timeout: 10_000 });
      process.emit("SIGTERM");
      expect(await code).toBe(0);
      expect(stderr).toContain(`updating profile [default] in ${join(dir, "creds FAKE LINE [2J")}\n`);
      expect(stderr.split("\n").filter((line) => /^FAKE|\u001b/.test(line))).toEqual([]);
    } finally {
      cleanup();
    }
  });
});

describe("the mode of a credentials file that exists (before: every write made it 0600, undoing chmod 640)", () => {
  const { dir, cleanup } = makeTempDir("raa-update-mode-");
  afterAll(cleanup);
  const modeOf = (path: string) => statSync(path).mode & 0o777;
  const warnings = async (write: () => Promise<unknown>) => {
    const spy = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      await write();
      return spy.mock.calls.map(([message]) => String(message));
    } finally {
      spy.mockRestore();
    }
  };

  it("keeps the group's read bit (0640 stays 0640, its group too), without a word", async () => {
    const file = join(dir, "shared");
    writeFileSync(file, "[other]\nx = 1\n", { mode: 0o640 });
    chmodSync(file, 0o640);
    chownSync(file, 0, 4242); // root may give the new file any group: the one the operator chose stays
    expect(await warnings(() => writeProfileCredentials(file, "gw", creds("G1")))).toEqual([]);
    expect([modeOf(file), statSync(file).gid]).toEqual([0o640, 4242]);
    expect(readFileSync(file, "utf8")).toContain("aws_access_key_id = G1\n");
  });

  it("keeps another user's group's read bit when root rewrites that user's file (owner, group and mode stay)", async () => {
    const home = join(dir, "bob");
    mkdirSync(home, { mode: 0o750 });
    const file = join(home, "credentials");
    writeFileSync(file, "", { mode: 0o640 });
    chmodSync(file, 0o640);
    for (const p of [home, file]) chownSync(p, 65534, 4242);
    await writeProfileCredentials(file, "gw", creds("G2"));
    expect([statSync(file).uid, statSync(file).gid, modeOf(file)]).toEqual([65534, 4242, 0o640]);
  });

  it("never writes back group write or any bit for others: 0640 or 0600, with one line, once per process", async () => {
    const cases = [
      [0o644, 0o640, "readable by other users (mode 644); written 640"],
      [0o660, 0o640, "writable by its group (mode 660); written 640"],
      [0o604, 0o600, "readable by other users (mode 604); written 600"],
      [0o666, 0o640, "readable by other users and writable by its group (mode 666); written 640"],
      [0o602, 0o600, "writable by other users (mode 602); written 600"],
      [0o610, 0o600, "executable (mode 610); written 600"],
    ] as const;
    for (const [before, after, why] of cases) {
      const file = join(dir, `mode-${before.toString(8)}`);
      writeFileSync(file, "", { mode: before });
      chmodSync(file, before);
      expect(await warnings(() => writeProfileCredentials(file, "gw", creds("M1")))).toEqual([`credentials file ${file} was ${why}`]);
      expect(modeOf(file)).toBe(after);
      // The next refresh: nothing to say. Set so again: said once per process, not at every refresh.
      expect(await warnings(() => writeProfileCredentials(file, "gw", creds("M2")))).toEqual([]);
      chmodSync(file, before);
      expect(await warnings(() => writeProfileCredentials(file, "gw", creds("M3")))).toEqual([]);
      expect(modeOf(file)).toBe(after);
    }
  });

  it("the temporary file is never readable by a group before it has the file's own (umask 022: was open 0640, root's)", async () => {
    const file = join(dir, "window");
    writeFileSync(file, "", { mode: 0o640 });
    chmodSync(file, 0o640);
    chownSync(file, 65534, 4242);
    const handle = await open(file, "r");
    const proto = Object.getPrototypeOf(handle) as { chown: (...a: unknown[]) => Promise<void>; writeFile: (...a: unknown[]) => Promise<void> };
    await handle.close();
    const seen: string[] = [];
    const { chown, writeFile } = proto;
    const note = async (self: FileHandle, at: string) => {
      const { mode, gid } = await self.stat();
      seen.push(`${at} ${(mode & 0o777).toString(8)} ${gid}`);
    };
    proto.chown = async function (this: FileHandle, ...args) { await note(this, "chown"); return chown.apply(this, args); };
    proto.writeFile = async function (this: FileHandle, ...args) { await note(this, "write"); return writeFile.apply(this, args); };
    const before = process.umask(0o022);
    try {
      await writeProfileCredentials(file, "gw", creds("W1"));
    } finally {
      Object.assign(proto, { chown, writeFile });
      process.umask(before);
    }
    // From the temporary file's chown on (the lock file's pid is written before): owner-only, then the group's.
    expect(seen.slice(seen.findIndex((at) => at.startsWith("chown")))).toEqual(["chown 600 0", "write 640 4242"]);
  });

  it("the line is a warning of code RAA_CREDENTIALS_FILE_MODE, also without a uid (no checked walk)", async () => {
    const file = join(dir, "coded-604");
    writeFileSync(file, "", { mode: 0o604 });
    chmodSync(file, 0o604);
    const spy = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    const geteuid = process.geteuid;
    process.geteuid = undefined;
    try {
      await writeProfileCredentials(file, "gw", creds("C1"));
      expect(spy.mock.calls).toEqual([[`credentials file ${file} was readable by other users (mode 604); written 600`, { code: "RAA_CREDENTIALS_FILE_MODE" }]]);
    } finally {
      process.geteuid = geteuid;
      spy.mockRestore();
    }
  });

  it("writes a file with two [other] sections, then warns once per process (RAA_CREDENTIALS_FILE_DUPLICATE): the AWS CLI reads none of it", async () => {
    const file = join(dir, "two-other");
    writeFileSync(file, "[other]\nk = 1\n[other]\nk = 2\n", { mode: 0o600 });
    const spy = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      await writeProfileCredentials(file, "gw", creds("D1"));
      await writeProfileCredentials(file, "gw", creds("D2")); // a daemon's next refresh: no second line
      expect(readFileSync(file, "utf8")).toContain("[gw]\naws_access_key_id = D2\n");
      const line = "the credentials file has two [other] sections, lines 1 and 3: botocore (the AWS CLI) reads no profile of it, [gw] included;"
        + ` delete one of them (keep the other's settings) (${file})`;
      expect(spy.mock.calls).toEqual([[line, { code: "RAA_CREDENTIALS_FILE_DUPLICATE" }]]);
    } finally {
      spy.mockRestore();
    }
  });

  it("names the file whose mode changed, not a symbolic link to it", async () => {
    const [file, link] = [join(dir, "linked-644"), join(dir, "link-to-644")];
    writeFileSync(file, "", { mode: 0o644 });
    chmodSync(file, 0o644);
    symlinkSync(file, link);
    expect(await warnings(() => writeProfileCredentials(link, "gw", creds("L1")))).toEqual([`credentials file ${file} was readable by other users (mode 644); written 640`]);
    expect([modeOf(file), lstatSync(link).isSymbolicLink()]).toEqual([0o640, true]);
  });

  it("a new file is 0600 whatever the umask", async () => {
    const before = process.umask(0o002);
    try {
      const file = join(dir, "new");
      expect(await warnings(() => writeProfileCredentials(file, "gw", creds("N1")))).toEqual([]);
      expect(modeOf(file)).toBe(0o600);
    } finally {
      process.umask(before);
    }
  });

  it("not root: the group's bit only with the group kept (a member of it), else 0600 and one line", () => {
    // uid 65534 rewriting its own files through setpriv: in group 4242 or not, and one a user of group 4242
    // (uid 4343) put in a directory the group can write (she could then read the credentials with her group).
    const home = join(dir, "nobody");
    mkdirSync(home, { mode: 0o770 });
    const files = { member: 0o640, notMember: 0o640, theirs: 0o660 };
    for (const [name, mode] of Object.entries(files)) {
      writeFileSync(join(home, name), "", { mode });
      chmodSync(join(home, name), mode);
      chownSync(join(home, name), name === "theirs" ? 4343 : 65534, 4242);
    }
    chownSync(home, 65534, 4242);
    chmodSync(dir, 0o755);
    execFileSync("setfacl", ["-m", "u:4343:r,g:4444:r,u:4545:-", join(home, "notMember")]); // shared with her and a group (u:4545 reads nothing: not named): not with another group's file
    const entry = join(dir, "entry.ts");
    const write = join(import.meta.dirname, "../../src/update/write-credentials.ts");
    writeFileSync(entry, `import { writeProfileCredentials } from ${JSON.stringify(write)};
      process.emitWarning = (message) => console.log("warning:", message);
      const creds = { accessKeyId: "S1", secretAccessKey: "s", sessionToken: "t", expiration: new Date(Date.now() + 3600_000) };
      await writeProfileCredentials(process.argv[2], "gw", creds);`);
    buildSync({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: join(dir, "entry.mjs"), logLevel: "silent" });
    chmodSync(join(dir, "entry.mjs"), 0o644);
    // The native helper where the bundle looks for it (else no ACL can be read, and every group bit goes).
    cpSync(join(import.meta.dirname, "../../dist/native"), join(dir, "native"), { recursive: true });
    const as = (file: string, groups: string, gid = 65534) =>
      execFileSync("setpriv", ["--reuid=65534", `--regid=${gid}`, groups, process.execPath, join(dir, "entry.mjs"), join(home, file)], { encoding: "utf8" });
    expect(as("member", "--groups=4242")).toBe("");
    expect([statSync(join(home, "member")).gid, modeOf(join(home, "member"))]).toEqual([4242, 0o640]);
    expect(as("notMember", "--clear-groups")).toBe(`warning: credentials file ${join(home, "notMember")} was readable by group 4242, which this process is not in, and through its ACL by u:4343, g:4444 (mode 640); written 600\n`);
    expect([statSync(join(home, "notMember")).gid, modeOf(join(home, "notMember"))]).toEqual([65534, 0o600]);
    expect(execFileSync("getfacl", ["--omit-header", join(home, "notMember")], { encoding: "utf8" }).trim().split("\n")).toEqual(["user::rw-", "group::---", "other::---"]);
    // Its primary group 4242, as the file's: the temporary file has the group, not the owner (the group's bit goes).
    expect(as("theirs", "--clear-groups", 4242)).toBe(`warning: credentials file ${join(home, "theirs")} was writable by its group and readable by the group of uid 4343, whose file it was (mode 660); written 600\n`);
    expect([statSync(join(home, "theirs")).uid, modeOf(join(home, "theirs"))]).toEqual([65534, 0o600]);
    for (const name of Object.keys(files)) expect(readFileSync(join(home, name), "utf8")).toContain("aws_access_key_id = S1\n");
  });
});
