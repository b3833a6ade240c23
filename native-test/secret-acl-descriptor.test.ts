/**
 * Round 34: a PIN or password file's POSIX ACL is read by the built native helper from the descriptor the secret was
 * read from (secretFileAcl): a real `setfacl -m u:65534:r` on root's 0640 file of the reader's group, then a clean file
 * renamed over its name right after the read. The warning names the entry of the file read (before: by name, nothing).
 * The reading account is a uid with no account (getuid and its groups given): no real login is needed for the rule.
 */
import { execFileSync } from "node:child_process";
import { chownSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";

const afterRead = vi.hoisted(() => new Map<string, () => void>());
vi.mock("../src/io/read-opened-file.js", async (actual) => {
  const real = await actual<typeof import("../src/io/read-opened-file.js")>();
  const readOpenedFile = async (path: string, ...rest: []) => {
    const read = await real.readOpenedFile(path, ...rest);
    afterRead.get(path)?.();
    return read;
  };
  return { ...real, readOpenedFile };
});
const { readSecret } = await import("../src/secrets/secret-source.js");
const { aclUnreadable } = await import("../src/os/access-acl.js");

const { dir, cleanup } = makeTempDir("raa-secret-acl-fd-");
afterAll(cleanup);
const [uid, gid] = [61_000, 61_000];

describe.runIf(process.getuid?.() === 0 && aclUnreadable() === undefined)("a secret file's ACL, read by the native helper", () => {
  it("root's 0640 PIN file with u:65534:r, a clean one renamed over it after the read: the read file's entry is told", async () => {
    const spies = [
      vi.spyOn(process, "getuid").mockReturnValue(uid), vi.spyOn(process, "getgid").mockReturnValue(gid),
      vi.spyOn(process, "getgroups").mockReturnValue([gid]), vi.spyOn(process, "emitWarning").mockImplementation(() => undefined),
    ];
    onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
    const pin = join(dir, "pin");
    writeFileSync(pin, "1234\n", { mode: 0o640 });
    chownSync(pin, 0, gid);
    execFileSync("setfacl", ["-m", "u:65534:r", pin]);
    afterRead.set(pin, () => {
      writeFileSync(`${pin}.clean`, "9999\n", { mode: 0o640 });
      chownSync(`${pin}.clean`, 0, gid);
      renameSync(`${pin}.clean`, pin);
    });
    const secret = await readSecret({ kind: "file", path: pin }, "PIN");
    expect(secret.use((bytes) => bytes.toString("utf8"))).toBe("1234");
    secret.wipe();
    expect(spies[3]!.mock.calls.map(([message]) => message)).toEqual([
      `PIN: file ${pin} can be read by other users through its ACL (entry u:65534): run setfacl -x u:65534 ${pin}`,
    ]);
  });
});
