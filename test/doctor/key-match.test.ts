/**
 * runChecks' "key matches certificate" row when the key opened but signs for another key (a token whose
 * public attributes match the certificate while its private key does not) or fails to sign. The signers refuse
 * a key that does not match when they open, so the signer is the real one with its sign() replaced.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { DeviceError } from "../../src/errors.js";
import type { Signer } from "../../src/signers/signer.js";
import { signerChecks } from "../helpers/doctor-checks.js";
import { createCa, issueLeaf } from "../helpers/pki.js";

const replaced = vi.hoisted(() => ({ sign: undefined as Signer["sign"] | undefined }));
vi.mock("../../src/signers/factory.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/signers/factory.js")>();
  return {
    ...actual,
    createSignerWith: async (...args: Parameters<typeof actual.createSignerWith>): Promise<Signer> => {
      const signer = await actual.createSignerWith(...args);
      return Object.assign(Object.create(signer) as Signer, { sign: replaced.sign ?? signer.sign.bind(signer) });
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-key-match-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = createCa(join(dir, "ca"), { name: "Key Match CA" });
const leaf = issueLeaf(ca, dir, { name: "key-match-leaf" });

const keyRow = async (signWith: Signer["sign"] | undefined) => {
  replaced.sign = signWith;
  const rows = await signerChecks(dir, { certificate: leaf.certPath, privateKey: leaf.keyPath });
  return rows.find((r) => r.name === "key matches certificate");
};

describe("runChecks: the key's test signature", () => {
  it("verifies with the certificate's key: passes", async () => {
    expect(await keyRow(undefined)).toMatchObject({ outcome: "pass" });
  });
  it("made by another key: a failed row KEY_CERTIFICATE_MISMATCH with the hint, not a pass", async () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const row = await keyRow(async (message) => sign("sha256", message, other));
    expect(row).toMatchObject({
      outcome: "fail",
      detail: "a test signature does not verify with the certificate's public key",
      hint: "point --private-key at the key the certificate was issued for",
    });
    expect(row?.error?.code).toBe("KEY_CERTIFICATE_MISMATCH");
  });
  it("that fails: the signer's error is the row", async () => {
    const row = await keyRow(async () => {
      throw new DeviceError("PKCS11_ERROR", "the token was removed", { hint: "plug it back in" });
    });
    expect(row).toMatchObject({ outcome: "fail", detail: "the token was removed", hint: "plug it back in" });
    expect(row?.error?.code).toBe("PKCS11_ERROR");
  });
});
