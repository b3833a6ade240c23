/**
 * doctor's rows for the key, certificate and intermediates files: a file another user can change or read must be a
 * ✘ (an operator trusts a ✔), and the validity warning must come within --warning-days and only then.
 */
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { runChecks } from "../../src/doctor/checks.js";
import { AgentError } from "../../src/errors.js";
import { exposedFileWarnings } from "../../src/os/exposed-file.js";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";
import { encodeTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPM_RH } from "../../src/tpm/wire/constants.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { readCertificateFile } from "../../src/x509/read-certificates.js";
import { DAY_MS } from "../../src/x509/validity.js";
import { signerChecks } from "../helpers/doctor-checks.js";
import { issueMlDsaLeaf } from "../helpers/mldsa-pki.js";
import { createCa, issueLeaf } from "../helpers/pki.js";
import { eccSigningPublic } from "../helpers/tpm-public.js";

// Whatever this checkout built: an ACL reader that finds none (without one, a 0640 row is a –: acl-not-checked.test.ts).
vi.mock("../../src/os/native-helper.js", async (actual) => {
  const real = await actual<typeof import("../../src/os/native-helper.js")>();
  return { ...real, loadNativeHelper: () => ({ helper: { ...real.loadNativeHelper().helper, accessAcl: () => null } }) };
});

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = createCa(join(dir, "ca"), { name: "Doctor Files CA" });
const inter = createCa(join(dir, "ca"), { name: "Doctor Files Intermediate", parent: ca });
const leaf = issueLeaf(inter, dir, { name: "doctor-files-leaf" });

/** A copy of `from` with this mode (and owner), so that each case has its own file. */
function copy(from: string, name: string, mode: number, uid?: number): string {
  const path = join(dir, name);
  copyFileSync(from, path);
  chmodSync(path, mode);
  if (uid !== undefined) chownSync(path, uid, uid);
  return path;
}

const FILE_ROW = /^(private key|certificate|intermediates) file$/;
const rowsFor = async (files: { privateKey?: string; certificate?: string; intermediates?: string }) => {
  const rows = await signerChecks(dir, files);
  return Object.fromEntries(rows.filter((r) => FILE_ROW.test(r.name)).map((r) => [r.name, r]));
};

describe("doctor: file rows", () => {
  it("a certificate file that also holds the private key, readable by others: a ✘ saying so, as the signer warns (round 38: a ✔)", async () => {
    const key = copy(leaf.keyPath, "key-beside-combined.pem", 0o600);
    for (const mode of [0o644, 0o664]) {
      const combined = join(dir, `cert-with-key-${mode.toString(8)}.pem`);
      writeFileSync(combined, readFileSync(leaf.keyPath, "utf8") + readFileSync(leaf.certPath, "utf8"));
      chmodSync(combined, mode);
      const rows = await rowsFor({ privateKey: key, certificate: combined });
      expect(rows["certificate file"]).toMatchObject({
        outcome: "fail",
        detail: `${combined} holds a private key and can be read or changed by other users (mode ${mode.toString(8)})`,
        hint: `keep the private key in a file of its own, or run: chmod 600 ${combined}`,
      });
      chmodSync(combined, 0o600);
      expect((await rowsFor({ privateKey: key, certificate: combined }))["certificate file"]).toMatchObject({ outcome: "pass" });
    }
  });

  it("a certificate or intermediates file the group or others can write is a ✘ with chmod go-w; 0644 is a ✔", async () => {
    for (const mode of [0o664, 0o646]) {
      const cert = copy(leaf.certPath, `cert-${mode.toString(8)}.pem`, mode);
      const chain = copy(inter.certPath, `chain-${mode.toString(8)}.pem`, mode);
      const rows = await rowsFor({ privateKey: copy(leaf.keyPath, `key-${mode.toString(8)}.pem`, 0o600), certificate: cert, intermediates: chain });
      expect(rows["certificate file"]).toMatchObject({ outcome: "fail", detail: `${cert} is writable by other users`, hint: `run: chmod go-w ${cert}` });
      expect(rows["intermediates file"]).toMatchObject({ outcome: "fail", detail: `${chain} is writable by other users` });
      expect(rows["certificate file"]!.error?.code).toBe("FILE_UNSAFE");
    }
    const cert = copy(leaf.certPath, "cert-644.pem", 0o644);
    const rows = await rowsFor({ privateKey: copy(leaf.keyPath, "key-ok.pem", 0o600), certificate: cert });
    expect(rows["certificate file"]).toMatchObject({ outcome: "pass", detail: cert });
    expect(rows["private key file"]).toMatchObject({ outcome: "pass", detail: `${join(dir, "key-ok.pem")} (mode 600)` }); // the warning's format (was 0600, the fail rows 644)
  });

  it("a private key the group or others can read or change is a ✘ with chmod 600, whatever bit, in the signer's warning's words", async () => {
    // Before round 32: "is readable by other users (mode 0620)", for a file others can change but not read.
    for (const mode of [0o640, 0o604, 0o620]) {
      const key = copy(leaf.keyPath, `key-${mode.toString(8)}.pem`, mode);
      const row = (await rowsFor({ privateKey: key, certificate: leaf.certPath }))["private key file"]!;
      expect(row).toMatchObject({
        outcome: "fail",
        detail: `${key} can be read or changed by other users (mode ${mode.toString(8)})`,
        hint: `run: chmod 600 ${key}`,
      });
      const warning = exposedFileWarnings({ mode, owner: process.getuid!() }, key, "private key file");
      expect(warning).toContain(`private key file ${row.detail}: ${row.hint!.replace("run: ", "run ")}`);
    }
  });

  it("a service user reading root's key through its group: 0640 is a ✔, and 0644's fix is chmod 640, not chmod 600 (which locks it out)", async () => {
    // The system services read root's 0640 files through their group (src/systemd/unit-files.ts). Before: chmod 600.
    const key = copy(leaf.keyPath, "key-root-group.pem", 0o644, 0);
    const spies = [vi.spyOn(process, "getuid").mockReturnValue(990), vi.spyOn(process, "getgid").mockReturnValue(0), vi.spyOn(process, "getgroups").mockReturnValue([0])];
    try {
      expect((await rowsFor({ privateKey: key, certificate: leaf.certPath }))["private key file"]).toMatchObject({
        outcome: "fail", detail: `${key} can be read or changed by other users (mode 644)`, hint: `run: chmod 640 ${key}`,
      });
      chmodSync(key, 0o640);
      expect((await rowsFor({ privateKey: key, certificate: leaf.certPath }))["private key file"]).toMatchObject({ outcome: "pass", detail: `${key} (mode 640)` });
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
  });

  // Round 31: as the signer warns (factory.ts). Before: a PKCS#12 file and a password-less TPM key were a ✔ at 0644.
  it("a PKCS#12 file (encrypted too) or a TPM key without a password others can read is a ✘; a TPM key with one is a ✔", async () => {
    const p12 = join(dir, "leaf.p12");
    execFileSync("openssl", ["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-passout", "pass:pw", "-out", p12]);
    chmodSync(p12, 0o644);
    const exposed = (path: string) => ({ outcome: "fail", detail: `${path} can be read or changed by other users (mode 644)`, hint: `run: chmod 600 ${path}` });
    expect((await rowsFor({ certificate: p12 }))["private key file"]).toMatchObject(exposed(p12));
    const tss2 = (emptyAuth: boolean) => {
      const path = join(dir, `key-${emptyAuth}.tss2.pem`);
      const key = { parent: TPM_RH.OWNER, public: decodePublicArea(encode(TPMT_PUBLIC, eccSigningPublic()), path), privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth, policy: [] };
      writeFileSync(path, encodeTss2KeyFile(key), { mode: 0o644 });
      chmodSync(path, 0o644);
      return path;
    };
    const keyRow = async (privateKey: string, ignoreEmptyAuth?: boolean) => {
      const rows = await signerChecks(dir, { privateKey, certificate: leaf.certPath, tpm: { device: join(dir, "no-tpm"), ignoreEmptyAuth } });
      return rows.find((r) => r.name === "private key file");
    };
    expect(await keyRow(tss2(true))).toMatchObject(exposed(tss2(true)));
    expect(await keyRow(tss2(true), true)).toMatchObject({ outcome: "pass" }); // it has a password after all
    expect(await keyRow(tss2(false))).toMatchObject({ outcome: "pass", detail: `${tss2(false)} (mode 644)` });
    // One the TSS2 reader refuses: as the signer, no finding about its mode (the key's row says what is wrong with it).
    const broken = join(dir, "broken.tss2.pem");
    writeFileSync(broken, "-----BEGIN TSS2 PRIVATE KEY-----\nMAA=\n-----END TSS2 PRIVATE KEY-----\n");
    chmodSync(broken, 0o644);
    expect(await keyRow(broken)).toMatchObject({ outcome: "pass", detail: `${broken} (mode 644)` });
  });

  it("a key file others can read that cannot be read as a key blob (UTF-16 text) is a ✘ row, not a crash of doctor", async () => {
    const key = join(dir, "utf16.key");
    writeFileSync(key, Buffer.from("\ufeff-----BEGIN PRIVATE KEY-----\n", "utf16le"), { mode: 0o644 });
    chmodSync(key, 0o644);
    expect((await rowsFor({ privateKey: key, certificate: leaf.certPath }))["private key file"]).toMatchObject({
      outcome: "fail", detail: `${key} can be read or changed by other users (mode 644)`,
    });
  });

  it("a key password file others can read is a ✘ with chmod 600, as the key file is (before: no row, a ✔ doctor)", async () => {
    const key = join(dir, "encrypted.key");
    execFileSync("openssl", ["pkcs8", "-topk8", "-in", leaf.keyPath, "-out", key, "-v2", "aes-256-cbc", "-passout", "pass:pw"]);
    chmodSync(key, 0o600);
    const password = join(dir, "password-644");
    writeFileSync(password, "pw\n");
    chmodSync(password, 0o644);
    const rows = await signerChecks(dir, { privateKey: key, certificate: leaf.certPath, keyPassword: { kind: "file", path: password } });
    expect(rows.find((r) => r.name === "key password file")).toMatchObject({
      outcome: "fail", detail: `${password} can be read or changed by other users (mode 644)`, hint: `run: chmod 600 ${password}`,
    });
    chmodSync(password, 0o600);
    const fixed = await signerChecks(dir, { privateKey: key, certificate: leaf.certPath, keyPassword: { kind: "file", path: password } });
    expect(fixed.find((r) => r.name === "key password file")).toMatchObject({ outcome: "pass", detail: `${password} (mode 600)` });
  });

  it("PIN, context PIN and TPM password files others can read are each a ✘ row of their own; 0600 a ✔", async () => {
    const secrets = ["pin", "context-pin", "tpm-key-pw", "tpm-parent-pw"].map((name) => {
      const path = join(dir, `${name}-644`);
      writeFileSync(path, "1234\n");
      chmodSync(path, 0o644);
      return path;
    });
    const [pin, contextPin, keyPassword, parentPassword] = secrets.map((path) => ({ kind: "file", path }) as const);
    const pkcs11Uri = `pkcs11:token=t;object=k?module-path=${join(dir, "no-module.so")}`;
    const tss2 = join(dir, "rows.tss2.pem");
    writeFileSync(tss2, "-----BEGIN TSS2 PRIVATE KEY-----\nMAA=\n-----END TSS2 PRIVATE KEY-----\n", { mode: 0o600 });
    const both = async () => [
      ...(await signerChecks(dir, { privateKey: pkcs11Uri, certificate: pkcs11Uri, pkcs11: { pin, contextPin } })),
      ...(await signerChecks(dir, { privateKey: tss2, certificate: leaf.certPath, tpm: { device: join(dir, "no-tpm"), keyPassword, parentPassword } })),
    ];
    const names = ["PIN file", "context PIN file", "TPM key password file", "TPM parent password file"];
    const rows = await both();
    names.forEach((name, i) => expect(rows.find((r) => r.name === name), name).toMatchObject({
      outcome: "fail", detail: `${secrets[i]} can be read or changed by other users (mode 644)`, hint: `run: chmod 600 ${secrets[i]}`,
    }));
    for (const path of secrets) chmodSync(path, 0o600);
    const fixed = await both();
    names.forEach((name, i) => expect(fixed.find((r) => r.name === name), name).toMatchObject({ outcome: "pass", detail: `${secrets[i]} (mode 600)` }));
  });

  // Round 31: whoever can write the directory can rename another file over the PIN file (the signer warns as doctor fails).
  it("a PIN file of mode 0600 in a directory others can write (0777, or one above it) is a ✘ with chmod go-w on it; sticky 1777 a ✔", async () => {
    const open = join(dir, "open-pin-dir");
    const path = join(open, "own", "pin");
    mkdirSync(join(open, "own"), { recursive: true });
    writeFileSync(path, "1234\n", { mode: 0o600 });
    const row = async () => (await signerChecks(dir, { privateKey: "pkcs11:token=t;object=k", certificate: "pkcs11:token=t;object=k", pkcs11: { pin: { kind: "file", path } } })).find((r) => r.name === "PIN file");
    expect(await row()).toMatchObject({ outcome: "pass" });
    chmodSync(open, 0o777);
    expect(await row()).toMatchObject({ outcome: "fail", detail: `${path} is in a directory other users can change (${open}, mode 777)`, hint: `run: chmod go-w ${open}` });
    if (process.getuid?.() === 0) {
      chownSync(open, 0, 65_534); // nogroup: nobody's and sync's group, so other accounts can write through it
      chmodSync(open, 0o2775); // group-writable, setgid: the mode in full
      expect(await row()).toMatchObject({ outcome: "fail", detail: `${path} is in a directory other users can change (${open}, mode 2775)` });
    }
    chmodSync(open, 0o1777);
    expect(await row()).toMatchObject({ outcome: "pass" });
  });

  // Round 33: the owner of a directory on the way renames the PIN file away, whatever the directory's mode.
  it.runIf(process.getuid?.() === 0)("a PIN file of mode 0600 in a 0755 directory of another user, or under one, is a ✘ naming it and the move (before: a ✔)", async () => {
    const theirs = join(dir, "their-dir");
    const path = join(theirs, "own", "pin");
    mkdirSync(join(theirs, "own"), { recursive: true, mode: 0o755 });
    writeFileSync(path, "1234\n", { mode: 0o600 });
    const row = async () => (await signerChecks(dir, { privateKey: "pkcs11:token=t;object=k", certificate: "pkcs11:token=t;object=k", pkcs11: { pin: { kind: "file", path } } })).find((r) => r.name === "PIN file");
    expect(await row()).toMatchObject({ outcome: "pass" });
    chownSync(theirs, 61_998, 61_998);
    const detail = `${path} is in a directory owned by another user (uid 61998, ${theirs}), who can replace it`;
    expect(await row()).toMatchObject({ outcome: "fail", detail, hint: "move it to a directory of your own" });
    expect(exposedFileWarnings({ mode: 0o100600, owner: 0 }, path, "PIN file")).toEqual([`PIN file ${detail}: move it to a directory of your own`]);
    chownSync(theirs, 0, 0);
    expect(await row()).toMatchObject({ outcome: "pass" });
  });

  it("a URI's pin-source file others can read is a ✘ row, and the --pkcs11-pin-file it wins over gets none (before: no row)", async () => {
    const pin = join(dir, "uri-pin-644");
    writeFileSync(pin, "1234\n");
    chmodSync(pin, 0o644);
    const unused = join(dir, "flag-pin-600");
    writeFileSync(unused, "1234\n", { mode: 0o600 });
    // No module there: the signer stops at once; the file rows come before it.
    const uri = (query: string) => `pkcs11:token=t;object=k?module-path=${join(dir, "no-module.so")}&${query}`;
    for (const query of [`pin-source=${pin}`, `pin-source=file:${pin}`]) {
      const rows = await signerChecks(dir, { privateKey: uri(query), pkcs11: { pin: { kind: "file", path: unused } } });
      expect(rows.filter((r) => r.name.endsWith("PIN file") || r.name === "pin-source file")).toEqual([expect.objectContaining({
        name: "pin-source file", outcome: "fail", detail: `${pin} can be read or changed by other users (mode 644)`, hint: `run: chmod 600 ${pin}`,
      })]);
    }
    chmodSync(pin, 0o600);
    const rows = await signerChecks(dir, { privateKey: "pkcs11:token=t;object=k", certificate: uri(`pin-source=${pin}`) });
    expect(rows.find((r) => r.name === "pin-source file")).toMatchObject({ outcome: "pass", detail: `${pin} (mode 600)` });
    // pin-value: no file to look at; the flag's file is not used either.
    const value = await signerChecks(dir, { privateKey: uri("pin-value=1234"), pkcs11: { pin: { kind: "file", path: unused } } });
    expect(value.map((r) => r.name).filter((n) => /PIN file|pin-source/.test(n))).toEqual([]);
  });

  it("a certificate or intermediates FIFO is a – row saying so, not a ✔ file; one others can write is still a ✘", async () => {
    const fifo = join(dir, "chain-fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    const writer = spawn("sh", ["-c", `cat ${inter.certPath} > ${fifo}`]); // the signer reads it after the rows
    try {
      const rows = await rowsFor({ privateKey: copy(leaf.keyPath, "key-fifo-chain.pem", 0o600), certificate: leaf.certPath, intermediates: fifo });
      expect(rows["intermediates file"]).toMatchObject({ outcome: "skip", detail: `${fifo} is a FIFO, not a regular file: what comes through it is read with the key` });
    } finally {
      writer.kill();
    }
    chmodSync(fifo, 0o622);
    const writer2 = spawn("sh", ["-c", `cat ${inter.certPath} > ${fifo}`]);
    try {
      const rows = await rowsFor({ privateKey: copy(leaf.keyPath, "key-fifo-chain.pem", 0o600), certificate: leaf.certPath, intermediates: fifo });
      expect(rows["intermediates file"]).toMatchObject({ outcome: "fail", detail: `${fifo} is writable by other users` });
    } finally {
      writer2.kill();
    }
  });

  it.runIf(process.geteuid?.() === 0)("a private key of another user, even 0600, is a ✘: its owner could swap it", async () => {
    const key = copy(leaf.keyPath, "key-of-nobody.pem", 0o600, 65534);
    const rows = await rowsFor({ privateKey: key, certificate: leaf.certPath });
    expect(rows["private key file"]).toMatchObject({
      outcome: "fail", detail: `${key} belongs to another user (uid 65534), who can change it`, hint: `run: chown 0 ${key}`, // the warning's words
    });
  });

  it("a file that is not there is a ✘ FILE_NOT_FOUND; a certificate that is also the key file is one row", async () => {
    const rows = await rowsFor({ privateKey: join(dir, "no-key.pem"), certificate: join(dir, "no-cert.pem") });
    expect(rows["private key file"]).toMatchObject({ outcome: "fail", detail: `${join(dir, "no-key.pem")} does not exist`, hint: "check the path" });
    expect(rows["certificate file"]!.error?.code).toBe("FILE_NOT_FOUND");
    const both = await signerChecks(dir, { certificate: copy(leaf.keyPath, "only.pem", 0o600) });
    expect(both.filter((r) => FILE_ROW.test(r.name)).map((r) => r.name)).toEqual(["private key file"]);
  });
});

describe("doctor: a file its one read refuses", () => {
  // Round 33 (Stryker survivors in checks.ts readKeyFile/readIntermediates): the refusal of doctor's own read is the
  // row, naming what the file is for, as the signer's read would.
  it("UTF-16 text as the combined certificate and key, and as --intermediates: each read's refusal, named", async () => {
    const u16 = join(dir, "utf16.pem");
    writeFileSync(u16, Buffer.from("\ufeff-----BEGIN CERTIFICATE-----\n", "utf16le"), { mode: 0o600 });
    const rows = Object.fromEntries((await signerChecks(dir, { certificate: u16, intermediates: u16 })).map((r) => [r.name, r]));
    expect(rows["intermediates file"]).toMatchObject({ outcome: "fail", detail: `intermediates file ${u16} is UTF-16 text` });
    expect(rows["key and certificate"]).toMatchObject({ outcome: "fail", detail: `certificate file ${u16} is UTF-16 text` });
  });
});

describe("doctor: certificate validity and --warning-days", () => {
  const soon = issueLeaf(inter, dir, { name: "doctor-files-soon", days: 10 });
  const validity = async (warningDays: number) => {
    const rows = await runChecks(
      {
        signer: { privateKey: soon.keyPath, certificate: soon.certPath },
        session: new AgentError("INPUT_MISSING", "no ARNs in this test"),
        endpoint: {},
        agentSocket: join(dir, "no-agent.sock"),
        createSession: false,
        warningDays,
        env: {},
      },
      () => undefined,
    );
    return rows.find((r) => r.name === "certificate validity")!;
  };

  it("a certificate expiring in 10 days is a ✘ with 30 or 11 warning days, a ✔ with 9, and with 0 (no warning)", async () => {
    for (const days of [30, 11]) {
      expect(await validity(days)).toMatchObject({ outcome: "fail", detail: expect.stringMatching(new RegExp(`: expires within ${days} days$`)), hint: "renew the certificate now" });
    }
    for (const days of [9, 0]) expect(await validity(days)).toMatchObject({ outcome: "pass", detail: expect.stringMatching(/^CN=doctor-files-soon, valid until .* left\)$/) });
  });

  it("at the certificate's last valid moment 0 warning days (never warn) is a ✔; exactly 1 day left is within 1 day", async () => {
    const { notAfter } = (await readCertificateFile(soon.certPath)).certificates[0];
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(notAfter);
      expect(await validity(0)).toMatchObject({ outcome: "pass" });
      expect(await validity(1)).toMatchObject({ outcome: "fail", detail: expect.stringMatching(/: expires within 1 days$/) });
      vi.setSystemTime(notAfter.getTime() - DAY_MS);
      expect(await validity(1)).toMatchObject({ outcome: "fail" });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("doctor: the certificate's own rows", () => {
  const run = (signer: { privateKey?: string; certificate?: string; intermediates?: string }, warningDays = 0, trustAnchors?: string) =>
    runChecks(
      {
        signer,
        session: new AgentError("INPUT_MISSING", "no ARNs in this test"),
        endpoint: {},
        trustAnchors,
        agentSocket: join(dir, "no-agent.sock"),
        createSession: false,
        warningDays,
        env: {},
      },
      () => undefined,
    ).then((rows) => (name: string) => rows.find((r) => r.name === name));

  it("an expired or not yet valid certificate is a ✘, with no warning days too", async () => {
    for (const [name, dates] of [["expired", { expired: true }], ["early", { notYetValid: true }]] as const) {
      const cert = issueLeaf(inter, dir, { name: `doctor-files-${name}`, ...dates });
      const row = await run({ privateKey: cert.keyPath, certificate: cert.certPath });
      expect(row("certificate validity"), name).toMatchObject({ outcome: "fail" });
      expect(row("certificate validity")!.error?.code, name).toMatch(/^CERTIFICATE_(EXPIRED|NOT_YET_VALID)$/);
    }
  });

  it("a file key: it opens in the file, signs for the certificate, and no TPM or token row is shown", async () => {
    const key = copy(leaf.keyPath, "key-file-rows.pem", 0o600);
    const rows = await signerChecks(dir, { privateKey: key, certificate: leaf.certPath, intermediates: inter.certPath });
    expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass", detail: "EC key in the file" });
    expect(rows.find((r) => r.name === "key matches certificate")).toMatchObject({ outcome: "pass" });
    expect(rows.filter((r) => /TPM|PKCS#11|token/.test(r.name))).toEqual([]);
  });

  it("an RSA file key gets its test signature too: a ✔ that was checked, not a skip", async () => {
    const rsa = issueLeaf(inter, dir, { name: "doctor-files-rsa", keyType: "rsa2048" });
    const rows = await signerChecks(dir, { privateKey: rsa.keyPath, certificate: rsa.certPath });
    expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass", detail: "RSA key in the file" });
    expect(rows.find((r) => r.name === "key matches certificate")).toMatchObject({ outcome: "pass", detail: expect.stringMatching(/verifies/) });
  });

  it("an ML-DSA file key: the test signature is not tried (not a ✘ for a key that works), and the key opens", async () => {
    const mldsa = issueMlDsaLeaf(inter, dir, { name: "doctor-files-mldsa", keyType: "ML-DSA-44" });
    const rows = await signerChecks(dir, { privateKey: mldsa.keyPath, certificate: mldsa.certPath });
    expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass" });
    expect(rows.find((r) => r.name === "key matches certificate")).toMatchObject({ outcome: "skip", detail: "not checked for ML-DSA-44 keys" });
  });

  it("signer settings that cannot be built are a ✘ row of their own, so doctor cannot pass without a signer", async () => {
    const bad = new AgentError("USAGE", "--private-key and --certificate name different key types");
    const rows = await signerChecks(dir, bad);
    expect(rows.find((r) => r.name === "signer settings")).toMatchObject({ outcome: "fail", detail: bad.message });
    expect(rows.filter((r) => r.outcome === "pass" && r.name !== "native helper").map((r) => r.name)).toEqual([]); // that row is the installation's
  });

  it("no certificate to read: the validity row says so; a chain to the wrong CA is a ✘ without the clock hint", async () => {
    // The key does not open: its certificate file is still checked on its own, and no test signature is tried.
    const keyless = await run({ privateKey: join(dir, "absent-key.pem"), certificate: leaf.certPath });
    expect(keyless("certificate validity")).toMatchObject({ outcome: "pass", detail: expect.stringMatching(/^CN=doctor-files-leaf, /) });
    expect(keyless("key matches certificate")).toBeUndefined();
    const none = await run({ privateKey: join(dir, "absent-key.pem"), certificate: join(dir, "absent-cert.pem") });
    expect(none("certificate validity")).toMatchObject({ outcome: "skip", detail: "no certificate could be read" });
    const other = createCa(join(dir, "other-ca"), { name: "Doctor Files Other CA" });
    const wrong = await run({ privateKey: copy(leaf.keyPath, "key-chain.pem", 0o600), certificate: leaf.certPath }, 0, other.certPath);
    expect(wrong("certificate chain")).toMatchObject({ outcome: "fail" });
    expect(wrong("certificate chain")!.hint ?? "").not.toMatch(/clock/);
  });

  it("a key that does not open: the chain is still the certificate file's leaf with --intermediates after it", async () => {
    const absent = join(dir, "absent-key.pem");
    const given = await run({ privateKey: absent, certificate: leaf.certPath, intermediates: inter.certPath }, 0, ca.certPath);
    expect(given("key and certificate")).toMatchObject({ outcome: "fail" });
    expect(given("certificate chain")).toMatchObject({ outcome: "pass", detail: expect.stringMatching(/doctor-files-leaf.* → .*Doctor Files Intermediate.* → .*Doctor Files CA/) });
    // --intermediates replaces the chain in the certificate file, as the signer would: a wrong one is a ✘.
    const bundle = join(dir, "leaf-and-intermediate.pem");
    writeFileSync(bundle, readFileSync(leaf.certPath, "utf8") + readFileSync(inter.certPath, "utf8"));
    expect((await run({ privateKey: absent, certificate: bundle }, 0, ca.certPath))("certificate chain")).toMatchObject({ outcome: "pass" });
    const other = createCa(join(dir, "other-ca"), { name: "Doctor Files Other Intermediate" });
    const replaced = await run({ privateKey: absent, certificate: bundle, intermediates: other.certPath }, 0, ca.certPath);
    expect(replaced("certificate chain")).toMatchObject({ outcome: "fail" });
  });
});

describe("doctor's printed rows", () => {
  it("a hint quoting a path of over 2,000 characters with a terminal escape in it: one bounded printable line", async () => {
    // The hint "run: chmod 600 PATH" cannot quote a path this long whole: a placeholder, never a line cut inside a quote.
    let deep = mkdtempSync(join(dir, "deep-\u001b[2J-"));
    for (let i = 0; i < 9; i++) deep = join(deep, `${i}${"d".repeat(240)}`);
    execFileSync("mkdir", ["-p", deep]);
    const key = copy(leaf.keyPath, join(deep.slice(dir.length + 1), "key.pem"), 0o644);
    const { runMain } = await import("../helpers/run-main.js");
    const { stdout } = await runMain(["doctor", "--private-key", key, "--certificate", leaf.certPath], { XDG_RUNTIME_DIR: "/nonexistent" });
    const lines = stdout.split("\n");
    expect(lines.find((line) => line.includes("→ run: chmod 600"))).toMatch(/^ +→ run: chmod 600 <path too long to quote here>$/);
    expect(stdout).not.toContain("\u001b");
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(2_100);
  });
});
