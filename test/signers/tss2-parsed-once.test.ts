/**
 * The factory reads a TSS2 key file once (by descriptor, readOpenedFile) and parses it once: the password-less
 * warning and the TPM signer judge the same contents, and a --wait-for-device retry parses nothing again. Before
 * round 32 it was parsed for the warning, then again by the signer at each try of the TPM.
 */
import { writeFileSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { encodeTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPMA_OBJECT, TPM_ALG, TPM_ECC, TPM_RH } from "../../src/tpm/wire/constants.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

const calls = vi.hoisted(() => ({ parse: 0, read: [] as string[] }));
vi.mock("../../src/tpm/keys/tss2-key-file.js", async (actual) => {
  const real = await actual<typeof import("../../src/tpm/keys/tss2-key-file.js")>();
  return { ...real, parseTss2KeyFile: (...args: Parameters<typeof real.parseTss2KeyFile>) => (calls.parse++, real.parseTss2KeyFile(...args)) };
});
vi.mock("../../src/io/read-opened-file.js", async (actual) => {
  const real = await actual<typeof import("../../src/io/read-opened-file.js")>();
  return { ...real, readOpenedFile: (path: string) => (calls.read.push(path), real.readOpenedFile(path)) };
});
const { createSigner } = await import("../../src/signers/factory.js");

const { dir, cleanup } = makeTempDir("raa-tss2-once-");
afterAll(cleanup);
const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "TSS2 Once CA" }), dir, { name: "tss2-once" });

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

describe("a TSS2 key file in the factory", () => {
  it("is read once and parsed once, however often the TPM is tried", async () => {
    const key = join(dir, "key.tss2");
    writeFileSync(key, encodeTss2KeyFile({ parent: TPM_RH.OWNER, public: area, privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth: true, policy: [] }), { mode: 0o600 });
    const waits: string[] = [];
    // Nothing listens on port 1: the TPM is "not there", and --wait-for-device tries it again for 1.5 s.
    const opening = createSigner({ certificate: leaf.certPath, privateKey: key, tpm: { device: "tcp:127.0.0.1:1" }, waitForDeviceMs: 1500, onDeviceWait: (line) => waits.push(line) });
    await expect(opening).rejects.toMatchObject({ code: "TPM_UNAVAILABLE" });
    expect(waits).toHaveLength(1); // the wait began: the TPM was tried again
    expect(calls.read.filter((path) => path === key)).toHaveLength(1);
    expect(calls.parse).toBe(1);
  });
});
