/**
 * Round 34: the POSIX ACL of a PIN, password or config file is read from the descriptor its bytes were read from
 * (readOpenedFile's onOpen, readCheckedFile's; secretFileAcl), not by the name afterwards. Before, the ACL was asked
 * by name (aclGrants opened the path again), so a file renamed over it after the read gave doctor's row, and the
 * signer's warning, about another file: a PIN file root's group reads (0640) with an ACL entry for another user gave
 * a ✔ row and no warning once a clean file stood at its name.
 */
import { chownSync, fstatSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { AgentError } from "../../src/errors.js";
import { aclBytes } from "../helpers/acl-bytes.js";
import { seemToRunAs } from "../helpers/run-as.js";

// The native helper's ACL read, by the inode of the descriptor it is given: which file it is, whatever its name now.
const { acls, loads } = vi.hoisted(() => ({ acls: new Map<number, Buffer>(), loads: { count: 0 } }));
vi.mock("../../src/os/native-helper.js", async (actual) => ({
  ...(await actual<object>()),
  loadNativeHelper: () => (loads.count++, { helper: { accessAcl: (fd: number) => acls.get(fstatSync(fd).ino) ?? null } }),
}));
const afterRead = vi.hoisted(() => new Map<string, () => void>());
vi.mock("../../src/io/read-opened-file.js", async (actual) => {
  const real = await actual<typeof import("../../src/io/read-opened-file.js")>();
  const readOpenedFile = async (path: string, ...rest: []) => {
    const read = await real.readOpenedFile(path, ...rest);
    afterRead.get(path)?.();
    return read;
  };
  return { ...real, readOpenedFile };
});
const { runChecks } = await import("../../src/doctor/checks.js");
const { signerChecks } = await import("../helpers/doctor-checks.js");
const { readSecret } = await import("../../src/secrets/secret-source.js");
const { loadConfig } = await import("../../src/config/load-config.js");

// A service user (no account of a test machine) reading root's files through its own group, as the docs set it up.
const [uid, gid, bob] = [61_000, 61_000, 62_000];
const dir = mkdtempSync(join(tmpdir(), "raa-secret-acl-")); // 0700 in sticky /tmp: not a changeable directory
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  acls.clear();
  afterRead.clear();
  loads.count = 0;
  seemToRunAs(uid, gid);
});
const readByBob = aclBytes([0x01, 6], [0x02, 4, bob], [0x04, 4], [0x10, 4], [0x20, 0]);
// Root's 0640 file of the service's group whose ACL also lets bob read it.
const rootsFile = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o640 });
  chownSync(path, 0, gid);
  acls.set(statSync(path).ino, readByBob);
  return path;
};
// A clean 0640 file (no ACL) renamed over `path` (once).
const swap = (path: string) => {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    writeFileSync(`${path}.other`, "{}", { mode: 0o640 });
    chownSync(`${path}.other`, 0, gid);
    renameSync(`${path}.other`, path);
  };
};
const aclFinding = (path: string) => `${path} can be read by other users through its ACL (entry u:${bob})`;

describe.runIf(process.getuid?.() === 0)("a secret file's ACL is the read's", () => {
  it("doctor: a PIN file swapped after its read is judged by the read's ACL, not the name's", async () => {
    const pin = rootsFile("pin", "1234\n");
    afterRead.set(pin, swap(pin));
    const rows = await signerChecks(dir, { privateKey: `pkcs11:token=t;object=k?module-path=${join(dir, "no-module.so")}`, pkcs11: { pin: { kind: "file", path: pin } } });
    expect(rows.find((r) => r.name === "PIN file")).toMatchObject({ outcome: "fail", detail: aclFinding(pin), hint: `run: setfacl -x u:${bob} ${pin}` });
  });

  it("the signer's warning: about the ACL of the file whose secret it read", async () => {
    const password = rootsFile("password", "secret\n");
    afterRead.set(password, swap(password));
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    onTestFinished(() => warn.mockRestore());
    (await readSecret({ kind: "file", path: password }, "key password")).wipe();
    expect(warn.mock.calls.map(([message]) => message)).toEqual([`key password: file ${aclFinding(password)}: run setfacl -x u:${bob} ${password}`]);
  });

  it("the config file holding a pin-value: its row judges the ACL read with the settings", async () => {
    const config = rootsFile("config.json", JSON.stringify({ profiles: { default: { "private-key": "pkcs11:token=t;object=k?pin-value=1234" } } }));
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    onTestFinished(() => warn.mockRestore());
    const loaded = await loadConfig(config, {}, uid);
    swap(config)(); // after the read: the row must not be about this one
    const rows = await runChecks({
      configPath: config, configPinFile: loaded.file, signer: new AgentError("INPUT_MISSING", "no signer in this test"),
      session: new AgentError("INPUT_MISSING", "no ARNs in this test"), endpoint: {}, agentSocket: join(dir, "no-agent.sock"),
      createSession: false, warningDays: 30, env: {},
    }, () => undefined);
    expect(rows.find((r) => r.name === "config file")).toMatchObject({ outcome: "fail", detail: aclFinding(config) });
    expect(warn).toHaveBeenCalledWith(`pin-value in config file ${aclFinding(config)}: run setfacl -x u:${bob} ${config}`, expect.anything());
  });

  it("no ACL is asked where the mode settles it: a 0600 or 0644 PIN file, the user's own 0640 one (loads no helper)", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    onTestFinished(() => warn.mockRestore());
    for (const [mode, owner] of [[0o600, uid], [0o644, 0], [0o640, uid]] as const) {
      const pin = join(dir, `pin-${mode.toString(8)}-${owner}`);
      writeFileSync(pin, "1234\n", { mode });
      chownSync(pin, owner, gid);
      (await readSecret({ kind: "file", path: pin }, "PIN")).wipe();
    }
    expect(loads.count).toBe(0);
  });
});
