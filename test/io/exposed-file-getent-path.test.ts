/**
 * Round 33: groupShared ran `getent` found through PATH, and root's `update` asks it (a group only the name service
 * has): a `getent` planted in a directory of PATH ran as root. It is taken from /usr/bin or /bin now; without either the
 * name service is not asked (no other account known, as when getent fails).
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";

const etc = vi.hoisted(() => ({ absent: [] as string[] }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const files: Record<string, string> = {
    "/etc/nsswitch.conf": "group: files sss\n",
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "/etc/group": "root:x:0:\n",
  };
  const readFileSync = ((path: unknown, ...rest: unknown[]) =>
    typeof path === "string" && path in files ? files[path] : (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest)) as typeof fs.readFileSync;
  const existsSync = ((path: string) => !etc.absent.includes(path) && fs.existsSync(path)) as typeof fs.existsSync;
  return { ...fs, readFileSync, existsSync, default: { ...fs, readFileSync, existsSync } };
});

const { groupShared } = await import("../../src/os/exposed-file.js");

const PATH = process.env["PATH"];
afterEach(() => {
  process.env["PATH"] = PATH;
  etc.absent = [];
});

/** A directory put first in PATH, holding a `getent` that leaves a file behind and names another account in the group. */
function plantGetent(): { marks: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), "raa-getent-"));
  const script = join(dir, "getent");
  writeFileSync(script, `#!/bin/sh\ntouch "${dir}/ran-$1"\necho "ldapgroup:x:$2:mallory"\n`);
  chmodSync(script, 0o755);
  process.env["PATH"] = `${dir}:${PATH}`;
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return { marks: () => readdirSync(dir).filter((name) => name.startsWith("ran-")) };
}

describe("groupShared asks the name service by getent's fixed path, never PATH's", () => {
  it("a getent planted first in PATH does not run", () => {
    const planted = plantGetent();
    groupShared(61_997, 61_000); // a group neither /etc/group nor (likely) the real name service has
    expect(planted.marks()).toEqual([]);
  });

  it("with no getent in /usr/bin or /bin, the name service is not asked: no other account known, PATH's getent not run", () => {
    const planted = plantGetent();
    etc.absent = ["/usr/bin/getent", "/bin/getent"];
    expect(groupShared(61_997, 61_000)).toBe(false);
    expect(planted.marks()).toEqual([]);
  });
});
