/**
 * Round 34: the POSIX ACL of a private key file (a PEM key, a password-less TSS2 key, the certificate file that holds
 * the key without --private-key) is read from the descriptor its bytes were read from, for doctor's row and for the
 * signer's warning, as a PIN file's is (secret-acl-read-once.test.ts). Before, it was asked by name afterwards: a file
 * renamed over it in between gave the row and the warning about another file's ACL. And an ACL the helper fails to
 * read (EIO on FUSE) is not taken for none: a "–" row, and one warning line, where the mode's group bit leaves it open.
 */
import { chmodSync, chownSync, fstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { aclBytes } from "../helpers/acl-bytes.js";
import { openssl } from "../helpers/pki.js";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";
import { encodeTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPM_RH } from "../../src/tpm/wire/constants.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { eccSigningPublic } from "../helpers/tpm-public.js";
import { seemToRunAs } from "../helpers/run-as.js";

// The native helper's ACL read, by the inode of the descriptor it is given: which file it is, whatever its name now.
// `failing`: the file system fails the call (a FUSE server's EIO), for every file or for the one of that inode.
const native = vi.hoisted(() => ({ acls: new Map<number, Buffer>(), failing: false as boolean | number, none: false, loads: 0 }));
vi.mock("../../src/os/native-helper.js", async (actual) => ({
  ...(await actual<object>()),
  loadNativeHelper: () => (native.loads++, native.none) ? { reason: "none here (test)" } : {
    helper: {
      accessAcl: (fd: number) => {
        if (native.failing === true || native.failing === fstatSync(fd).ino) throw new Error("fgetxattr(system.posix_acl_access): Input/output error");
        return native.acls.get(fstatSync(fd).ino) ?? null;
      },
    },
  },
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
const { signerChecks } = await import("../helpers/doctor-checks.js");
const { createSigner } = await import("../../src/signers/factory.js");
const { readSecret } = await import("../../src/secrets/secret-source.js");
const { startTlsServer } = await import("../../src/serve/tls-files.js");

const [uid, gid, bob] = [61_000, 61_000, 62_000];
const dir = mkdtempSync(join(tmpdir(), "raa-key-acl-")); // 0700 in sticky /tmp: not a changeable directory
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let warnings: string[] = [];
beforeEach(() => {
  native.acls.clear();
  native.failing = false;
  native.none = false;
  native.loads = 0;
  afterRead.clear();
  const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
  seemToRunAs(uid, gid);
  warnings = [];
  warn.mockImplementation(((message: string) => void warnings.push(message)) as never);
  onTestFinished(() => warn.mockRestore());
});

const selfSigned = openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=key-acl", "-days", "2", "-keyout", "-", "-out", "-"]);
const pemKey = /-----BEGIN PRIVATE KEY-----[^]*?-----END PRIVATE KEY-----\n/.exec(selfSigned)![0];
const tss2Key = () => encodeTss2KeyFile({
  parent: TPM_RH.OWNER, public: decodePublicArea(encode(TPMT_PUBLIC, eccSigningPublic()), "k"), privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth: true, policy: [],
});
const readByBob = aclBytes([0x01, 6], [0x02, 4, bob], [0x04, 4], [0x10, 4], [0x20, 0]);
let n = 0;
// Root's 0640 file of the service's group whose ACL also lets bob read it; a clean one (no ACL) renamed over it after its read.
const swappedAfterRead = (name: string, text: string | Buffer) => {
  const path = join(dir, `${name}-${n++}`);
  const write = (at: string) => (writeFileSync(at, text, { mode: 0o640 }), chownSync(at, 0, gid));
  write(path);
  native.acls.set(statSync(path).ino, readByBob);
  let done = false;
  afterRead.set(path, () => {
    if (done) return;
    done = true;
    write(`${path}.other`);
    renameSync(`${path}.other`, path);
  });
  return path;
};
const aclFinding = (path: string) => `${path} can be read by other users through its ACL (entry u:${bob}): run setfacl -x u:${bob} ${path}`;
const tpm = { device: join(dir, "no-tpm") };

describe.runIf(process.getuid?.() === 0)("a key file's ACL is the read's", () => {
  it("doctor's private key file row: the ACL of the file read, not of the one at its name now", async () => {
    const key = swappedAfterRead("key.pem", pemKey);
    const rows = await signerChecks(dir, { privateKey: key });
    expect(rows.find((r) => r.name === "private key file")).toMatchObject({
      outcome: "fail", detail: `${key} can be read by other users through its ACL (entry u:${bob})`, hint: `run: setfacl -x u:${bob} ${key}`,
    });
  });

  it("the signer's warning: a PEM key, a password-less TSS2 key, a certificate file holding the key", async () => {
    const key = swappedAfterRead("key.pem", pemKey);
    await createSigner({ privateKey: key }).then((s) => s.close(), () => undefined);
    const tss2 = swappedAfterRead("key.tss2.pem", tss2Key());
    await createSigner({ privateKey: tss2, tpm }).then((s) => s.close(), () => undefined);
    const combined = swappedAfterRead("combined.pem", selfSigned);
    await createSigner({ certificate: combined }).then((s) => s.close(), () => undefined);
    expect(warnings).toEqual([
      `private key file ${aclFinding(key)}`, `password-less TPM key file ${aclFinding(tss2)}`, `private key file ${aclFinding(combined)}`,
    ]);
  });

  it("serve's TLS private key file: the warning is about the key read", async () => {
    const certificate = join(dir, `tls.crt-${n++}`);
    writeFileSync(certificate, selfSigned.replace(pemKey, ""));
    const key = swappedAfterRead("tls.key", pemKey);
    const { server, stop } = await startTlsServer({ certificate, key }, () => undefined, () => undefined, 60_000);
    stop();
    server.close();
    expect(warnings).toEqual([`TLS private key file ${aclFinding(key)}`]);
  });

  it("doctor's row for a password-less TSS2 key and for the certificate file holding the key", async () => {
    const tss2 = swappedAfterRead("key.tss2.pem", tss2Key());
    expect((await signerChecks(dir, { privateKey: tss2, tpm })).find((r) => r.name === "private key file")).toMatchObject({ outcome: "fail", hint: `run: setfacl -x u:${bob} ${tss2}` });
    const combined = swappedAfterRead("combined.pem", selfSigned);
    expect((await signerChecks(dir, { certificate: combined })).find((r) => r.name === "private key file")).toMatchObject({ outcome: "fail", hint: `run: setfacl -x u:${bob} ${combined}` });
  });
});

describe.runIf(process.getuid?.() === 0)("an ACL the helper fails to read is not none", () => {
  const why = "fgetxattr(system.posix_acl_access): Input/output error";
  const rootsFile = (name: string, text: string, mode = 0o640) => {
    const path = join(dir, `${name}-${n++}`);
    writeFileSync(path, text, { mode });
    chownSync(path, 0, gid);
    return path;
  };

  it("doctor: a – row 'ACL not checked' with the file system's reason, for the key and for a PIN file", async () => {
    native.failing = true;
    const key = rootsFile("key.pem", pemKey);
    expect((await signerChecks(dir, { privateKey: key })).find((r) => r.name === "private key file")).toEqual({
      name: "private key file", outcome: "skip", detail: `ACL not checked: ${why} (${key}, mode 640)`, hint: `check that it names no other reader: getfacl ${key}`,
    });
    const pin = rootsFile("pin", "1234\n");
    const rows = await signerChecks(dir, { privateKey: `pkcs11:token=t;object=k?module-path=${join(dir, "no-module.so")}`, pkcs11: { pin: { kind: "file", path: pin } } });
    expect(rows.find((r) => r.name === "PIN file")).toMatchObject({ outcome: "skip", detail: `ACL not checked: ${why} (${pin}, mode 640)` });
  });

  it("the signer: one warning line, once; none for a 0600 file, nor where no helper reads ACLs at all", async () => {
    native.failing = true;
    const key = rootsFile("key.pem", pemKey);
    await createSigner({ privateKey: key }).then((s) => s.close(), () => undefined);
    await createSigner({ privateKey: key }).then((s) => s.close(), () => undefined);
    const password = rootsFile("password", "secret\n");
    (await readSecret({ kind: "file", path: password }, "key password")).wipe();
    const own = rootsFile("own.pem", pemKey, 0o600);
    await createSigner({ privateKey: own }).then((s) => s.close(), () => undefined);
    native.none = true;
    const noHelper = rootsFile("no-helper.pem", pemKey);
    await createSigner({ privateKey: noHelper }).then((s) => s.close(), () => undefined);
    const unchecked = (what: string, path: string) => `${what} ${path} can be read by its group (mode 640); its ACL was not checked (${why}): check that it names no other reader: getfacl ${path}`;
    expect(warnings).toEqual([unchecked("private key file", key), unchecked("key password: file", password)]);
  });

  it("a directory on the way its group may write to (nobody else in it) whose ACL fails to read: the – row and one line", async () => {
    native.failing = true;
    const sub = join(dir, `d775-${n++}`);
    mkdirSync(sub);
    chmodSync(sub, 0o775);
    chownSync(sub, uid, gid); // this user's directory of its own group (umask 002's ~/.config)
    const pin = join(sub, "pin");
    writeFileSync(pin, "1234\n", { mode: 0o600 });
    chownSync(pin, uid, gid);
    const rows = await signerChecks(dir, { privateKey: `pkcs11:token=t;object=k?module-path=${join(dir, "no-module.so")}`, pkcs11: { pin: { kind: "file", path: pin } } });
    expect(rows.find((r) => r.name === "PIN file")).toMatchObject({ outcome: "skip", detail: `ACL not checked: ${why} (directory ${sub})`, hint: `check that it names no other writer: getfacl ${sub}` });
    (await readSecret({ kind: "file", path: pin }, "PIN")).wipe();
    expect(warnings).toEqual([`PIN: file ${pin} is in ${sub}, which its group may write to; its ACL was not checked (${why}): check that it names no other writer: getfacl ${sub}`]);
  });

  it("the first directory whose ACL was not read is the one told, not the first asked (read, no other writer)", async () => {
    const outer = join(dir, `outer-${n++}`);
    const inner = join(outer, "inner");
    for (const d of [outer, inner]) {
      mkdirSync(d);
      chmodSync(d, 0o775);
      chownSync(d, uid, gid);
    }
    native.failing = statSync(outer).ino;
    const pin = join(inner, "pin");
    writeFileSync(pin, "1234\n", { mode: 0o600 });
    chownSync(pin, uid, gid);
    (await readSecret({ kind: "file", path: pin }, "PIN")).wipe();
    expect(warnings).toEqual([`PIN: file ${pin} is in ${outer}, which its group may write to; its ACL was not checked (${why}): check that it names no other writer: getfacl ${outer}`]);
  });
});

describe.runIf(process.getuid?.() === 0)("only the key's file has its ACL read", () => {
  it("root's 0640 certificate beside a separate 0600 key: no ACL read, no helper loaded", async () => {
    const certificate = join(dir, `cert-${n++}.pem`);
    writeFileSync(certificate, selfSigned.replace(pemKey, ""), { mode: 0o640 });
    chownSync(certificate, 0, gid);
    const key = join(dir, `key-${n++}.pem`);
    writeFileSync(key, pemKey, { mode: 0o600 });
    chownSync(key, uid, gid);
    await (await createSigner({ certificate, privateKey: key })).close();
    expect([warnings, native.loads]).toEqual([[], 0]);
  });
});
