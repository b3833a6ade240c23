/** Which TPM command and scheme a signature is asked with, per key (signHash over a recording stand-in for the key's runner). */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signHash, type RunOnKey } from "../../../src/signers/tpm/signing/choose-scheme.js";
import { TpmResponseError } from "../../../src/tpm/client/tpm-error.js";
import { TPMA_OBJECT, TPM_ALG, TPM_ECC } from "../../../src/tpm/wire/constants.js";
import type { TpmtPublic } from "../../../src/tpm/wire/structures.js";
import { emsaPkcs1v15 } from "../../../src/encoding/signature-encoding.js";
import { eccSigningPublic } from "../../helpers/tpm-public.js";

type Call = { command: string; params: Record<string, unknown> };
/** A runner answering each command from `answers` in turn (an Error is thrown), recording what it was asked. */
function recorder(answers: (Record<string, unknown> | Error)[]): { run: RunOnKey; calls: Call[] } {
  const calls: Call[] = [];
  const run = (async (command: { name: string }, params: Record<string, unknown>) => {
    calls.push({ command: command.name.replace(/^TPM2_/, ""), params });
    const next = answers.shift();
    if (!next || next instanceof Error) throw next ?? new Error("no answer left");
    return next;
  }) as unknown as RunOnKey;
  return { run, calls };
}

const SIGN = TPMA_OBJECT.sign | TPMA_OBJECT.userWithAuth;
const rsa = (attributes: number, scheme: { scheme: number; hashAlg?: number }, keyBits = 2048): TpmtPublic =>
  ({ type: TPM_ALG.RSA, nameAlg: TPM_ALG.SHA256, objectAttributes: attributes, authPolicy: Buffer.alloc(0),
    parameters: { symmetric: { algorithm: TPM_ALG.NULL }, scheme, keyBits, exponent: 0 }, unique: Buffer.alloc(keyBits / 8, 0xc5) }) as TpmtPublic;
const ecc = (curveID: number, scheme: { scheme: number; hashAlg?: number }): TpmtPublic => {
  const base = eccSigningPublic();
  return { ...base, parameters: { ...base.parameters, curveID, scheme } } as TpmtPublic;
};
const sha = (name: string) => createHash(name).update("message").digest();
const ecdsaAnswer = { signature: { sigAlg: TPM_ALG.ECDSA, hash: TPM_ALG.SHA256, signatureR: Buffer.from([1]), signatureS: Buffer.from([2]) } };
const rsassaAnswer = (sig: Buffer) => ({ signature: { sigAlg: TPM_ALG.RSASSA, hash: TPM_ALG.SHA256, sig } });

describe("RSA keys", () => {
  it("a key without a scheme signs with TPM2_Sign RSASSA and the digest asked for; a short signature is left-padded to the modulus", async () => {
    const { run, calls } = recorder([rsassaAnswer(Buffer.alloc(255, 7))]);
    const sig = await signHash(run, "k", rsa(SIGN, { scheme: TPM_ALG.NULL }), sha("sha384"), "SHA384");
    expect(calls.map((c) => c.command)).toEqual(["Sign"]);
    expect(calls[0]!.params).toMatchObject({ digest: sha("sha384"), inScheme: { scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA384 }, validation: { tag: 0x8024, hierarchy: 0x40000007 } });
    expect(sig).toEqual(Buffer.concat([Buffer.alloc(1), Buffer.alloc(255, 7)]));
  });

  it("a key fixed to RSASSA with another hash, without decrypt: refused before the TPM is asked, the scheme named", async () => {
    const { run, calls } = recorder([]);
    const key = rsa(SIGN, { scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA384 });
    await expect(signHash(run, "k", key, sha("sha256"), "SHA256")).rejects.toMatchObject({
      code: "PRIVATE_KEY_UNSUPPORTED", message: "k: this RSA key cannot make an RSASSA-SHA256 signature: its scheme is fixed to RSASSA with SHA384",
    });
    expect(calls).toEqual([]);
    const { run: run2, calls: calls2 } = recorder([rsassaAnswer(Buffer.alloc(256, 1))]);
    await signHash(run2, "k", key, sha("sha384"), "SHA384");
    expect(calls2.map((c) => c.command)).toEqual(["Sign"]);
  });

  it("a decryption key without sign signs by raw RSA decryption of the PKCS#1 v1.5 block", async () => {
    const { run, calls } = recorder([{ message: Buffer.alloc(254, 9) }]);
    const sig = await signHash(run, "k", rsa(TPMA_OBJECT.decrypt | TPMA_OBJECT.userWithAuth, { scheme: TPM_ALG.NULL }), sha("sha256"), "SHA256");
    expect(calls).toEqual([{ command: "RSA_Decrypt", params: { cipherText: emsaPkcs1v15(sha("sha256"), "SHA256", 256), inScheme: { scheme: TPM_ALG.NULL }, label: Buffer.alloc(0) } }]);
    expect(sig).toEqual(Buffer.concat([Buffer.alloc(2), Buffer.alloc(254, 9)]));
  });

  it("a decrypt key with a scheme, or a key with neither attribute, cannot sign: refused before the TPM is asked", async () => {
    for (const key of [rsa(TPMA_OBJECT.decrypt, { scheme: TPM_ALG.OAEP, hashAlg: TPM_ALG.SHA256 }), rsa(TPMA_OBJECT.userWithAuth, { scheme: TPM_ALG.NULL })]) {
      const { run, calls } = recorder([]);
      await expect(signHash(run, "k", key, sha("sha256"), "SHA256")).rejects.toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED" });
      expect(calls).toEqual([]);
    }
  });

  it("a sign+decrypt key falls back to decryption only when TPM2_Sign refused the hash as a parameter, never after an authorization failure", async () => {
    const both = rsa(SIGN | TPMA_OBJECT.decrypt, { scheme: TPM_ALG.NULL });
    for (const rc of [0x1c3 /* HASH, parameter 1 */, 0x2d2 /* SCHEME, parameter 2 */, 0x2c4 /* VALUE, parameter 2 */]) {
      const { run, calls } = recorder([new TpmResponseError("TPM2_Sign", rc), { message: Buffer.alloc(256, 3) }]);
      await signHash(run, "k", both, sha("sha512"), "SHA512");
      expect(calls.map((c) => c.command)).toEqual(["Sign", "RSA_Decrypt"]);
    }
    for (const rc of [0x98e /* AUTH_FAIL */, 0x9a2 /* BAD_AUTH */, 0x921 /* LOCKOUT */, 0x184 /* VALUE, handle 1 */, 0x18b /* HANDLE, handle 1 */, 0x99d /* POLICY_FAIL */]) {
      const refusal = new TpmResponseError("TPM2_Sign", rc);
      const { run, calls } = recorder([refusal, { message: Buffer.alloc(256, 3) }]);
      await expect(signHash(run, "k", both, sha("sha512"), "SHA512")).rejects.toBe(refusal);
      expect(calls.map((c) => c.command)).toEqual(["Sign"]);
    }
    const refusal = new TpmResponseError("TPM2_Sign", 0x1c3);
    const { run, calls } = recorder([refusal]);
    await expect(signHash(run, "k", rsa(SIGN, { scheme: TPM_ALG.NULL }), sha("sha512"), "SHA512")).rejects.toBe(refusal);
    expect(calls).toHaveLength(1);
  });

  it("a signature of another algorithm is refused as the TPM's fault", async () => {
    const { run } = recorder([{ signature: { sigAlg: TPM_ALG.RSAPSS, hash: TPM_ALG.SHA256, sig: Buffer.alloc(256) } }]);
    await expect(signHash(run, "k", rsa(SIGN, { scheme: TPM_ALG.NULL }), sha("sha256"), "SHA256")).rejects.toMatchObject({
      code: "TPM_ERROR", message: "k: the TPM returned a RSAPSS signature, not the RSASSA one asked for",
    });
  });
});

describe("ECC keys", () => {
  it("a P-256 key without a scheme is asked ECDSA with SHA-256; a SHA-512 hash is cut to its left-most 32 bytes", async () => {
    const { run, calls } = recorder([ecdsaAnswer, ecdsaAnswer]);
    const der = await signHash(run, "k", ecc(TPM_ECC.NIST_P256, { scheme: TPM_ALG.NULL }), sha("sha256"), "SHA256");
    expect(der.toString("hex")).toBe("3006020101020102");
    await signHash(run, "k", ecc(TPM_ECC.NIST_P256, { scheme: TPM_ALG.NULL }), sha("sha512"), "SHA512");
    expect(calls.map((c) => c.params)).toMatchObject([
      { digest: sha("sha256"), inScheme: { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 }, validation: { tag: 0x8024, hierarchy: 0x40000007 } },
      { digest: sha("sha512").subarray(0, 32), inScheme: { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 } },
    ]);
  });

  it("a P-256 key fixed to ECDSA-SHA384: the hash asked with SHA-384, a SHA-256 hash zero-padded on the right of the order-sized part", async () => {
    const { run, calls } = recorder([ecdsaAnswer, ecdsaAnswer]);
    const key = ecc(TPM_ECC.NIST_P256, { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA384 });
    await signHash(run, "k", key, sha("sha256"), "SHA256");
    await signHash(run, "k", key, sha("sha384"), "SHA384");
    expect(calls.map((c) => c.params)).toMatchObject([
      { digest: Buffer.concat([sha("sha256"), Buffer.alloc(16)]), inScheme: { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA384 } },
      // The TPM keeps the left-most 32 bytes of the 48 either way.
      { digest: Buffer.concat([sha("sha384").subarray(0, 32), Buffer.alloc(16)]), inScheme: { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA384 } },
    ]);
  });

  it("a P-384 key: SHA-256 is zero-padded on the left to 48 bytes; fixed to SHA-256, a longer hash is refused before the TPM is asked", async () => {
    const { run, calls } = recorder([ecdsaAnswer]);
    await signHash(run, "k", ecc(TPM_ECC.NIST_P384, { scheme: TPM_ALG.NULL }), sha("sha256"), "SHA256");
    expect(calls[0]!.params).toMatchObject({ digest: Buffer.concat([Buffer.alloc(16), sha("sha256")]), inScheme: { hashAlg: TPM_ALG.SHA384 } });
    const { run: run2, calls: calls2 } = recorder([]);
    await expect(signHash(run2, "k", ecc(TPM_ECC.NIST_P384, { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 }), sha("sha384"), "SHA384")).rejects.toMatchObject({
      code: "PRIVATE_KEY_UNSUPPORTED", message: "k: the key only signs ECDSA with SHA256; use that digest",
    });
    expect(calls2).toEqual([]);
  });

  it("a key fixed to another scheme or on an unknown curve, or a non-ECDSA answer, is refused", async () => {
    const { run, calls } = recorder([]);
    await expect(signHash(run, "k", ecc(TPM_ECC.NIST_P256, { scheme: TPM_ALG.ECDAA, hashAlg: TPM_ALG.SHA256 }), sha("sha256"), "SHA256")).rejects.toMatchObject({
      code: "PRIVATE_KEY_UNSUPPORTED", message: "k: the key is fixed to ECDAA with SHA256, not ECDSA",
    });
    await expect(signHash(run, "k", ecc(0x0020, { scheme: TPM_ALG.NULL }), sha("sha256"), "SHA256")).rejects.toMatchObject({
      code: "PRIVATE_KEY_UNSUPPORTED", message: "k: unsupported ECC curve 0x20",
    });
    expect(calls).toEqual([]);
    const { run: run2 } = recorder([{ signature: { sigAlg: TPM_ALG.RSASSA, hash: TPM_ALG.SHA256, sig: Buffer.alloc(64) } }]);
    await expect(signHash(run2, "k", ecc(TPM_ECC.NIST_P256, { scheme: TPM_ALG.NULL }), sha("sha256"), "SHA256")).rejects.toMatchObject({
      code: "TPM_ERROR", message: "k: the TPM returned a RSASSA signature, not the ECDSA one asked for",
    });
  });
});
