/**
 * Round 35: the config file's POSIX ACL is read (from the descriptor its bytes came from) only when a profile's
 * pkcs11: URI in it holds a pin-value, the one case that makes it a secret file. Before, every read asked it: each cold
 * `credential-process` of a service reading root's 0640 config through its group loaded the native helper (dlopen)
 * for an ACL nothing used. Its write side needs no ACL: a named entry's write bit is bounded by the mask, the mode's
 * group bits, which the trusted-path rule refuses.
 */
import { chownSync, fstatSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { aclBytes } from "../helpers/acl-bytes.js";
import { seemToRunAs } from "../helpers/run-as.js";

const native = vi.hoisted(() => ({ acls: new Map<number, Buffer>(), loads: 0 }));
vi.mock("../../src/os/native-helper.js", async (actual) => ({
  ...(await actual<object>()),
  loadNativeHelper: () => (native.loads++, { helper: { accessAcl: (fd: number) => native.acls.get(fstatSync(fd).ino) ?? null } }),
}));
const { loadConfig } = await import("../../src/config/load-config.js");

const [uid, gid, bob] = [61_000, 61_000, 62_000];
const dir = mkdtempSync(join(tmpdir(), "raa-config-acl-")); // root's 0700 in sticky /tmp: a trusted path
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let warnings: string[] = [];
beforeEach(() => {
  native.acls.clear();
  native.loads = 0;
  warnings = [];
  seemToRunAs(uid, gid);
  const warn = vi.spyOn(process, "emitWarning").mockImplementation(((message: string) => void warnings.push(message)) as never);
  onTestFinished(() => warn.mockRestore());
});
const readByBob = aclBytes([0x01, 6], [0x02, 4, bob], [0x04, 4], [0x10, 4], [0x20, 0]);
// Root's 0640 config of the service's group, whose ACL also lets bob read it.
const rootsConfig = (name: string, privateKey: string) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ profiles: { default: { "private-key": privateKey } } }), { mode: 0o640 });
  chownSync(path, 0, gid);
  native.acls.set(statSync(path).ino, readByBob);
  return path;
};

describe.runIf(process.getuid?.() === 0)("the config file's ACL", () => {
  it("is not asked of a config without a pin-value: no native helper loaded", async () => {
    const config = rootsConfig("plain.json", "/etc/roles-anywhere-agent/key.pem");
    const loaded = await loadConfig(config, {}, uid);
    expect(loaded.profiles.get("default")?.["private-key"]).toBe("/etc/roles-anywhere-agent/key.pem");
    expect(native.loads).toBe(0);
    expect(warnings).toEqual([]);
  });

  it("is read, and warned about, for a config holding a pin-value", async () => {
    const config = rootsConfig("pin.json", "pkcs11:token=t;object=k?pin-value=1234");
    const loaded = await loadConfig(config, {}, uid);
    expect(loaded.file.acl).toEqual({ bytes: readByBob });
    expect(warnings).toEqual([`pin-value in config file ${config} can be read by other users through its ACL (entry u:${bob}): run setfacl -x u:${bob} ${config}`]);
  });
});
