/**
 * Issue 20, defect 5: a PKCS#12 file with 9,999,999 MAC iterations was refused as "outside 1…10000000"
 * (@peculiar gives an INTEGER of four bytes or more as a string, which failed Number.isSafeInteger). The
 * bound is now 1 to 10,000,000 inclusive, said as such, and tested on both sides. Accepted counts are
 * recognised by the next step's error (the password, read from an unset variable) so that no test runs
 * 10 million hash iterations.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { iterationCountProblem, MAX_KDF_ITERATIONS } from "../../../src/signers/file/pbe.js";
import { readPkcs12 } from "../../../src/signers/file/pkcs12.js";
import { makeTempDir, openssl } from "../../helpers/pki.js";
import { decodeDer, encodeDer, integerBytes } from "../../fuzz/der-tree.js";

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

describe("PKCS#12 MAC iteration count: 1 to 10,000,000 inclusive", () => {
  it.each([1n, 2048n, 8_388_607n, 8_388_608n, 9_999_999n, 10_000_000n])("%s iterations: accepted (the password is asked for next)", async (count) => {
    await expect(read(p12WithMacIterations(count))).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
  });

  it.each([
    [10_000_001n, "MAC iteration count 10000001 is more than the 10000000 this agent accepts"],
    [2n ** 31n, "MAC iteration count 2147483648 is more than the 10000000 this agent accepts"],
    [0n, "MAC iteration count 0 is less than 1"],
    [-5n, "MAC iteration count -5 is less than 1"],
  ])("%s iterations: PKCS12_INVALID saying what the bound is", async (count, message) => {
    await expect(read(p12WithMacIterations(count))).rejects.toMatchObject({ code: "PKCS12_INVALID", message: expect.stringContaining(message) });
  });

  it("the same bound for PBES2/PKCS#12 key encryption", () => {
    expect(MAX_KDF_ITERATIONS).toBe(10_000_000);
    expect(iterationCountProblem(10_000_000)).toBeUndefined();
    expect(iterationCountProblem(1)).toBeUndefined();
    expect(iterationCountProblem(10_000_001)).toBe("iteration count 10000001 is more than the 10000000 this agent accepts");
    expect(iterationCountProblem(0)).toBe("iteration count 0 is less than 1");
  });
});
