import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync, chownSync, closeSync, constants, lchownSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync,
  statSync, symlinkSync, writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  absoluteHome, checkDirectoryRule, checkTrustedFile, directoryErrorText, fileKind, O_PATH, openCheckedDirectory,
  openCheckedFile, setMadeDirectoryMode, walkToEntry,
} from "../../src/io/trusted-path.js";
import { makeTempDir } from "../helpers/pki.js";
import { workOf } from "../helpers/work-counted.js";

const { dir, cleanup } = makeTempDir("raa-trusted-path-");
const fs = createRequire(import.meta.url)("node:fs") as object;
const uid = process.getuid!();
const root = uid === 0;

beforeAll(() => {
  mkdirSync(join(dir, "a", "b"), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "a", "b", "file"), "content", { mode: 0o600 });
});
afterAll(cleanup);

function read(path: string): string {
  const opened = openCheckedFile(path, "file", uid);
  try {
    return readFileSync(opened.fd, "utf8");
  } finally {
    closeSync(opened.fd);
  }
}

describe("walkToEntry / openCheckedFile", () => {
  it("reads a file through its checked directories, resolving '..' and relative and absolute symbolic links as the kernel does", () => {
    expect(read(join(dir, "a", "b", "file"))).toBe("content");
    symlinkSync("b", join(dir, "a", "rel"));
    symlinkSync(join(dir, "a", "b"), join(dir, "a", "abs"));
    symlinkSync("../a/b/file", join(dir, "a", "file-link"));
    expect(read(join(dir, "a", "rel", "file"))).toBe("content");
    expect(read(join(dir, "a", "abs", "file"))).toBe("content");
    expect(read(join(dir, "a", "file-link"))).toBe("content");
    // '..' after a symbolic link is the parent of where the link leads, not lexical.
    symlinkSync(join(dir, "a", "b"), join(dir, "jump"));
    writeFileSync(join(dir, "a", "sibling"), "sibling", { mode: 0o600 });
    expect(walkToEntry(join(dir, "jump") + "/../sibling", { uid }).path).toBe(join(dir, "a", "sibling"));
  });

  it("follows no symbolic link with a second name where others can write: a hard link of a relative one leads elsewhere", () => {
    // Where fs.protected_hardlinks=0 anyone may make one, in a sticky directory (/tmp) for instance: "b/file" then
    // names their file. Before: followed as its owner's.
    const shared = join(dir, "hard-linked");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    symlinkSync("b/file", join(dir, "a", "own-link"));
    linkSync(join(dir, "a", "own-link"), join(shared, "planted"));
    mkdirSync(join(shared, "b"), { mode: 0o700 });
    writeFileSync(join(shared, "b", "file"), "theirs", { mode: 0o600 });
    expect(() => walkToEntry(join(shared, "planted"), { uid })).toThrow(
      `symbolic link ${join(shared, "planted")} has 2 names (hard links), in a directory others can write to: another user may have made this one`,
    );
    // Control: in a directory only its owner can write (Nix's store hard-links identical links), it is followed.
    const entry = walkToEntry(join(dir, "a", "own-link"), { uid, linksOnly: true });
    expect(entry.path).toBe(join(dir, "a", "b", "file"));
    entry.directory.close();
  });

  it("reports what is missing, a loop and a non-directory on the way as OS errors", () => {
    expect(() => read(join(dir, "a", "missing", "file"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
    expect(() => read(join(dir, "a", "b", "file", "below"))).toThrow(expect.objectContaining({ code: "ENOTDIR" }));
    symlinkSync("loop2", join(dir, "loop1"));
    symlinkSync("loop1", join(dir, "loop2"));
    expect(() => read(join(dir, "loop1"))).toThrow(expect.objectContaining({ code: "ELOOP" }));
    const missing = walkToEntry(join(dir, "a", "b", "nothing"), { uid });
    expect(missing.stats).toBeUndefined();
    missing.directory.close();
  });

  it("refuses a file or a directory others can write; sticky directories above are fine, the file's own is not", () => {
    mkdirSync(join(dir, "sticky"));
    chmodSync(join(dir, "sticky"), 0o1777);
    mkdirSync(join(dir, "sticky", "mine"), { mode: 0o700 });
    writeFileSync(join(dir, "sticky", "mine", "f"), "x", { mode: 0o644 });
    expect(read(join(dir, "sticky", "mine", "f"))).toBe("x");
    writeFileSync(join(dir, "sticky", "f"), "x", { mode: 0o600 });
    expect(() => read(join(dir, "sticky", "f"))).toThrow(/the directory of file .*sticky\/f, .*sticky, can be written by other users \(mode 1777\)/);
    chmodSync(join(dir, "sticky", "mine", "f"), 0o620);
    expect(() => read(join(dir, "sticky", "mine", "f"))).toThrow(/file .*mine\/f can be written by other users \(mode 620\)/);
    mkdirSync(join(dir, "open", "inner"), { recursive: true });
    chmodSync(join(dir, "open"), 0o777);
    writeFileSync(join(dir, "open", "inner", "f"), "x", { mode: 0o600 });
    expect(() => read(join(dir, "open", "inner", "f"))).toThrow(/directory .*open can be written by other users \(mode 777\)/);
  });

  it("refuses a FIFO at once, without waiting for a writer that may never come", async () => {
    const fifo = join(dir, "a", "b", "fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    // A writer that comes late: before the fix, opening the FIFO waited for it (and forever without one).
    const late = spawn("sh", ["-c", `sleep 1.5; : > ${fifo}`]);
    try {
      // Counted, not timed: an open() that can wait for a writer (neither O_NONBLOCK, O_PATH nor O_DIRECTORY) throws
      // before it is made.
      let opens = 0;
      const waits = (flags: unknown) => (opens++, Number(flags) & (constants.O_NONBLOCK | O_PATH | constants.O_DIRECTORY) ? 0 : 1);
      const refused = () => { try { read(fifo); } catch (e) { return e; } };
      const { result: error } = await workOf(fs, "openSync", refused, { budget: 0, weigh: (_, [, flags]) => waits(flags) });
      expect(error).toMatchObject({ code: "FILE_NOT_REGULAR", message: expect.stringMatching(/file .*fifo is not a regular file/) });
      expect(opens).toBeGreaterThan(0); // the walk's opens, and the FIFO's, went through the count
    } finally {
      late.kill("SIGKILL");
    }
  });

  it.runIf(root)("refuses anything on the way that belongs to another user, but trusts root's", () => {
    mkdirSync(join(dir, "theirs"), { mode: 0o755 });
    writeFileSync(join(dir, "theirs", "f"), "x", { mode: 0o644 });
    chownSync(join(dir, "theirs"), 65534, 65534);
    expect(() => walkToEntry(join(dir, "theirs", "f"), { uid: 1000 })).toThrow(/directory .*theirs belongs to uid 65534, not to this user \(1000\) or root/);
    expect(() => walkToEntry(join(dir, "a", "b", "file"), { uid: 1000 })).not.toThrow(); // root's directories
    mkdirSync(join(dir, "links"));
    symlinkSync(join(dir, "a"), join(dir, "links", "l"));
    lchownSync(join(dir, "links", "l"), 65534, 65534);
    expect(() => walkToEntry(join(dir, "links", "l", "b", "file"), { uid })).toThrow(/symbolic link .*links\/l belongs to uid 65534/);
  });
});

describe("openCheckedDirectory", () => {
  it("creates missing directories with the given mode and leaves the last one's rule to the caller", () => {
    const made = openCheckedDirectory(join(dir, "new", "deeper"), { uid, createMode: 0o700 });
    try {
      expect(made.path).toBe(join(dir, "new", "deeper"));
      expect(statSync(join(dir, "new")).mode & 0o777).toBe(0o700);
      expect(made.stats.mode & 0o777).toBe(0o700);
      expect(() => checkDirectoryRule(made, uid)).not.toThrow();
      writeFileSync(made.entry("through-fd"), "x");
      expect(readFileSync(join(dir, "new", "deeper", "through-fd"), "utf8")).toBe("x");
    } finally {
      made.close();
    }
    chmodSync(join(dir, "new", "deeper"), 0o757);
    const open = openCheckedDirectory(join(dir, "new", "deeper"), { uid });
    expect(() => checkDirectoryRule(open, uid)).toThrow(/can be written by other users \(mode 757\)/);
    open.close();
    expect(() => openCheckedDirectory(join(dir, "a", "b", "file"), { uid })).toThrow(expect.objectContaining({ code: "ENOTDIR" }));
  });
});

describe("what a mutation run found untested", () => {
  const openDescriptors = () => readdirSync("/proc/self/fd").length;

  it("leaves no descriptor open, whether the walk succeeds, follows links or fails", () => {
    // A long-running agent re-checks its config and sockets for days: one descriptor lost per walk ends in EMFILE.
    mkdirSync(join(dir, "fds", "d"), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, "fds", "d", "f"), "x", { mode: 0o600 });
    writeFileSync(join(dir, "fds", "d", "open"), "x");
    chmodSync(join(dir, "fds", "d", "open"), 0o666);
    symlinkSync("d", join(dir, "fds", "l"));
    symlinkSync(join(dir, "fds", "d", "f"), join(dir, "fds", "abs"));
    const before = openDescriptors();
    for (let i = 0; i < 3; i++) {
      expect(read(join(dir, "fds", "l", "f"))).toBe("x");
      expect(read(join(dir, "fds", "abs"))).toBe("x");
      checkTrustedFile(join(dir, "fds", "d", "f"), "module", uid);
      expect(() => read(join(dir, "fds", "d", "open"))).toThrow(/can be written by other users/);
      expect(() => read(join(dir, "fds", "d", "f", "x"))).toThrow(expect.objectContaining({ code: "ENOTDIR" }));
      expect(() => read(join(dir, "fds", "d"))).toThrow(expect.objectContaining({ code: "FILE_NOT_REGULAR" }));
      const notDirectory = expect.objectContaining({ code: "ENOTDIR" });
      expect(() => openCheckedDirectory(join(dir, "fds", "d", "f"), { uid })).toThrow(notDirectory);
      openCheckedDirectory(join(dir, "fds", "made"), { uid, createMode: 0o700 }).close();
      walkToEntry(join(dir, "fds", "d", "missing"), { uid }).directory.close();
    }
    expect(openDescriptors()).toBe(before);
  });

  it("follows 40 symbolic links in a row, as the kernel does, and refuses the 41st", () => {
    mkdirSync(join(dir, "chain"));
    writeFileSync(join(dir, "chain", "l0"), "end", { mode: 0o600 });
    for (let i = 1; i <= 41; i++) symlinkSync(`l${i - 1}`, join(dir, "chain", `l${i}`));
    expect(read(join(dir, "chain", "l40"))).toBe("end");
    const loop = { code: "ELOOP", message: `too many symbolic links in ${join(dir, "chain", "l41")}` };
    expect(() => read(join(dir, "chain", "l41"))).toThrow(expect.objectContaining(loop));
  });

  it("resolves '.', '//', '..' and '/..' in a path like the kernel, and refuses one that names no file", () => {
    const file = join(dir, "a", "b", "file");
    expect(read(`${dir}//a/./../a/b/./file`)).toBe("content");
    expect(read(`/../..${file}`)).toBe("content");
    expect(walkToEntry(`${dir}/a/b/../b/file`, { uid }).path).toBe(file);
    for (const path of ["/", `${dir}/a/..`]) {
      const shape = expect.objectContaining({ code: "EISDIR", message: `${path} does not end in a file name` });
      expect(() => walkToEntry(path, { uid })).toThrow(shape);
    }
  });

  it("gives an OS error for a name too long, not 'missing'", () => {
    const tooLong = expect.objectContaining({ code: "ENAMETOOLONG" });
    expect(() => walkToEntry(join(dir, "a", "n".repeat(300)), { uid })).toThrow(tooLong);
  });

  it("says what is missing and what is not a directory in its own words (never a /proc/self/fd path)", () => {
    const error = (code: string, message: string) => expect.objectContaining({ code, message });
    const [missing, nope] = [join(dir, "a", "missing"), join(dir, "a", "nope")];
    expect(() => read(missing)).toThrow(error("ENOENT", `${missing} does not exist`));
    expect(() => read(join(nope, "f"))).toThrow(error("ENOENT", `${nope} does not exist`));
    const file = join(dir, "a", "b", "file");
    expect(() => read(join(file, "f"))).toThrow(error("ENOTDIR", `${file} is not a directory`));
    expect(() => read(join(dir, "a"))).toThrow(expect.objectContaining({ hint: "give the path of a file" }));
  });

  it("reaches entries through the held directory descriptor on Linux, not by name again", () => {
    const entry = walkToEntry(join(dir, "a", "b", "file"), { uid });
    try {
      expect(entry.directory.entry("file")).toMatch(/^\/proc\/self\/fd\/\d+\/file$/);
    } finally {
      entry.directory.close();
    }
  });

  it("names the code and words of each OS error on a directory the user named", () => {
    expect(directoryErrorText({ code: "ENOENT" })).toBe("does not exist");
    expect(directoryErrorText({ code: "ENOTDIR" })).toBe("is not a directory");
    expect(directoryErrorText({ code: "EISDIR" })).toBe("must name a directory below / (not a path ending in ..)");
    expect(directoryErrorText({ code: "EACCES" })).toBe("cannot be used: EACCES");
    expect(directoryErrorText(new Error("odd"))).toBe("cannot be used: odd");
  });

  it("names each kind of file", async () => {
    execFileSync("mkfifo", [join(dir, "kind-fifo")]);
    symlinkSync("a", join(dir, "kind-link"));
    expect(fileKind(statSync(join(dir, "a", "b", "file")))).toBe("a regular file");
    expect(fileKind(statSync(join(dir, "kind-fifo")))).toBe("a FIFO");
    expect(fileKind(statSync("/dev/null"))).toBe("a character device");
    expect(fileKind(statSync(dir))).toBe("a directory");
    expect(fileKind(lstatSync(join(dir, "kind-link")))).toBe("a symbolic link");
    const server = createServer();
    await new Promise<void>((listening) => server.listen(join(dir, "kind-socket"), listening));
    try {
      expect(fileKind(statSync(join(dir, "kind-socket")))).toBe("a socket");
    } finally {
      server.close();
    }
  });

  it("checks a file to be loaded later by name (a PKCS#11 module) with the same rule", () => {
    writeFileSync(join(dir, "a", "module.so"), "x", { mode: 0o644 });
    expect(() => checkTrustedFile(join(dir, "a", "module.so"), "PKCS#11 module", uid)).not.toThrow();
    chmodSync(join(dir, "a", "module.so"), 0o664);
    expect(() => checkTrustedFile(join(dir, "a", "module.so"), "PKCS#11 module", uid)).toThrow(
      expect.objectContaining({
        code: "FILE_UNSAFE",
        message: `PKCS#11 module ${join(dir, "a", "module.so")} can be written by other users (mode 664)`,
      }),
    );
  });

  it("gives a directory made with createMode that mode under any umask, and returns its stats after the change", () => {
    const old = process.umask(0o077);
    try {
      const made = openCheckedDirectory(join(dir, "umask", "inner"), { uid, createMode: 0o750 });
      made.close();
      expect(made.stats.mode & 0o777).toBe(0o750);
      expect(statSync(join(dir, "umask")).mode & 0o777).toBe(0o750);
    } finally {
      process.umask(old);
    }
  });

  it.runIf(root)("trusts what is the checked user's, refuses a file of another user's in a directory of root's", () => {
    mkdirSync(join(dir, "u1000", "sub"), { recursive: true, mode: 0o755 });
    writeFileSync(join(dir, "u1000", "sub", "f"), "mine", { mode: 0o600 });
    chownSync(join(dir, "u1000"), 1000, 1000);
    chownSync(join(dir, "u1000", "sub"), 1000, 1000);
    chownSync(join(dir, "u1000", "sub", "f"), 1000, 1000);
    const opened = openCheckedFile(join(dir, "u1000", "sub", "f"), "file", 1000);
    closeSync(opened.fd);
    expect(opened.stats.uid).toBe(1000);
    writeFileSync(join(dir, "a", "theirs"), "x", { mode: 0o600 });
    chownSync(join(dir, "a", "theirs"), 65534, 65534);
    expect(() => read(join(dir, "a", "theirs"))).toThrow(expect.objectContaining({
      code: "FILE_UNSAFE",
      message: `file ${join(dir, "a", "theirs")} belongs to uid 65534, not to this user (${uid}) or root`,
    }));
  });

  it.runIf(root)("chmods a directory it made only while it is this user's, never another user's or a link", () => {
    mkdirSync(join(dir, "chmod", "theirs"), { recursive: true, mode: 0o755 });
    chownSync(join(dir, "chmod", "theirs"), 65534, 65534);
    expect(setMadeDirectoryMode(join(dir, "chmod", "theirs"), undefined, 0o700)).toBe(false);
    const fd = openSync(join(dir, "chmod", "theirs"), O_PATH | constants.O_DIRECTORY);
    try {
      expect(setMadeDirectoryMode(join(dir, "chmod", "theirs"), fd, 0o700)).toBe(false);
    } finally {
      closeSync(fd);
    }
    expect(statSync(join(dir, "chmod", "theirs")).mode & 0o777).toBe(0o755);
    mkdirSync(join(dir, "chmod", "mine"), { mode: 0o755 });
    symlinkSync("mine", join(dir, "chmod", "link"));
    expect(setMadeDirectoryMode(join(dir, "chmod", "link"), undefined, 0o700)).toBe(false);
    expect(statSync(join(dir, "chmod", "mine")).mode & 0o777).toBe(0o755);
    expect(setMadeDirectoryMode(join(dir, "chmod", "mine"), undefined, 0o700)).toBe(true);
    expect(statSync(join(dir, "chmod", "mine")).mode & 0o777).toBe(0o700);
  });

  it.runIf(root)("has no default for root whose HOME others can write, even when root owns it", () => {
    mkdirSync(join(dir, "shared-home"), { mode: 0o755 });
    chmodSync(join(dir, "shared-home"), 0o777);
    const home = join(dir, "shared-home");
    const hint = "pass --credentials-file";
    expect(() => absoluteHome(home, "FILE_WRITE_FAILED", "credentials file", hint, 0)).toThrow(expect.objectContaining({
      message: `no default credentials file for root: HOME (${home}) is not root's alone: `
        + `directory ${home} can be written by other users (mode 777)`,
      hint: "that user could read what root puts there: pass --credentials-file, or run with root's HOME (sudo -H)",
    }));
    expect(absoluteHome(home, "FILE_WRITE_FAILED", "credentials file", hint, 1000)).toBe(home); // not root
    const relative = () => absoluteHome("rel", "FILE_WRITE_FAILED", "credentials file", "pass it", 0);
    expect(relative).toThrow(expect.objectContaining({ hint: "pass it" }));
  });

  it.runIf(root)("checks root's HOME without leaving a descriptor open, and leaves a HOME it cannot walk to the write", () => {
    // update checks HOME at each start of a refresh loop: one directory left open per check ends in EMFILE.
    mkdirSync(join(dir, "root-home"), { mode: 0o700 });
    mkdirSync(join(dir, "open-home"), { mode: 0o755 });
    chmodSync(join(dir, "open-home"), 0o1777);
    writeFileSync(join(dir, "home-file"), "", { mode: 0o600 });
    const hint = "pass --credentials-file";
    const before = openDescriptors();
    for (let i = 0; i < 3; i++) {
      for (const home of [join(dir, "root-home"), join(dir, "root-home", "missing", "below")]) {
        expect(absoluteHome(home, "FILE_WRITE_FAILED", "credentials file", hint, 0)).toBe(home);
      }
      expect(() => absoluteHome(join(dir, "open-home"), "FILE_WRITE_FAILED", "credentials file", hint, 0)).toThrow(/mode 1777/);
      // A file on the way (ENOTDIR): not a directory someone else could write, so its own error comes at the write.
      const odd = join(dir, "home-file", "sub");
      expect(absoluteHome(odd, "FILE_WRITE_FAILED", "credentials file", hint, 0)).toBe(odd);
    }
    expect(openDescriptors()).toBe(before);
  });
});
