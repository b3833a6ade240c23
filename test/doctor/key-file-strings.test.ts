/**
 * doctor reads a key file to tell a TPM key blob (and, for a file others can read, a PKCS#12 file) from a plain key:
 * it must do so on the bytes, as the signer does, not through a string of the whole file that could never be wiped.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringsMadeBy } from "../helpers/copies-made.js";
import { signerChecks } from "../helpers/doctor-checks.js";
import { createCa, issueLeaf } from "../helpers/pki.js";

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-key-strings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("doctor and a plain PEM key file: no string of the file", () => {
  const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "Key Strings CA" }), dir, { name: "key-strings-leaf" });
  const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" });
  const lines = String(pem).split("\n").filter((l) => /^[A-Za-z0-9+/=]{20,}$/.test(l));

  it.each([0o600, 0o644])("mode %o: every string made while checking it is free of the key's base64", async (mode) => {
    const keyPath = join(dir, `key-${mode.toString(8)}.pem`);
    writeFileSync(keyPath, pem);
    chmodSync(keyPath, mode);
    const { result: rows, strings } = await stringsMadeBy(() => signerChecks(dir, { privateKey: keyPath, certificate: leaf.certPath }));
    expect(rows.find((r) => r.name === "private key file")?.outcome).toBe(mode === 0o600 ? "pass" : "fail");
    // Before: the file as one latin1 string, to look for a TSS2 block (twice when others could read it).
    expect(strings.filter((s) => lines.some((l) => s.includes(l.slice(0, 24))))).toEqual([]);
  });
});
