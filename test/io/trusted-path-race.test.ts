import { closeSync, linkSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { O_PATH, openCheckedFile } from "../../src/io/trusted-path.js";
import { makeTempDir } from "../helpers/pki.js";

/** Run once right before the next openSync that is not the walk's own (O_PATH): a name swapped after the checks. */
const beforeOpen = vi.hoisted(() => ({ once: undefined as (() => void) | undefined }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const openSync = ((...args: Parameters<typeof fs.openSync>) => {
    const flags = args[1];
    if (typeof flags === "number" && (flags & 0o10000000) === 0) {
      const hook = beforeOpen.once;
      beforeOpen.once = undefined;
      hook?.();
    }
    return fs.openSync(...args);
  }) as typeof fs.openSync;
  return { ...fs, default: { ...fs, openSync }, openSync };
});

const { dir, cleanup } = makeTempDir("raa-trusted-race-");
afterAll(cleanup);

describe("openCheckedFile against a file swapped in after the walk", () => {
  it("refuses the file at the name when it is not the one the walk looked at (same file system, another inode)", () => {
    expect(O_PATH).toBe(0o10000000);
    mkdirSync(join(dir, "d"), { mode: 0o700 });
    const path = join(dir, "d", "config");
    writeFileSync(path, "checked", { mode: 0o600 });
    const uid = process.getuid!();
    closeSync(openCheckedFile(path, "config", uid).fd);
    // Another file of the same owner and mode, on the same file system: only its inode tells it apart.
    writeFileSync(join(dir, "other"), "swapped", { mode: 0o600 });
    linkSync(join(dir, "other"), join(dir, "d", "incoming"));
    beforeOpen.once = () => renameSync(join(dir, "d", "incoming"), path);
    expect(() => openCheckedFile(path, "config", uid)).toThrow(expect.objectContaining({
      code: "FILE_UNSAFE",
      message: `config ${path} was replaced while it was being checked`,
    }));
    expect(beforeOpen.once).toBeUndefined();
  });
});
