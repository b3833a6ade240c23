/**
 * FIPS 204 known-answer tests from NIST ACVP (vectors/README.md), for ML-DSA-44/65/87: key generation from
 * the seed, deterministic signing and verification through the implementation the agent loads, then the
 * agent's own signing key (external pure interface, empty context) against Sign_internal(0x00‖0x00‖M).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadMlDsa } from "../../../../src/signers/file/mldsa/params.js";
import { ML_DSA_PARAMETER_SETS, type MlDsaKeyType } from "../../../../src/x509/certificate.js";
import { decodeMlDsaPrivateKeyInfo } from "../../../../src/signers/file/mldsa/private-key-info.js";
import { mlDsaSigningKey } from "../../../../src/signers/file/mldsa/signing-key.js";
import { encodeMlDsaSpki } from "../../../../src/signers/file/mldsa/spki.js";
import { verifyMlDsa } from "../../../../src/signers/file/mldsa/verify.js";
import { generateMlDsaKeyPair, mlDsaImplementation, mlDsaPkcs8Der } from "../../../helpers/mldsa-pki.js";

interface Group<T> {
  tgId: number;
  parameterSet: MlDsaKeyType;
  pk?: string;
  tests: T[];
}
const vectors = <T>(name: string): Group<T>[] =>
  JSON.parse(readFileSync(join(import.meta.dirname, "vectors", "acvp", name), "utf8")).testGroups;

const keyGen = vectors<{ tcId: number; seed: string; pk: string; sk: string }>("keygen.json");
const sigGen = vectors<{ tcId: number; sk: string; message: string; signature: string }>("siggen.json");
const sigVer = vectors<{ tcId: number; testPassed: boolean; reason: string; message: string; signature: string }>("sigver.json");

const hex = (text: string) => Buffer.from(text, "hex");
const cases = <T extends { tcId: number }>(groups: Group<T>[]) =>
  groups.flatMap((g) => g.tests.map((t) => ({ pk: g.pk, ...t, parameterSet: g.parameterSet, label: `${g.parameterSet} tcId ${t.tcId}` })));

/** FIPS 204 Algorithm 2 message formatting for the pure interface: domain separator 0, then |ctx| and ctx. */
const pureMessage = (message: Uint8Array, context = Buffer.alloc(0)) =>
  Buffer.concat([Buffer.from([0, context.length]), context, message]);

/** A signing key built the way a PKCS#8 file would give it, from an expanded key. */
async function signingKeyFromExpanded(parameterSet: MlDsaKeyType, sk: Buffer) {
  const pair = { keyType: parameterSet, seed: Buffer.alloc(32), publicKey: Buffer.alloc(0), secretKey: sk };
  const info = decodeMlDsaPrivateKeyInfo(mlDsaPkcs8Der(pair, "expanded"), "acvp")!;
  return mlDsaSigningKey(info, "acvp");
}

it("parameter sets: FIPS 204 table 2 sizes and the RFC 9881 OIDs", () => {
  const table = Object.values(ML_DSA_PARAMETER_SETS).map((p) => [p.name, p.oid, p.publicKeyLength, p.secretKeyLength, p.signatureLength]);
  expect(table).toEqual([
    ["ML-DSA-44", "2.16.840.1.101.3.4.3.17", 1312, 2560, 2420],
    ["ML-DSA-65", "2.16.840.1.101.3.4.3.18", 1952, 4032, 3309],
    ["ML-DSA-87", "2.16.840.1.101.3.4.3.19", 2592, 4896, 4627],
  ]);
});

describe("ACVP ML-DSA keyGen (KeyGen_internal from the seed)", () => {
  it("covers the three parameter sets", () => {
    expect(new Set(keyGen.map((g) => g.parameterSet))).toEqual(new Set(["ML-DSA-44", "ML-DSA-65", "ML-DSA-87"]));
  });

  it.each(cases(keyGen))("$label", async ({ parameterSet, seed, pk, sk }) => {
    const { publicKey, secretKey } = (await loadMlDsa(parameterSet)).keygen(hex(seed));
    expect(Buffer.from(publicKey).toString("hex").toUpperCase()).toBe(pk);
    expect(Buffer.from(secretKey).toString("hex").toUpperCase()).toBe(sk);
  });

  it.each(cases(keyGen))("$label: a seed-only PKCS#8 key yields that public key", async ({ parameterSet, seed, pk }) => {
    const pair = generateMlDsaKeyPair(parameterSet, hex(seed));
    const key = await mlDsaSigningKey(decodeMlDsaPrivateKeyInfo(mlDsaPkcs8Der(pair, "seed"), "acvp")!, "acvp");
    expect(key.spki.equals(encodeMlDsaSpki(ML_DSA_PARAMETER_SETS[parameterSet], hex(pk)))).toBe(true);
  });
});

describe("ACVP ML-DSA sigGen (deterministic Sign_internal)", () => {
  it.each(cases(sigGen))("$label", async ({ parameterSet, sk, message, signature }) => {
    const mlDsa = mlDsaImplementation(parameterSet);
    const sig = mlDsa.internal.sign(hex(message), hex(sk), { extraEntropy: false });
    expect(Buffer.from(sig).toString("hex").toUpperCase()).toBe(signature);
  });

  it.each(cases(sigGen))("$label: the agent's key signs M as Sign_internal(0x00‖0x00‖M), verifiable", async ({ parameterSet, sk, message }) => {
    const key = await signingKeyFromExpanded(parameterSet, hex(sk));
    const msg = hex(message);
    const ours = key.sign(msg, "SHA256");
    const mlDsa = mlDsaImplementation(parameterSet);
    expect(ours.equals(Buffer.from(mlDsa.internal.sign(pureMessage(msg), hex(sk), { extraEntropy: false })))).toBe(true);
    // Deterministic, and the digest argument plays no part.
    expect(key.sign(msg, "SHA512").equals(ours)).toBe(true);
    expect(await verifyMlDsa(key.spki, msg, ours)).toBe(true);
    expect(mlDsa.internal.verify(ours, pureMessage(msg), mlDsa.getPublicKey(hex(sk)))).toBe(true);
    // Not the internal signature of M itself, nor a signature under a non-empty context.
    expect(mlDsa.internal.verify(ours, msg, mlDsa.getPublicKey(hex(sk)))).toBe(false);
    expect(mlDsa.internal.verify(ours, pureMessage(msg, Buffer.from("ctx")), mlDsa.getPublicKey(hex(sk)))).toBe(false);
  });
});

describe("ACVP ML-DSA sigVer (Verify_internal)", () => {
  it.each(cases(sigVer))("$label ($reason): testPassed=$testPassed", ({ parameterSet, pk, message, signature, testPassed }) => {
    const mlDsa = mlDsaImplementation(parameterSet);
    expect(mlDsa.internal.verify(hex(signature), hex(message), hex(pk!))).toBe(testPassed);
  });

  it.each(cases(sigVer).filter((c) => c.testPassed))(
    "$label: the agent's verifier checks the external form (empty context) of the same key",
    async ({ parameterSet, pk, message, signature }) => {
      const spki = encodeMlDsaSpki(ML_DSA_PARAMETER_SETS[parameterSet], hex(pk!));
      // The ACVP signature is over M′ itself: for the external verifier it is not a signature of M′.
      expect(await verifyMlDsa(spki, hex(message), hex(signature))).toBe(false);
    },
  );
});
