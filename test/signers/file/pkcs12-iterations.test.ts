/**
 * Issue 20, defect 5: a PKCS#12 file with 9,999,999 MAC iterations was refused as "outside 1…10000000", a
 * message that contradicts itself (@peculiar gives an INTEGER of four bytes or more as a string, which failed
 * Number.isSafeInteger whatever its value). The PKCS#12 KDF (MAC and legacy 3DES bags) has no native form and
 * runs in JavaScript at ~1.3 µs an iteration, three derivations per legacy bag, so its bound is 1 to 1,000,000
 * inclusive (PBKDF2, native, keeps 10,000,000); the message says which, and the bound is tested on both sides.
 * Accepted counts are recognised by the next step's error (the password, read from an unset variable).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { iterationCountProblem, MAX_KDF_ITERATIONS, MAX_PKCS12_KDF_ITERATIONS } from "../../../src/signers/file/pbe.js";
import { readPkcs12 } from "../../../src/signers/file/pkcs12.js";
import { makeTempDir, openssl } from "../../helpers/pki.js";
import { decodeDer, der, encodeDer, integerBytes, type DerNode } from "../../fuzz/der-tree.js";

const tmp = makeTempDir("raa-p12-iter-");
afterAll(() => tmp.cleanup());

function p12WithMacIterations(count: bigint): Buffer {
  const dir = tmp.dir;
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"), "-subj", "/CN=p12", "-out", join(dir, "c.pem")]);
  openssl(["pkcs12", "-export", "-inkey", join(dir, "k.pem"), "-in", join(dir, "c.pem"), "-out", join(dir, "id.p12"), "-passout", "pass:pw", "-iter", "16", "-maciter"]);
  const pfx = decodeDer(readFileSync(join(dir, "id.p12")))!;
  const macData = pfx.children![2]!; // PFX ::= SEQUENCE { version, authSafe, macData }
  macData.children![2]!.value = integerBytes(count);
  return encodeDer(pfx);
}

const read = (bytes: Buffer) => readPkcs12(bytes, "bound.p12", { keyPassword: { kind: "env", name: "RAA_TEST_UNSET_P12_PASSWORD" } });

describe("PKCS#12 MAC iteration count: 1 to 1,000,000 inclusive", () => {
  it.each([1n, 2048n, 999_999n, 1_000_000n])("%s iterations: accepted (the password is asked for next)", async (count) => {
    await expect(read(p12WithMacIterations(count))).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
  });

  it.each([
    [1_000_001n, "MAC iteration count 1000001 is more than the 1000000 this agent accepts"],
    [8_388_608n, "MAC iteration count 8388608 is more than the 1000000 this agent accepts"],
    [9_999_999n, "MAC iteration count 9999999 is more than the 1000000 this agent accepts"],
    [2n ** 31n, "MAC iteration count 2147483648 is more than the 1000000 this agent accepts"],
    [0n, "MAC iteration count 0 is less than 1"],
    [-5n, "MAC iteration count -5 is less than 1"],
  ])("%s iterations: PKCS12_INVALID saying what the bound is", async (count, message) => {
    await expect(read(p12WithMacIterations(count))).rejects.toMatchObject({ code: "PKCS12_INVALID", message: expect.stringContaining(message) });
  });

  it("the bounds: 1,000,000 for the PKCS#12 KDF, 10,000,000 for PBKDF2", () => {
    expect(MAX_PKCS12_KDF_ITERATIONS).toBe(1_000_000);
    expect(MAX_KDF_ITERATIONS).toBe(10_000_000);
    expect(iterationCountProblem(10_000_000)).toBeUndefined();
    expect(iterationCountProblem(1)).toBeUndefined();
    expect(iterationCountProblem(10_000_001)).toBe("iteration count 10000001 is more than the 10000000 this agent accepts");
    expect(iterationCountProblem(1_000_001, MAX_PKCS12_KDF_ITERATIONS)).toBe("iteration count 1000001 is more than the 1000000 this agent accepts");
    expect(iterationCountProblem(0)).toBe("iteration count 0 is less than 1");
  });
});

/** A new `-nomac` file (password "pw") as a DER tree, and the SafeContents holding its shrouded key bag. */
function nomacP12(name: string): { pfx: DerNode; keyBags: DerNode } {
  const dir = tmp.dir;
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, `${name}.key`), "-subj", "/CN=p12", "-out", join(dir, `${name}.crt`)]);
  openssl(["pkcs12", "-export", "-inkey", join(dir, `${name}.key`), "-in", join(dir, `${name}.crt`), "-out", join(dir, `${name}.p12`), "-passout", "pass:pw", "-iter", "1", "-nomac"]);
  const pfx = decodeDer(readFileSync(join(dir, `${name}.p12`)))!;
  // authSafe: OCTET STRING { AuthenticatedSafe }; -nomac writes two data ContentInfos, the second with the key bag.
  const safe = pfx.children![1]!.children![1]!.children![0]!.children![0]!;
  return { pfx, keyBags: safe.children![1]!.children![1]!.children![0]!.children![0]! };
}

describe("PKCS#12 files may hold at most 8 encrypted items (each may cost 10,000,000 PBKDF2 iterations)", () => {
  it("a file with 9 shrouded key bags is PKCS12_INVALID before the ninth decryption", async () => {
    const { pfx, keyBags } = nomacP12("nine");
    keyBags.children = Array.from({ length: 9 }, () => keyBags.children![0]!);
    await expect(readPkcs12(encodeDer(pfx), "nine.p12", { keyPassword: { kind: "value", value: "pw" } })).rejects.toMatchObject({
      code: "PKCS12_INVALID",
      message: expect.stringContaining("more than 8 encrypted items"),
    });
  });
});

describe("PKCS#12 SafeContents bags are followed 4 deep, no deeper", () => {
  /** A -nomac file whose key bag is wrapped in `depth` SafeContents bags (RFC 7292 safeContentsBag). */
  function keyNested(depth: number): Buffer {
    const { pfx, keyBags } = nomacP12("nested");
    for (let i = 0; i < depth; i++) {
      keyBags.children = [der.seq(der.oid("1.2.840.113549.1.12.10.1.6"), der.explicit(0, der.seq(...keyBags.children!)))];
    }
    return encodeDer(pfx);
  }
  const open = (depth: number) => readPkcs12(keyNested(depth), `nested-${depth}.p12`, { keyPassword: { kind: "value", value: "pw" } });

  it("a key 4 SafeContents bags deep is found", async () => {
    await expect(open(4)).resolves.toMatchObject({ key: { description: "EC P-256" } });
  });

  it("a key 5 deep is not looked for: the file holds no key, so a hostile file cannot make the walk recurse on", async () => {
    await expect(open(5)).rejects.toMatchObject({ code: "PKCS12_INVALID", message: expect.stringMatching(/no private key/) });
  });
});
