/**
 * Round 35: doctor's rows for files it does not read ahead.
 * - A FIFO (or device) given as a key or PIN file is not read ahead (its bytes are the signer's): its owner and mode
 *   were a stat of the name and its ACL was asked by the name again (aclGrants), so a FIFO renamed over it in between
 *   gave a ✔ row about a file it was not. Now both come from one O_PATH descriptor (the ACL through a reopen of it).
 * - The certificate and intermediates rows computed an ACL reader nothing used: a by-name ACL read (and the native
 *   helper's load) for each root:service 0640 certificate. Their rows are unchanged; the read is gone.
 */
import { chmodSync, chownSync, fstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { aclBytes } from "../helpers/acl-bytes.js";
import { createCa, issueLeaf } from "../helpers/pki.js";

// The native helper's ACL read, by the inode of the descriptor it is given; `asked` counts the reads by inode, and
// `onAsk` runs at a read of that inode (a swap at that moment).
const native = vi.hoisted(() => ({ acls: new Map<number, Buffer>(), asked: new Map<number, number>(), onAsk: new Map<number, () => void>() }));
vi.mock("../../src/os/native-helper.js", async (actual) => ({
  ...(await actual<object>()),
  loadNativeHelper: () => ({
    helper: {
      accessAcl: (fd: number) => {
        const { ino } = fstatSync(fd);
        native.asked.set(ino, (native.asked.get(ino) ?? 0) + 1);
        native.onAsk.get(ino)?.();
        return native.acls.get(ino) ?? null;
      },
    },
  }),
}));
const { signerChecks } = await import("../helpers/doctor-checks.js");

// A service user (no account of a test machine) reading root's files through its own group, as the docs set it up.
const [uid, gid, bob] = [61_000, 61_000, 62_000];
const dir = mkdtempSync(join(tmpdir(), "raa-unread-acl-")); // 0700 in sticky /tmp: not a changeable directory
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  native.acls.clear();
  native.asked.clear();
  native.onAsk.clear();
  const spies = [
    vi.spyOn(process, "getuid").mockReturnValue(uid),
    vi.spyOn(process, "geteuid").mockReturnValue(uid),
    vi.spyOn(process, "getgid").mockReturnValue(gid),
    vi.spyOn(process, "getgroups").mockReturnValue([gid]),
  ];
  onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
});
const readByBob = aclBytes([0x01, 6], [0x02, 4, bob], [0x04, 4], [0x10, 4], [0x20, 0]);
const rootsGroupFile = (path: string, mode = 0o640) => {
  chownSync(path, 0, gid);
  chmodSync(path, mode);
  return path;
};
const fifoAt = (path: string) => {
  execFileSync("mkfifo", [path]);
  return rootsGroupFile(path);
};

describe.runIf(process.getuid?.() === 0 && process.platform === "linux")("doctor's rows for files not read ahead", () => {
  it("a FIFO PIN file: its mode, owner and ACL are of one file, not the stat of one name and the ACL of another", async () => {
    // Its directory is its group's to write (nobody else in it): the row asks that directory's ACL, and at that
    // moment a clean FIFO is renamed over the PIN's name.
    const sub = join(dir, "fifo-pin");
    mkdirSync(sub);
    rootsGroupFile(sub, 0o770);
    const pin = fifoAt(join(sub, "pin"));
    native.acls.set(statSync(pin).ino, readByBob);
    let swapped = false;
    native.onAsk.set(statSync(sub).ino, () => {
      if (!swapped) renameSync(fifoAt(join(sub, "clean")), pin);
      swapped = true;
    });
    const rows = await signerChecks(dir, { privateKey: `pkcs11:token=t;object=k?module-path=${join(dir, "no-module.so")}`, pkcs11: { pin: { kind: "file", path: pin } } });
    expect(rows.find((r) => r.name === "PIN file")).toMatchObject({
      outcome: "fail", detail: `${pin} can be read by other users through its ACL (entry u:${bob})`, hint: `run: setfacl -x u:${bob} ${pin}`,
    });
  });

  it("a root:service 0640 certificate and intermediates file: ✔ rows, and no ACL asked of them", async () => {
    const ca = createCa(join(dir, "ca"), { name: "Unread ACL CA" });
    const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "unread-acl", keyType: "p256" });
    const certificate = rootsGroupFile(leaf.certPath);
    const intermediates = join(dir, "intermediates.pem");
    writeFileSync(intermediates, ca.certPem);
    rootsGroupFile(intermediates);
    chmodSync(leaf.keyPath, 0o600);
    chownSync(leaf.keyPath, uid, gid);
    for (const path of [certificate, intermediates]) native.acls.set(statSync(path).ino, readByBob);
    const rows = await signerChecks(dir, { privateKey: leaf.keyPath, certificate, intermediates });
    expect(rows.find((r) => r.name === "certificate file")).toMatchObject({ outcome: "pass", detail: certificate });
    expect(rows.find((r) => r.name === "intermediates file")).toMatchObject({ outcome: "pass", detail: intermediates });
    expect([certificate, intermediates].map((path) => native.asked.get(statSync(path).ino) ?? 0)).toEqual([0, 0]);
  });
});
