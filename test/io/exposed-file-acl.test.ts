/**
 * Round 32: the secret-file warning reads a POSIX ACL, as the kernel does. With an ACL the mode's group bits are its
 * mask: a named user or group that may read the file (write the directory) gets through only where they show r (w).
 * The native helper is given the ACL bytes here; native-test/local-trust-files.test.ts uses real accounts and setfacl.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { aclBytes as acl } from "../helpers/acl-bytes.js";

const acls = new Map<string, Buffer>(); // by path: what the helper's accessAcl gives for a descriptor of it
const loads = vi.fn();
vi.mock("../../src/os/native-helper.js", async (actual) => ({
  ...(await actual<object>()),
  loadNativeHelper: () => {
    loads();
    return { helper: { accessAcl: (fd: number) => acls.get(readlinkSync(`/proc/self/fd/${fd}`)) ?? null } };
  },
}));
const { exposedFileWarnings } = await import("../../src/os/exposed-file.js");
const { signerChecks } = await import("../helpers/doctor-checks.js");

const [USER, GROUP] = [0x02, 0x08];
const withNamed = (tag: number, perm: number, id: number) => acl([0x01, 6], [tag, perm, id], [0x04, 4], [0x10, 4], [0x20, 0]);

// Ids no account of a test machine has (groupShared reads the real /etc/passwd and /etc/group); 65534 is nobody's group.
const [uid, gid, bob, SHARED_GID, LONE_GID] = [61_000, 61_000, 61_500, 65_534, 61_990];
const root = mkdtempSync(join(tmpdir(), "raa-exposed-acl-")); // 0700 in sticky /tmp: not exposed
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => {
  acls.clear();
  loads.mockClear();
  const spies = [
    vi.spyOn(process, "getuid").mockReturnValue(uid),
    vi.spyOn(process, "getgid").mockReturnValue(gid),
    vi.spyOn(process, "getgroups").mockReturnValue([gid]),
  ];
  onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
});

describe("a secret file's ACL", () => {
  const key = join(root, "key");
  writeFileSync(key, "secret", { mode: 0o600 });
  const rootsKey = { mode: 0o100640, owner: 0, gid }; // root's key of this process's group: not exposed by its mode

  it("warns for a named user that may read root's 0640 file read through its group, naming setfacl -x", () => {
    acls.set(key, withNamed(USER, 4, bob));
    expect(exposedFileWarnings(rootsKey, key, "private key file")).toEqual([
      `private key file ${key} can be read by other users through its ACL (entry u:${bob}): run setfacl -x u:${bob} ${key}`,
    ]);
  });

  it("warns for a named group another account is in, not for one nobody else is in", () => {
    acls.set(key, withNamed(GROUP, 4, SHARED_GID));
    expect(exposedFileWarnings(rootsKey, key, "PIN file")).toEqual([
      `PIN file ${key} can be read by other users through its ACL (entry g:${SHARED_GID}): run setfacl -x g:${SHARED_GID} ${key}`,
    ]);
    acls.set(key, withNamed(GROUP, 4, LONE_GID));
    expect(exposedFileWarnings(rootsKey, key, "PIN file")).toEqual([]);
  });

  it("an id the user namespace does not map (4294967295): a user or a group outside it, members unknown; fixed by setfacl -b", () => {
    // Round 33. Before: a group entry was not seen (no account is in group 4294967295), and a user entry's fix was
    // `setfacl -x u:4294967295`, which fails in there while the ACL keeps another such entry (native-test/user-namespace-trust).
    acls.set(key, withNamed(GROUP, 4, 0xffffffff));
    expect(exposedFileWarnings(rootsKey, key, "private key file")).toEqual([
      `private key file ${key} can be read by other users through its ACL (entry g:4294967295, a group outside this user namespace): run setfacl -b ${key}`,
    ]);
    acls.set(key, withNamed(USER, 4, 0xffffffff));
    expect(exposedFileWarnings(rootsKey, key, "private key file")).toEqual([
      `private key file ${key} can be read by other users through its ACL (entry u:4294967295, a user outside this user namespace): run setfacl -b ${key}`,
    ]);
  });

  it("root, the file's owner and this process's own user are not other users; an entry without r is no reader", () => {
    for (const id of [0, uid]) {
      acls.set(key, withNamed(USER, 4, id));
      expect(exposedFileWarnings(rootsKey, key, "PIN file"), `${id}`).toEqual([]);
    }
    acls.set(key, withNamed(USER, 4, 61_200));
    expect(exposedFileWarnings({ ...rootsKey, owner: 61_200 }, key, "PIN file").filter((w) => w.includes("ACL"))).toEqual([]);
    acls.set(key, withNamed(USER, 2, bob));
    expect(exposedFileWarnings(rootsKey, key, "PIN file")).toEqual([]);
  });

  it("never reads the ACL of a file whose mode shows no group r (its mask): a 0600 key never loads the helper", () => {
    acls.set(key, withNamed(USER, 4, bob));
    expect(exposedFileWarnings({ mode: 0o100600, owner: uid }, key, "private key file")).toEqual([]);
    expect(exposedFileWarnings({ mode: 0o100600, owner: 0, gid }, key, "private key file")).toEqual([]);
    expect(loads).not.toHaveBeenCalled();
  });

  it("a file exposed by its mode is told once, by its mode", () => {
    acls.set(key, withNamed(USER, 4, bob));
    expect(exposedFileWarnings({ ...rootsKey, mode: 0o100644 }, key, "PIN file")).toEqual([
      `PIN file ${key} can be read or changed by other users (mode 644): run chmod 640 ${key}`,
    ]);
  });

  it("a FIFO (a PIN handed through a pipe) is opened without waiting for a writer", () => {
    const fifo = join(root, "pin-fifo");
    execFileSync("mkfifo", ["-m", "640", fifo]);
    acls.set(fifo, withNamed(USER, 4, bob));
    expect(exposedFileWarnings(rootsKey, fifo, "PIN file")).toHaveLength(1); // blocking, this open would never return
  });

  it("without the ACL (no helper, or none set): nothing new", () => {
    expect(exposedFileWarnings(rootsKey, key, "PIN file")).toEqual([]);
  });
});

describe.runIf(process.getuid?.() === 0)("a secret file's directory's ACL", () => {
  const dir = join(root, "d");
  mkdirSync(dir);
  const pin = join(dir, "pin");
  writeFileSync(pin, "1234", { mode: 0o600 });
  chownSync(dir, 0, LONE_GID); // a group nobody else is in: its write bit alone lets nobody else change it
  const warned = () => exposedFileWarnings({ mode: 0o100600, owner: uid }, pin, "PIN file");

  it("warns for a named user or a shared group that may write root's 0775 directory, naming setfacl -x", () => {
    chmodSync(dir, 0o775);
    acls.set(dir, withNamed(USER, 7, bob));
    expect(warned()).toEqual([
      `PIN file ${pin} is in a directory other users can change (${dir}, mode 775, ACL entry u:${bob}): run setfacl -x u:${bob} ${dir}`,
    ]);
    acls.set(dir, withNamed(GROUP, 7, SHARED_GID));
    expect(warned()).toEqual([
      `PIN file ${pin} is in a directory other users can change (${dir}, mode 775, ACL entry g:${SHARED_GID}): run setfacl -x g:${SHARED_GID} ${dir}`,
    ]);
  });

  it("not for root, the directory's owner, this user, a lone group, an entry without w; never read at 0755", () => {
    chmodSync(dir, 0o775);
    for (const [tag, perm, id] of [[USER, 7, 0], [USER, 7, uid], [GROUP, 7, LONE_GID], [USER, 5, bob]]) {
      acls.set(dir, withNamed(tag!, perm!, id!));
      expect(warned(), `${tag} ${perm} ${id}`).toEqual([]);
    }
    chownSync(dir, bob, LONE_GID); // round 33: bob's directory is told as bob's, by its owner, not by its ACL entry
    acls.set(dir, withNamed(USER, 7, bob));
    expect(warned()).toEqual([`PIN file ${pin} is in a directory owned by another user (uid ${bob}, ${dir}), who can replace it: move it to a directory of your own`]);
    chownSync(dir, uid, LONE_GID);
    acls.set(dir, withNamed(USER, 7, 0)); // root, not the owner here
    expect(warned()).toEqual([]);
    chownSync(dir, 0, LONE_GID);
    chmodSync(dir, 0o755); // the mask: no w, the named entry is not effective
    loads.mockClear();
    expect(warned()).toEqual([]);
    expect(loads).not.toHaveBeenCalled();
  });
});

describe.runIf(process.getuid?.() === 0)("doctor's rows", () => {
  it("a key file readable through its ACL is a ✘ with the signer's fix", async () => {
    const dir = mkdtempSync(join(root, "doctor-"));
    const key = join(dir, "key.pem");
    writeFileSync(key, "not read", { mode: 0o640 });
    chownSync(key, 0, gid);
    acls.set(key, withNamed(USER, 4, bob));
    const rows = await signerChecks(dir, { privateKey: key });
    expect(rows.find((r) => r.name === "private key file")).toMatchObject({
      outcome: "fail",
      detail: `${key} can be read by other users through its ACL (entry u:${bob})`,
      hint: `run: setfacl -x u:${bob} ${key}`,
    });
  });
});
