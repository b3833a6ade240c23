/**
 * Round 34: a secret file in a directory its group may write to (a group nobody else is in) is safe only if the
 * directory's ACL names no other writer. Where no ACL can be read (no native helper, or one that reads none on this
 * OS) the signer said nothing, while doctor said "ACL not checked": now the warning says so too, one line, once, with
 * the reason and the getfacl to run. Where the ACL is read, or the mode alone settles it (0755), nothing.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";

const native = vi.hoisted(() => ({ load: { reason: "none here (test)" } as object, loads: 0 }));
vi.mock("../../src/os/native-helper.js", () => ({ loadNativeHelper: () => (native.loads++, native.load) }));
const { exposedFileWarnings, warnIfExposed } = await import("../../src/os/exposed-file.js");

// Ids no account of a test machine has (groupShared reads the real /etc/passwd and /etc/group).
const [uid, gid] = [61_000, 61_000];
const root = mkdtempSync(join(tmpdir(), "raa-unchecked-dir-")); // 0700 in sticky /tmp: not changeable
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => {
  native.load = { reason: "none here (test)" };
  native.loads = 0;
  const spies = [vi.spyOn(process, "getuid").mockReturnValue(uid), vi.spyOn(process, "getgid").mockReturnValue(gid), vi.spyOn(process, "getgroups").mockReturnValue([gid])];
  onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
});
const pinIn = (name: string, mode: number) => {
  const dir = join(root, name);
  mkdirSync(dir);
  chmodSync(dir, mode); // not through the umask
  chownSync(dir, uid, gid); // this user's directory of its own group, nobody else in it (umask 002's ~/.config)
  const pin = join(dir, "pin");
  writeFileSync(pin, "1234", { mode: 0o600 });
  return { dir, pin };
};

describe.runIf(process.getuid?.() === 0)("the signer's warning about a directory whose ACL cannot be read", () => {
  it("a 0775 directory of a group nobody else is in, no ACL reader: one line saying it was not checked, told once", () => {
    const { dir, pin } = pinIn("d775", 0o775);
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    onTestFinished(() => warn.mockRestore());
    warnIfExposed({ mode: 0o100600, owner: uid, gid }, pin, "PIN file");
    warnIfExposed({ mode: 0o100600, owner: uid, gid }, pin, "PIN file"); // a daemon's next read
    expect(warn.mock.calls).toEqual([[
      `PIN file ${pin} is in ${dir}, which its group may write to; its ACL was not checked (none here (test)): check that it names no other writer: getfacl ${dir}`,
      { code: "RAA_EXPOSED_FILE" },
    ]]);
  });

  it("a helper that reads no ACL on this OS: says so", () => {
    native.load = { helper: {} };
    const { dir, pin } = pinIn("d775-os", 0o775);
    expect(exposedFileWarnings({ mode: 0o100600, owner: uid, gid }, pin, "PIN file")).toEqual([
      `PIN file ${pin} is in ${dir}, which its group may write to; its ACL was not checked (the native helper reads no ACL on ${process.platform}): check that it names no other writer: getfacl ${dir}`,
    ]);
  });

  it("where the ACL is read (none set), or the mode settles it (0755): nothing, and 0755 loads no helper", () => {
    native.load = { helper: { accessAcl: () => null } };
    expect(exposedFileWarnings({ mode: 0o100600, owner: uid, gid }, pinIn("d775-read", 0o775).pin, "PIN file")).toEqual([]);
    native.load = { reason: "none here (test)" };
    native.loads = 0;
    expect(exposedFileWarnings({ mode: 0o100600, owner: uid, gid }, pinIn("d755", 0o755).pin, "PIN file")).toEqual([]);
    expect(native.loads).toBe(0);
  });
});
