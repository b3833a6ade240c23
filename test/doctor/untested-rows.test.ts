/**
 * Round 36 (T2): doctor's rows that M41's mutation run found no test reaching.
 * - A PIN or password file whose read ahead fails (over 16 MiB, a directory) is its own ✘ row, in the reader's words:
 *   a directory was not read ahead, and its row was a ✔ "(mode 700)" beside a signer that could not read it.
 * - --create-session with no usable signer: CreateSession is a – "no usable signer", not "fix the failures above".
 * - The native helper loaded: a ✔ row naming where it was loaded from.
 * - A key and certificate in one file: one row (the key's) without --private-key, both rows with it.
 * - A refused --intermediates file is left out of the signer: the key's rows are about the key.
 * - Round 37: and out of the chain row when the key cannot be used (it built the chain on the refused bundle).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { runChecks, type CheckRow } from "../../src/doctor/checks.js";
import { nativeHelperPath } from "../../src/os/native-helper.js";
import type { SignerOptions } from "../../src/signers/options.js";
import { signerChecks } from "../helpers/doctor-checks.js";
import { createCa, issueLeaf } from "../helpers/pki.js";
import { sessionParams } from "../rolesanywhere/support.js";

// A helper that loaded and finds no ACL on any file: the rows here do not depend on this checkout's build.
vi.mock("../../src/os/native-helper.js", async (actual) => ({
  ...(await actual<object>()),
  loadNativeHelper: () => ({ helper: { accessAcl: () => null } }),
}));

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-untested-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "Untested Rows CA" }), join(dir, "leaf"), { name: "untested-rows", keyType: "p256" });
chmodSync(leaf.keyPath, 0o600);
const row = (rows: CheckRow[], name: string) => rows.find((r) => r.name === name);

/** A 0600 file over the 16 MiB every input is held to (sparse), and a 0700 directory. */
const tooBig = (name: string) => {
  const path = join(dir, name);
  writeFileSync(path, "", { mode: 0o600 });
  truncateSync(path, 17 * 2 ** 20);
  return path;
};
const directory = (name: string) => {
  const path = join(dir, name);
  mkdirSync(path, { mode: 0o700 });
  return path;
};

describe("doctor's rows no test reached before round 36", () => {
  it("a PIN file over 16 MiB: its own ✘ row, the read's error (the row is not judged by its mode)", async () => {
    const pin = tooBig("pin-big");
    const rows = await signerChecks(dir, { privateKey: "pkcs11:token=t;object=k", certificate: leaf.certPath, pkcs11: { pin: { kind: "file", path: pin } } });
    expect(row(rows, "PIN file")).toMatchObject({ outcome: "fail", detail: `PIN file: file ${pin} holds more than 16 MiB` });
    expect(rows.filter((r) => r.name === "PIN file")).toHaveLength(1);
  });

  it("a PIN or password file that is a directory: a ✘ row saying so (was: ✔ \"(mode 700)\")", async () => {
    const pin = directory("pin-dir");
    let rows = await signerChecks(dir, { privateKey: "pkcs11:token=t;object=k", certificate: leaf.certPath, pkcs11: { pin: { kind: "file", path: pin } } });
    expect(row(rows, "PIN file")).toMatchObject({ outcome: "fail", detail: `PIN file: file ${pin} is a directory, not a file` });
    const password = directory("password-dir");
    rows = await signerChecks(dir, { privateKey: leaf.keyPath, certificate: leaf.certPath, keyPassword: { kind: "file", path: password } });
    expect(row(rows, "key password file")).toMatchObject({ outcome: "fail", detail: `key password file: file ${password} is a directory, not a file` });
  });

  it("--create-session without a usable signer: CreateSession is a – \"no usable signer\"", async () => {
    const rows = await runChecks({
      signer: { certificate: leaf.certPath, privateKey: join(dir, "no-such.key") },
      session: sessionParams(),
      endpoint: { endpoint: "http://127.0.0.1:1", maxAttempts: 1, timeoutMs: 5_000 },
      agentSocket: join(dir, "no-agent.sock"),
      createSession: true,
      warningDays: 0,
      env: {},
    }, () => undefined);
    expect(row(rows, "key and certificate")).toMatchObject({ outcome: "fail" });
    expect(row(rows, "CreateSession")).toEqual({ name: "CreateSession", outcome: "skip", detail: "no usable signer", hint: undefined });
  });

  it("the native helper loaded: a ✔ row with the path it was loaded from", async () => {
    const rows = await signerChecks(dir, { privateKey: leaf.keyPath, certificate: leaf.certPath });
    expect(row(rows, "native helper")).toEqual({ name: "native helper", outcome: "pass", detail: `loaded (${nativeHelperPath()})` });
  });

  it("a key and certificate in one file: the key's row alone without --private-key; with it, a certificate row too", async () => {
    const both = join(dir, "both.pem");
    writeFileSync(both, Buffer.concat([readFileSync(leaf.keyPath), readFileSync(leaf.certPath)]), { mode: 0o600 });
    const names = (rows: CheckRow[]) => rows.filter((r) => /^(private key|certificate) file$/.test(r.name)).map((r) => [r.name, r.outcome, r.detail]);
    expect(names(await signerChecks(dir, { certificate: both }))).toEqual([["private key file", "pass", `${both} (mode 600)`]]);
    const rows = await signerChecks(dir, { privateKey: both, certificate: both });
    expect(names(rows)).toEqual([["private key file", "pass", `${both} (mode 600)`], ["certificate file", "pass", both]]);
    expect(row(rows, "key opens")).toMatchObject({ outcome: "pass" });
  });

  it("an --intermediates file refused: the signer is opened without it, and the key's rows are the key's", async () => {
    const intermediates = join(dir, "not-a-bundle.pem");
    writeFileSync(intermediates, readFileSync(leaf.keyPath), { mode: 0o644 }); // a key, not certificates
    const options: SignerOptions = { privateKey: leaf.keyPath, certificate: leaf.certPath, intermediates };
    const rows = await signerChecks(dir, options);
    expect(row(rows, "intermediates file")).toMatchObject({ outcome: "fail", error: { code: "CHAIN_INVALID" } });
    expect(row(rows, "key and certificate")).toBeUndefined();
    expect(row(rows, "key opens")).toMatchObject({ outcome: "pass" });
    expect(row(rows, "key matches certificate")).toMatchObject({ outcome: "pass" });
  });

  it("an --intermediates file refused while the key cannot be used: the chain row does not build on it either", async () => {
    const root = createCa(join(dir, "chain-root"), { name: "Chain Root" });
    const middle = createCa(join(dir, "chain-middle"), { name: "Chain Middle", parent: root });
    const issued = issueLeaf(middle, join(dir, "chain-leaf"), { name: "chain-leaf", keyType: "p256" });
    const bundle = join(dir, "middle-group-writable.pem");
    writeFileSync(bundle, middle.certPem);
    chmodSync(bundle, 0o664); // another user of the group could swap in a chain of their own
    const unusable = join(dir, "not-a-key.pem");
    writeFileSync(unusable, "not a key\n", { mode: 0o600 });
    const options: SignerOptions = { privateKey: unusable, certificate: issued.certPath, intermediates: bundle };
    const rows = await signerChecks(dir, options, root.certPath);
    expect(row(rows, "intermediates file")).toMatchObject({ outcome: "fail", detail: `${bundle} is writable by other users` });
    expect(rows.some((r) => r.outcome === "pass" && /^key (opens|matches certificate)$/.test(r.name))).toBe(false);
    // As when the key works: the chain is checked without the refused bundle, so it does not reach the anchor.
    expect(row(rows, "certificate chain")).toMatchObject({ outcome: "fail", error: { code: "ACCESS_DENIED" } });
    chmodSync(bundle, 0o644);
    expect(row(await signerChecks(dir, options, root.certPath), "certificate chain")).toMatchObject({ outcome: "pass" });
  });
});
