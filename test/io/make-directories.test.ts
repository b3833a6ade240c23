/** makeDirectories (src/io/atomic-write.ts): the chmod that undoes the umask touches only a directory made here. */
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";

// Another user's directory put where ours was made, between our mkdir and the chmod (a parent they can write).
vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const mkdir = async (path: string, options: { mode: number }) => {
    // Made by another writer between our stat and our mkdir: EEXIST.
    if (path.endsWith("/raced")) mkdirSync(path, { mode: 0o750 });
    if (path.endsWith("/refused")) throw Object.assign(new Error(`EIO: mkdir '${path}'`), { code: "EIO" });
    await fs.mkdir(path, options);
    if (path.endsWith("/swapped")) {
      await fs.rmdir(path);
      mkdirSync(path, { mode: 0o755 });
      chownSync(path, 65534, 65534);
    }
  };
  return { ...fs, mkdir };
});

const { makeDirectories, mkdirError, writeError } = await import("../../src/io/atomic-write.js");
const dir = mkdtempSync(join(tmpdir(), "raa-mkdirs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("makeDirectories", () => {
  it("never changes the mode of another user's directory swapped in after its mkdir", async () => {
    if (process.geteuid?.() !== 0) return; // chmod of another user's directory succeeds for root only
    const swapped = join(dir, "swapped");
    await makeDirectories(swapped);
    expect([statSync(swapped).uid, statSync(swapped).mode & 0o777]).toEqual([65534, 0o755]);
  });

  it("a directory made meanwhile by another (EEXIST) is used as it is, and the rest made under it", async () => {
    const raced = join(dir, "raced");
    await makeDirectories(join(raced, "child"));
    expect([statSync(raced).mode & 0o777, statSync(join(raced, "child")).mode & 0o777]).toEqual([0o750, 0o700]);
  });

  it("any other mkdir failure is thrown as it is, and nothing below it is made", async () => {
    const refused = join(dir, "refused");
    await expect(makeDirectories(join(refused, "child"))).rejects.toMatchObject({ code: "EIO" });
    expect(() => statSync(refused)).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });
});

describe("mkdirError", () => {
  const errno = (code: string) => Object.assign(new Error(code), { code });
  it("a file where a directory should be is named (EEXIST, ENOTDIR); another errno under it is given as it is", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const below = join(file, "sub");
    expect(mkdirError(below, errno("ENOTDIR"))).toMatchObject({
      message: `cannot create directory ${below}: ${file} is a file, not a directory`,
      hint: `move ${file} out of the way, or give a path under an existing directory`,
    });
    const hint = "check the owner and permissions of the file and its directory, and the immutable flag (lsattr); "
      + "the file was left as it was";
    const refused = mkdirError(below, errno("EACCES"));
    expect(refused).toMatchObject({ message: `cannot create directory ${below}: EACCES`, hint });
  });
});

describe("writeError", () => {
  it.each([
    ["EFBIG", "the file size limit (ulimit -f) is too small for it; the file was left as it was"],
    ["EROFS", "the file system is mounted read-only; the file was left as it was"],
    ["EDQUOT", "the disk is full (or over quota): free some space; the file was left as it was"],
    ["EIO", undefined],
  ])("%s: what to do about it", (code, hint) => {
    const cause = Object.assign(new Error(code), { code });
    const error = writeError("cannot write f", cause);
    expect(error).toMatchObject({ code: "FILE_WRITE_FAILED", message: `cannot write f: ${code}`, hint, cause });
  });
});
