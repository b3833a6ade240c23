/**
 * Round 39, M43: survivors of input-file.ts' NOT_UTF8 lines. The tests compared the hint with NOT_UTF8 itself, so an
 * empty NOT_UTF8 passed; fileError's ENOENT kept no cause either way.
 */
import { describe, expect, it } from "vitest";
import { fileError } from "../../src/io/input-file.js";

const enoent = Object.assign(new Error("ENOENT: no such file or directory"), { code: "ENOENT" });

describe("fileError for a missing path", () => {
  it("holding U+FFFD: the hint says the name may not be UTF-8 and to rename it", () => {
    const refused = fileError(enoent, "/tmp/caf\ufffd.pem", "certificate file");
    expect(refused.hint).toBe("check the path; a name that is not UTF-8 shows \ufffd where its bytes are not, and this program cannot open it: rename it");
  });

  it("without it: check the path, and the OS error kept as the cause", () => {
    const refused = fileError(enoent, "/tmp/cafe.pem", "certificate file");
    expect([refused.code, refused.hint, refused.cause]).toEqual(["FILE_NOT_FOUND", "check the path", enoent]);
  });
});
