/**
 * doctor reads the private-key file once (by descriptor, readOpenedFile), and its row, the TPM-key check and the
 * signer all judge those bytes: a file swapped between reads cannot give a row judged on one version and a signer
 * built from another. Before round 32 it was read up to three times: for the TPM-key check on an exposed file, to
 * tell a TSS2 key, and by the signer factory. Round 33: a TSS2 key is parsed once (doctor's parse for its password
 * check is the signer's; it was parsed twice), and --intermediates is read once, its row, the signer's chain and the
 * chain check all from that read (it was read by the row, by the signer, and again when the key could not be used).
 * The certificate file beside a separate key likewise (it was stat()ed by name for its row, read by the signer, and
 * read again for the validity and chain checks when the key could not be used).
 */
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";
import { encodeTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPM_RH } from "../../src/tpm/wire/constants.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { signerChecks } from "../helpers/doctor-checks.js";
import { createCa, issueLeaf } from "../helpers/pki.js";
import { eccSigningPublic } from "../helpers/tpm-public.js";

const { reads, afterRead, parses } = vi.hoisted(() => ({ reads: [] as string[], afterRead: new Map<string, () => void>(), parses: [] as string[] }));
vi.mock("../../src/io/read-opened-file.js", async (actual) => {
  const real = await actual<typeof import("../../src/io/read-opened-file.js")>();
  const readOpenedFile = async (path: string, ...rest: []) => {
    reads.push(path);
    const read = await real.readOpenedFile(path, ...rest);
    afterRead.get(path)?.(); // what another process does to the file just after this read
    return read;
  };
  return { ...real, readOpenedFile };
});
vi.mock("../../src/tpm/keys/tss2-key-file.js", async (actual) => {
  const real = await actual<typeof import("../../src/tpm/keys/tss2-key-file.js")>();
  return { ...real, parseTss2KeyFile: (...args: Parameters<typeof real.parseTss2KeyFile>) => (parses.push(args[1]), real.parseTss2KeyFile(...args)) };
});

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-once-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "Doctor Once CA" }), dir, { name: "doctor-once" });
beforeEach(() => {
  reads.splice(0);
  parses.splice(0);
  afterRead.clear();
});

describe("doctor reads the key file once", () => {
  it("a key file others can read (the TPM-key check runs): one read, and the signer opens from it", async () => {
    const key = join(dir, "key-644.pem");
    copyFileSync(leaf.keyPath, key);
    chmodSync(key, 0o644);
    const rows = await signerChecks(dir, { privateKey: key, certificate: leaf.certPath });
    expect(rows.find((r) => r.name === "private key file")).toMatchObject({ outcome: "fail" });
    expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass" });
    expect(rows.find((r) => r.name === "key matches certificate")).toMatchObject({ outcome: "pass" });
    expect(reads.filter((path) => path === key)).toHaveLength(1);
  });

  it("a combined PEM given as --certificate alone: one read", async () => {
    const combined = join(dir, "combined.pem");
    writeFileSync(combined, Buffer.concat([readFileSync(leaf.certPath), readFileSync(leaf.keyPath)]), { mode: 0o600 });
    const rows = await signerChecks(dir, { certificate: combined });
    expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass" });
    expect(reads.filter((path) => path === combined)).toHaveLength(1);
  });

  it("a TSS2 key file others can read, with no TPM: one read and one parse, judged and refused from the same key", async () => {
    const path = join(dir, "key.tss2.pem");
    const key = { parent: TPM_RH.OWNER, public: decodePublicArea(encode(TPMT_PUBLIC, eccSigningPublic()), path), privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth: true, policy: [] };
    writeFileSync(path, encodeTss2KeyFile(key), { mode: 0o644 });
    chmodSync(path, 0o644);
    const rows = await signerChecks(dir, { privateKey: path, certificate: leaf.certPath, tpm: { device: "tcp:127.0.0.1:1" } });
    expect(rows.find((r) => r.name === "private key file")).toMatchObject({ outcome: "fail" }); // password-less: exposed
    expect(rows.find((r) => r.name === "TPM reachable")).toMatchObject({ outcome: "fail" });
    expect(reads.filter((p) => p === path)).toHaveLength(1);
    expect(parses).toEqual([`TPM key file ${path}`]);
  });
});

describe("the key file's row judges the version read", () => {
  it("another user's file renamed over the key's name just after doctor read it: the row is about the key read (owner, mode)", async () => {
    const key = join(dir, "key-swapped.pem");
    copyFileSync(leaf.keyPath, key);
    chmodSync(key, 0o600);
    const other = join(dir, "other-user.pem");
    afterRead.set(key, () => {
      writeFileSync(other, "another user's file", { mode: 0o640 });
      chownSync(other, 12_345, 12_345);
      renameSync(other, key);
    });
    const rows = await signerChecks(dir, { privateKey: key, certificate: leaf.certPath });
    expect(rows.find((r) => r.name === "private key file")).toMatchObject({ outcome: "pass", detail: `${key} (mode 600)` });
    expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass" });
  });
});

describe("doctor reads --intermediates once", () => {
  const root = createCa(join(dir, "root"), { name: "Once Root" });
  const issuing = createCa(join(dir, "issuing"), { name: "Once Issuing", parent: root });
  const chained = issueLeaf(issuing, join(dir, "chained"), { name: "chained" });
  chmodSync(chained.keyPath, 0o600);
  const bundle = (name: string) => {
    const path = join(dir, name);
    copyFileSync(issuing.certPath, path);
    chmodSync(path, 0o644);
    return path;
  };
  const outcomes = (rows: Awaited<ReturnType<typeof signerChecks>>, ...names: string[]) => names.map((n) => rows.find((r) => r.name === n)?.outcome);

  it("the key opens: one read, whose certificates are the signer's chain and the chain checked", async () => {
    const intermediates = bundle("chain-ok.pem");
    const rows = await signerChecks(dir, { privateKey: chained.keyPath, certificate: chained.certPath, intermediates }, root.certPath);
    expect(outcomes(rows, "intermediates file", "key opens", "certificate chain")).toEqual(["pass", "pass", "pass"]);
    expect(reads.filter((p) => p === intermediates)).toHaveLength(1);
  });

  it("the key cannot be used: still one read, and the chain is checked with it", async () => {
    const intermediates = bundle("chain-nokey.pem");
    const key = join(dir, "not-a-key.pem");
    writeFileSync(key, "not a key\n", { mode: 0o600 });
    const rows = await signerChecks(dir, { privateKey: key, certificate: chained.certPath, intermediates }, root.certPath);
    expect(outcomes(rows, "intermediates file", "key and certificate", "certificate chain")).toEqual(["pass", "fail", "pass"]);
    expect(reads.filter((p) => p === intermediates)).toHaveLength(1);
  });

  it("a bundle swapped just after doctor read it: the row and the signer both judged the version read", async () => {
    const intermediates = bundle("chain-swapped.pem");
    // After the first read the name holds a private key others may change: a second read (the signer's) would refuse it,
    // CHAIN_INVALID, and a stat of the name would find it writable.
    afterRead.set(intermediates, () => {
      const other = join(dir, "chain-other.pem");
      copyFileSync(chained.keyPath, other);
      chmodSync(other, 0o666);
      renameSync(other, intermediates);
    });
    const rows = await signerChecks(dir, { privateKey: chained.keyPath, certificate: chained.certPath, intermediates }, root.certPath);
    expect(outcomes(rows, "intermediates file", "key opens", "certificate chain")).toEqual(["pass", "pass", "pass"]);
  });
});


describe("doctor reads the certificate file (beside --private-key) once", () => {
  const key = join(dir, "cert-once-key.pem");
  copyFileSync(leaf.keyPath, key);
  chmodSync(key, 0o600);
  const certificate = (name: string) => {
    const path = join(dir, name);
    copyFileSync(leaf.certPath, path);
    chmodSync(path, 0o644);
    return path;
  };
  // After the first read the name holds another certificate, in a file others may change.
  const swapAfterRead = (path: string) =>
    afterRead.set(path, () => {
      const other = issueLeaf(createCa(`${path}-other-ca`, { name: "Other CA" }), `${path}-other`, { name: "someone-else" });
      chmodSync(other.certPath, 0o666);
      renameSync(other.certPath, path);
    });

  it("the key opens: one read, and the row judges that read's mode", async () => {
    const cert = certificate("cert-once.pem");
    swapAfterRead(cert);
    const rows = await signerChecks(dir, { privateKey: key, certificate: cert });
    expect(rows.find((r) => r.name === "certificate file")).toMatchObject({ outcome: "pass" });
    expect(rows.find((r) => r.name === "key matches certificate")).toMatchObject({ outcome: "pass" });
    expect(rows.find((r) => r.name === "certificate validity")?.detail).toContain("doctor-once");
    expect(reads.filter((p) => p === cert)).toHaveLength(1);
  });

  it("the key cannot be used: still one read, and validity is checked on the certificate the row judged", async () => {
    const cert = certificate("cert-once-nokey.pem");
    const notKey = join(dir, "cert-once-not-a-key.pem");
    writeFileSync(notKey, "not a key\n", { mode: 0o600 });
    swapAfterRead(cert);
    const rows = await signerChecks(dir, { privateKey: notKey, certificate: cert });
    expect(rows.find((r) => r.name === "certificate file")).toMatchObject({ outcome: "pass" });
    expect(rows.find((r) => r.name === "key and certificate")).toMatchObject({ outcome: "fail" });
    expect(rows.find((r) => r.name === "certificate validity")?.detail).toContain("doctor-once");
    expect(reads.filter((p) => p === cert)).toHaveLength(1);
  });
});
