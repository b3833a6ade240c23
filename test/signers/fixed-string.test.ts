import { createHash, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedTestString } from "../../src/signers/fixed-string.js";
import { makeTempDir, openssl } from "../helpers/pki.js";

const PREFIX = "AWS Roles Anywhere Credential Helper Signing Test1";

function opensslDer(args: string[]): Buffer {
  return execFileSync("openssl", args);
}

describe("sign-string fixed test string", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeAll(() => {
    tmp = makeTempDir("raa-fixed-");
  });
  afterAll(() => tmp.cleanup());

  const expected = (pub: Buffer) => Buffer.concat([Buffer.from(PREFIX), createHash("sha256").update("IAM RA").update(pub).digest()]);

  it.each(["P-256", "P-384", "P-521"])("EC %s: suffix over the uncompressed point (as openssl prints it)", (curve) => {
    const key = join(tmp.dir, `${curve}.key`);
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:${curve}`, "-out", key]);
    // The SPKI DER ends with the BIT STRING holding 04 || X || Y.
    const spki = opensslDer(["pkey", "-in", key, "-pubout", "-outform", "DER"]);
    const pointLength = { "P-256": 65, "P-384": 97, "P-521": 133 }[curve]!;
    const point = spki.subarray(spki.length - pointLength);
    expect(point[0]).toBe(4);
    const privateKey = createPrivateKey({ key: readFileSync(key) });
    expect(fixedTestString(privateKey).equals(expected(point))).toBe(true);
  });

  it("RSA: suffix over the PKCS#1 RSAPublicKey DER", () => {
    const key = join(tmp.dir, "rsa.key");
    openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key]);
    const pkcs1 = opensslDer(["rsa", "-in", key, "-RSAPublicKey_out", "-outform", "DER"]);
    const privateKey = createPrivateKey({ key: readFileSync(key) });
    expect(fixedTestString(privateKey).equals(expected(pkcs1))).toBe(true);
  });

  it("no public key (or another key type): the bare prefix", () => {
    expect(fixedTestString(undefined).toString()).toBe(PREFIX);
    const key = join(tmp.dir, "ed.key");
    openssl(["genpkey", "-algorithm", "ed25519", "-out", key]);
    expect(fixedTestString(createPrivateKey({ key: readFileSync(key) })).toString()).toBe(PREFIX);
  });
});
