/**
 * Round 35: doctor's rows for files it does not read ahead.
 * - A FIFO (or device) given as a key or PIN file is not read ahead (its bytes are the signer's), but its ACL was asked
 *   by its name (aclGrants), which opened a reader: that woke the writer waiting on it, whose bytes were lost with that
 *   descriptor, and the signer's read timed out after 30 s. Its ACL can only be read through a reader's descriptor
 *   (fgetxattr refuses O_PATH), so doctor leaves it to the signer's read (a warning) and its row says it was not checked.
 * - The certificate and intermediates rows computed an ACL reader nothing used: a by-name ACL read (and the native
 *   helper's load) for each root:service 0640 certificate. Their rows are unchanged; the read is gone.
 */
import { chmodSync, chownSync, fstatSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { aclBytes } from "../helpers/acl-bytes.js";
import { createCa, issueLeaf } from "../helpers/pki.js";
import { seemToRunAs } from "../helpers/run-as.js";

// The native helper's ACL read, by the inode of the descriptor it is given; `asked` counts the reads by inode.
const native = vi.hoisted(() => ({ acls: new Map<number, Buffer>(), asked: new Map<number, number>() }));
vi.mock("../../src/os/native-helper.js", async (actual) => ({
  ...(await actual<object>()),
  loadNativeHelper: () => ({
    helper: {
      accessAcl: (fd: number) => {
        const { ino } = fstatSync(fd);
        native.asked.set(ino, (native.asked.get(ino) ?? 0) + 1);
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
  seemToRunAs(uid, gid);
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
  it("a FIFO key file its group may read: its ACL is left to the signer's read, whose writer is not woken before it", async () => {
    const ca = createCa(join(dir, "fifo-ca"), { name: "FIFO ACL CA" });
    const leaf = issueLeaf(ca, join(dir, "fifo-leaf"), { name: "fifo-acl", keyType: "p256" });
    const key = fifoAt(join(dir, "key-fifo"));
    native.acls.set(statSync(key).ino, readByBob);
    const writer = spawn("sh", ["-c", `cat ${leaf.keyPath} > ${key}`]); // one writer: the signer's read is the one read
    try {
      const rows = await signerChecks(dir, { privateKey: key, certificate: leaf.certPath });
      expect(rows.find((r) => r.name === "key and certificate")).toBeUndefined(); // before: its read timed out after 30 s
      expect(rows.find((r) => r.name === "private key file")).toMatchObject({
        outcome: "skip", detail: `ACL not checked: a FIFO is not opened before the signer reads it (${key}, mode 640)`, hint: `check that it names no other reader: getfacl ${key}`,
      });
      expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass" });
      expect(native.asked.get(statSync(key).ino)).toBe(1); // the signer's, from the descriptor it read the key from
    } finally {
      writer.kill("SIGKILL");
    }
  }, 60_000);

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

  // Round 36 (T2): its row was a ✔ "(mode 640)" from an ACL read by name after the read ahead failed (or, where even the
  // open failed, from no ACL at all): what an operator trusts, about a file nothing judged by descriptor. It is a –
  // now, as for any secret file whose ACL was not read.
  it("a regular key file its read ahead refused (over 16 MiB): judged by its stat, its ACL not read, and the row says so (round 36, M41, T2)", async () => {
    const ca = createCa(join(dir, "big-ca"), { name: "Big key CA" });
    const leaf = issueLeaf(ca, join(dir, "big-leaf"), { name: "big-key", keyType: "p256" });
    const key = join(dir, "big.key");
    writeFileSync(key, "");
    truncateSync(key, 17 * 2 ** 20);
    rootsGroupFile(key);
    const rows = await signerChecks(dir, { privateKey: key, certificate: leaf.certPath });
    expect(rows.find((r) => r.name === "key and certificate")).toMatchObject({ outcome: "fail", detail: expect.stringContaining("16 MiB") });
    const row = rows.find((r) => r.name === "private key file");
    expect(row?.detail).not.toContain("is not opened before the signer reads it");
    expect(row).toMatchObject({
      outcome: "skip", detail: `ACL not checked: its read failed, as the "key and certificate" row says (${key}, mode 640)`, hint: `check that it names no other reader: getfacl ${key}`,
    });
    expect(native.asked.get(statSync(key).ino)).toBe(1); // the failed read's own, from its descriptor (before: 2, one by name after)
  });
});
