import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, closeSync, lchownSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDirectoryRule, openCheckedDirectory, openCheckedFile, walkToEntry } from "../../src/io/trusted-path.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-trusted-path-");
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
      const started = Date.now();
      expect(() => read(fifo)).toThrow(expect.objectContaining({ code: "FILE_NOT_REGULAR", message: expect.stringMatching(/file .*fifo is not a regular file/) }));
      expect(Date.now() - started).toBeLessThan(1000);
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
