/**
 * doctor reads the private-key file once (by descriptor, readOpenedFile), and its row, the TPM-key check and the
 * signer all judge those bytes: a file swapped between reads cannot give a row judged on one version and a signer
 * built from another. Before round 32 it was read up to three times: for the TPM-key check on an exposed file, to
 * tell a TSS2 key, and by the signer factory.
 */
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

const reads = vi.hoisted(() => [] as string[]);
vi.mock("../../src/io/read-opened-file.js", async (actual) => {
  const real = await actual<typeof import("../../src/io/read-opened-file.js")>();
  return { ...real, readOpenedFile: (path: string, ...rest: []) => (reads.push(path), real.readOpenedFile(path, ...rest)) };
});

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-once-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "Doctor Once CA" }), dir, { name: "doctor-once" });
beforeEach(() => void reads.splice(0));

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

  it("a TSS2 key file others can read, with no TPM: one read, judged and refused from the same bytes", async () => {
    const path = join(dir, "key.tss2.pem");
    const key = { parent: TPM_RH.OWNER, public: decodePublicArea(encode(TPMT_PUBLIC, eccSigningPublic()), path), privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth: true, policy: [] };
    writeFileSync(path, encodeTss2KeyFile(key), { mode: 0o644 });
    chmodSync(path, 0o644);
    const rows = await signerChecks(dir, { privateKey: path, certificate: leaf.certPath, tpm: { device: "tcp:127.0.0.1:1" } });
    expect(rows.find((r) => r.name === "private key file")).toMatchObject({ outcome: "fail" }); // password-less: exposed
    expect(rows.find((r) => r.name === "TPM reachable")).toMatchObject({ outcome: "fail" });
    expect(reads.filter((p) => p === path)).toHaveLength(1);
  });
});

