/**
 * Names that are not UTF-8, and strings that are not whole UTF-16 (a lone surrogate, from a JSON escape): what Node
 * opens for them, and what a message and a hint then say.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { shellWord } from "../../src/errors.js";
import { fileError, NOT_UTF8 } from "../../src/io/input-file.js";

const scratch = mkdtempSync(join(tmpdir(), "raa-not-utf8-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe("a path string with a lone surrogate (a config's \"\\ud800\")", () => {
  it("is opened by Node as U+FFFD's bytes, and the hint's word names that same file in sh and bash", () => {
    const dir = mkdtempSync(join(scratch, "s-"));
    const path = join(dir, "k\ud800.pem");
    writeFileSync(path, "x", { mode: 0o644 });
    writeFileSync(join(dir, "k.pem"), "x", { mode: 0o644 });
    expect(readdirSync(dir, { encoding: "buffer" }).map((b) => b.toString("hex")).sort()).toEqual(["6b2e70656d", "6befbfbd2e70656d"]);
    for (const shell of ["sh", "bash"]) {
      chmodSync(path, 0o644);
      expect(spawnSync(shell, ["-c", `chmod 600 ${shellWord(path)}`], { stdio: "ignore" }).status).toBe(0);
      expect([modeOf(join(dir, "k\ufffd.pem")), modeOf(join(dir, "k.pem"))]).toEqual([0o600, 0o644]);
    }
  });
});

describe("a file whose name is not UTF-8 (k\\xff.pem)", () => {
  // Round 37 (H3): Node gives its name (argv, readdir) as k\ufffd.pem, whose bytes name no file: the message said the
  // key "does not exist (check the path)" while `ls` shows it.
  it("is not found by the name Node gives it, and the hint says why instead of naming another file", () => {
    const dir = mkdtempSync(join(scratch, "b-"));
    writeFileSync(Buffer.from(`${dir}/k\xff.pem`, "latin1"), "x");
    const [name] = readdirSync(dir);
    expect(name).toBe("k\ufffd.pem");
    const path = join(dir, name!);
    let error: unknown;
    try {
      readFileSync(path);
    } catch (e) {
      error = e;
    }
    const refused = fileError(error, path, "private key file");
    expect([refused.code, refused.hint]).toEqual(["FILE_NOT_FOUND", NOT_UTF8]);
    expect(fileError(error, join(dir, "k.pem"), "private key file").hint).toBe("check the path");
  });
});
