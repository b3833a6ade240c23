/**
 * Round 39, M43: survivors of input-file.ts' NOT_UTF8 lines. The tests compared the hint with NOT_UTF8 itself, so an
 * empty NOT_UTF8 passed; fileError's ENOENT kept no cause either way. Round 40 (T4): the hint is given only when a
 * name of other bytes is there for the path's U+FFFD to stand for, not for every missing path holding one. Round 41
 * (M45): the directory is read entry by entry to the first such name, its descriptor closed either way.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fileError } from "../../src/io/input-file.js";

const enoent = Object.assign(new Error("ENOENT: no such file or directory"), { code: "ENOENT" });
const scratch = mkdtempSync(join(tmpdir(), "raa-not-utf8-hint-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("fileError for a missing path", () => {
  it("holding U+FFFD for a name of Latin-1 bytes that is there: the hint says the name is not UTF-8 and to rename it", () => {
    writeFileSync(Buffer.from(`${scratch}/caf\xe9.pem`, "latin1"), "x");
    const refused = fileError(enoent, `${scratch}/caf\ufffd.pem`, "certificate file");
    expect(fileError(enoent, `${scratch}//./../${scratch.split("/").pop()}/caf\ufffd.pem`, "certificate file").hint).toBe(refused.hint);
    expect(refused.hint).toBe("check the path; a name that is not UTF-8 shows \ufffd where its bytes are not, and this program cannot open it: rename it");
  });

  it("holding U+FFFD that stands for nothing there (a real U+FFFD, or bytes of a missing name): check the path", () => {
    writeFileSync(`${scratch}/plain.pem`, "x");
    writeFileSync(`${scratch}/there\ufffd.pem`, "x"); // found after all (made meanwhile): nothing is missing
    const paths = [
      `${scratch}/caf\ufffd.key`, `${scratch}/gone\ufffd/caf\ufffd.pem`, `/nonexistent-raa/caf\ufffd.pem`,
      `${scratch}/plain.pem/caf\ufffd.pem`, `${scratch}/there\ufffd.pem`, `${scratch}/./../${scratch.split("/").pop()}/x/caf\ufffd.pem`,
    ];
    for (const path of paths) {
      expect(fileError(enoent, path, "certificate file").hint, path).toBe("check the path");
    }
  });

  it("without it: check the path, and the OS error kept as the cause", () => {
    const refused = fileError(enoent, "/tmp/cafe.pem", "certificate file");
    expect([refused.code, refused.hint, refused.cause]).toEqual(["FILE_NOT_FOUND", "check the path", enoent]);
  });
});

describe("fileError reading the directory for the hint", () => {
  const RENAME = "check the path; a name that is not UTF-8 shows \ufffd where its bytes are not, and this program cannot open it: rename it";
  const many = join(scratch, "many");
  mkdirSync(many);
  for (let i = 0; i < 300; i++) writeFileSync(join(many, `entry-${i}.pem`), "");
  writeFileSync(Buffer.from(`${many}/k\xff.pem`, "latin1"), "x");

  it("finds the name of other bytes among 300 others, and says 'check the path' for a part nothing there reads as", () => {
    expect(fileError(enoent, `${many}/k\ufffd.pem`, "certificate file").hint).toBe(RENAME);
    expect(fileError(enoent, `${many}/j\ufffd.pem`, "certificate file").hint).toBe("check the path");
  });

  it("leaves no descriptor open, whether it found the name or read to the end", () => {
    const open = () => readdirSync("/proc/self/fd").length;
    const before = open();
    for (let i = 0; i < 20; i++) {
      fileError(enoent, `${many}/k\ufffd.pem`, "certificate file");
      fileError(enoent, `${many}/j\ufffd.pem`, "certificate file");
    }
    expect(open()).toBe(before);
  });
});
