/**
 * Round 33: where no POSIX ACL can be read (no native helper for this platform, or a dist without it), a secret file
 * whose group may read it (the bits an ACL's mask would show) is not a ✔: its ACL was never read. doctor says so, a
 * "–" row; a 0600 file, whose ACL could give nobody else anything, stays a ✔ and loads no helper. So is a directory on
 * the way that its group may write to, a group nobody else is in (its ACL's named entries are what could let others).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { AgentError } from "../../src/errors.js";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";
import { encodeTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPM_RH } from "../../src/tpm/wire/constants.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { eccSigningPublic } from "../helpers/tpm-public.js";
import { seemToRunAs } from "../helpers/run-as.js";

const native = vi.hoisted(() => ({ load: { reason: "none here (test)" } as object, loads: 0 }));
vi.mock("../../src/os/native-helper.js", async (actual) => ({ ...(await actual<object>()), loadNativeHelper: () => (native.loads++, native.load) }));
const { runChecks } = await import("../../src/doctor/checks.js");
const { signerChecks } = await import("../helpers/doctor-checks.js");

// A service user (no account of a test machine) reading root's files through its own group, as the docs set it up.
const [uid, gid] = [61_000, 61_000];
const dir = mkdtempSync(join(tmpdir(), "raa-doctor-acl-")); // 0700 in sticky /tmp: not a changeable directory
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  native.load = { reason: "none here (test)" };
  native.loads = 0;
  seemToRunAs(uid, gid);
});
const rootsFile = (name: string, mode: number, text = "not read") => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  chownSync(path, 0, gid);
  return path;
};

describe.runIf(process.getuid?.() === 0)("doctor without an ACL reader", () => {
  it("root's 0640 key read through the group: a – row 'ACL not checked', with the reason and getfacl", async () => {
    const key = rootsFile("key-640.pem", 0o640);
    const rows = await signerChecks(dir, { privateKey: key });
    expect(rows.find((r) => r.name === "private key file")).toEqual({
      name: "private key file", outcome: "skip",
      detail: `ACL not checked: none here (test) (${key}, mode 640)`,
      hint: `check that it names no other reader: getfacl ${key}`,
    });
  });

  it("a helper that reads no ACL (another OS): says so", async () => {
    native.load = { helper: {} };
    const key = rootsFile("key-640-os.pem", 0o640);
    const rows = await signerChecks(dir, { privateKey: key });
    expect(rows.find((r) => r.name === "private key file")?.detail).toBe(`ACL not checked: the native helper reads no ACL on ${process.platform} (${key}, mode 640)`);
  });

  it("with a helper that reads ACLs (none here), and for a 0600 file without one: a ✔, and 0600 loads no helper", async () => {
    native.load = { helper: { accessAcl: () => null } };
    const key = rootsFile("key-640-helper.pem", 0o640);
    expect((await signerChecks(dir, { privateKey: key })).find((r) => r.name === "private key file")?.outcome).toBe("pass");
    native.load = { reason: "none here (test)" };
    native.loads = 0;
    const own = rootsFile("key-600.pem", 0o600);
    expect((await signerChecks(dir, { privateKey: own })).find((r) => r.name === "private key file")?.outcome).toBe("pass");
    expect(native.loads).toBe(1); // doctor's own "native helper" row (round 34); the 0600 file's row loads none
  });

  it("a file its mode exposes already (a TPM key with a password at 0644, which passes): no ACL row, as none would be read", async () => {
    const key = { parent: TPM_RH.OWNER, public: decodePublicArea(encode(TPMT_PUBLIC, eccSigningPublic()), "k"), privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth: false, policy: [] };
    const path = rootsFile("key.tss2.pem", 0o644, encodeTss2KeyFile(key));
    const rows = await signerChecks(dir, { privateKey: path, tpm: { device: join(dir, "no-tpm") } });
    expect(rows.find((r) => r.name === "private key file")).toMatchObject({ outcome: "pass", detail: `${path} (mode 644)` });
  });

  it("a config file holding a pin-value, root's 0640: the same row", async () => {
    const config = rootsFile("config.json", 0o640, "{}");
    const rows = await runChecks({
      configPath: config, configPinFile: { mode: 0o100640, owner: 0, gid }, signer: new AgentError("INPUT_MISSING", "no signer in this test"),
      session: new AgentError("INPUT_MISSING", "no ARNs in this test"), endpoint: {}, agentSocket: join(dir, "no-agent.sock"),
      createSession: false, warningDays: 30, env: {},
    }, () => undefined);
    expect(rows.find((r) => r.name === "config file")).toMatchObject({ outcome: "skip", detail: `ACL not checked: none here (test) (${config}, mode 640)` });
  });

  it("the user's own 0600 key in its 0775 directory of a group nobody else is in: a – row naming the directory", async () => {
    const own = join(dir, "svc-775");
    mkdirSync(own);
    chownSync(own, uid, gid);
    chmodSync(own, 0o775);
    const key = join(own, "key.pem");
    writeFileSync(key, "not read", { mode: 0o600 });
    chownSync(key, uid, gid);
    const rows = await signerChecks(dir, { privateKey: key });
    expect(rows.find((r) => r.name === "private key file")).toEqual({
      name: "private key file", outcome: "skip",
      detail: `ACL not checked: none here (test) (directory ${own})`,
      hint: `check that it names no other writer: getfacl ${own}`,
    });
    native.load = { helper: { accessAcl: () => null } }; // one that reads it (no entries): a ✔
    expect((await signerChecks(dir, { privateKey: key })).find((r) => r.name === "private key file")).toMatchObject({ outcome: "pass" });
  });
});
