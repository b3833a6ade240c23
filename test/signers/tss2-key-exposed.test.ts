/**
 * A TSS2 key file made without a password (emptyAuth TRUE) is usable by anyone who can read it and open the TPM:
 * others' read bits on it are warned about as on a plain key file. Before round 30 no TSS2 key file was. A key with
 * a password, or one whose flag --tpm-ignore-empty-auth overrides (it has a password after all), is not warned about.
 * The TPM signer is a stand-in: the warning is the factory's, given before the TPM is opened.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { PolicyStatement } from "../../src/tpm/keys/policy.js";
import { encodeTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPMA_OBJECT, TPM_ALG, TPM_ECC, TPM_RH } from "../../src/tpm/wire/constants.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { exposedWarnings } from "../helpers/exposed-warnings.js";

vi.mock("../../src/signers/tpm/tpm-signer.js", async (actual) => ({
  ...(await actual<object>()),
  openTpmSigner: async () => ({ backend: "tpm", sign: async () => Buffer.alloc(0) }),
}));
const { createSigner } = await import("../../src/signers/factory.js");
const { parseTss2Key } = await import("../../src/signers/tpm/tpm-signer.js");

const { dir, cleanup } = makeTempDir("raa-tss2-exposed-");
afterAll(cleanup);
const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "TSS2 Exposed CA" }), dir, { name: "tss2-exposed" });

const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
const area = decodePublicArea(
  encode(TPMT_PUBLIC, {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.sign,
    authPolicy: Buffer.alloc(0),
    parameters: { symmetric: { algorithm: TPM_ALG.NULL }, scheme: { scheme: TPM_ALG.NULL }, curveID: TPM_ECC.NIST_P256, kdf: { scheme: TPM_ALG.NULL } },
    unique: { x: Buffer.from(jwk.x!, "base64url"), y: Buffer.from(jwk.y!, "base64url") },
  }),
  "test key",
);

const warnings = exposedWarnings();

let n = 0;
async function warningsFor(emptyAuth: boolean, mode: number, tpm: { ignoreEmptyAuth?: boolean } = {}, policy: PolicyStatement[] = []): Promise<string[]> {
  const key = join(dir, `key-${++n}.tss2`);
  writeFileSync(key, encodeTss2KeyFile({ parent: TPM_RH.OWNER, public: area, privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth, policy }));
  chmodSync(key, mode);
  await createSigner({ certificate: leaf.certPath, privateKey: key, tpm });
  await new Promise((r) => setImmediate(r));
  return warnings.map((line) => line.replaceAll(key, "KEY"));
}

describe("TSS2 key files others can read", () => {
  it("without a password (emptyAuth) at 0644: one warning, as for a plain key file", async () => {
    expect(await warningsFor(true, 0o644)).toEqual(["password-less TPM key file KEY can be read or changed by other users (mode 644): run chmod 600 KEY"]);
  });

  it("without a password at 0600: none", async () => {
    expect(await warningsFor(true, 0o600)).toEqual([]);
  });

  it("with a password (emptyAuth FALSE), or --tpm-ignore-empty-auth, at 0644: none (the password guards the key)", async () => {
    expect(await warningsFor(false, 0o644)).toEqual([]);
    expect(await warningsFor(true, 0o644, { ignoreEmptyAuth: true })).toEqual([]);
  });

  // Round 31: the signer asks no password of a key whose policy holds no PolicyAuthValue or PolicyPassword (a PCR or
  // locality policy alone), whatever emptyAuth says: anyone who reads the file signs with it on this machine.
  it("a key whose policy uses no password (PolicyCommandCode, PolicyLocality alone) at 0644: one warning; with PolicyAuthValue: none", async () => {
    const noPassword: PolicyStatement[] = [{ command: "PolicyCommandCode", code: 0x15d }, { command: "PolicyLocality", locality: 1 }];
    expect(await warningsFor(false, 0o644, { ignoreEmptyAuth: true }, noPassword)).toEqual([
      "password-less TPM key file KEY can be read or changed by other users (mode 644): run chmod 600 KEY",
    ]);
    warnings.length = 0;
    expect(await warningsFor(false, 0o644, {}, [...noPassword, { command: "PolicyAuthValue" }])).toEqual([]);
  });

  it("a file the TSS2 parser refuses, at 0644: its refusal, and no warning", async () => {
    const key = join(dir, "broken.tss2");
    writeFileSync(key, "-----BEGIN TSS2 PRIVATE KEY-----\nMAA=\n-----END TSS2 PRIVATE KEY-----\n");
    chmodSync(key, 0o644);
    await expect(createSigner({ certificate: leaf.certPath, privateKey: key })).rejects.toMatchObject({
      code: "TPM_KEY_INVALID", message: `TPM key file ${key}: not a valid TSS2 PRIVATE KEY structure`,
    });
    await new Promise((r) => setImmediate(r));
    expect(warnings).toEqual([]);
  });

  // Round 33: doctor hands the signer the key file it read and judged, and its parse (factory.ts createSignerWith).
  // A library caller's createSigner options are not that hand-over: the same fields there are not taken (before, a
  // keyFile saying 600 and a parse of a key with a password silenced the warning about a 0644 password-less key).
  it("a library caller's keyFile and tss2Key fields do not stand for the file: the warning is the file's", async () => {
    const key = join(dir, "caller.tss2");
    const contents = (emptyAuth: boolean) => encodeTss2KeyFile({ parent: TPM_RH.OWNER, public: area, privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth, policy: [] });
    writeFileSync(key, contents(true));
    chmodSync(key, 0o644);
    const keyFile = { bytes: Buffer.from(contents(true)), stamp: { size: 0, mtimeMs: 0, ino: 0 }, mode: 0o100600, owner: process.getuid!(), tss2Key: parseTss2Key(key, contents(false)) };
    const given: Record<string, unknown> = { certificate: leaf.certPath, privateKey: key, keyFile };
    await createSigner(given as Parameters<typeof createSigner>[0]);
    await new Promise((r) => setImmediate(r));
    expect(warnings.map((line) => line.replaceAll(key, "KEY"))).toEqual([
      "password-less TPM key file KEY can be read or changed by other users (mode 644): run chmod 600 KEY",
    ]);
  });
});
