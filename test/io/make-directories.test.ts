/** makeDirectories (src/io/atomic-write.ts): the chmod that undoes the umask touches only a directory made here. */
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";

// Another user's directory put where ours was made, between our mkdir and the chmod (a parent they can write).
vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const mkdir = async (path: string, options: { mode: number }) => {
    await fs.mkdir(path, options);
    if (path.endsWith("/swapped")) {
      await fs.rmdir(path);
      mkdirSync(path, { mode: 0o755 });
      chownSync(path, 65534, 65534);
    }
  };
  return { ...fs, mkdir };
});

const { makeDirectories } = await import("../../src/io/atomic-write.js");
const dir = mkdtempSync(join(tmpdir(), "raa-mkdirs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("makeDirectories", () => {
  it("never changes the mode of another user's directory swapped in after its mkdir", async () => {
    if (process.geteuid?.() !== 0) return; // chmod of another user's directory succeeds for root only
    const swapped = join(dir, "swapped");
    await makeDirectories(swapped);
    expect([statSync(swapped).uid, statSync(swapped).mode & 0o777]).toEqual([65534, 0o755]);
  });
});
