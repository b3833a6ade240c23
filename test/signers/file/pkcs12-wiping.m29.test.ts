import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createPrivateKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derOid, derSequence, derTlv } from "../../../src/encoding/der-writer.js";
import { readPkcs12 } from "../../../src/signers/file/pkcs12.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../../helpers/pki.js";
import { bagsOf, inEncryptedData, run } from "./fixtures.js";
import { copiesHolding } from "../../helpers/copies-made.js";

describe("a PKCS#12 key bag decrypted from encryptedData: no copy left, nor the parser's input", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let leaf: IssuedCertificate;
  let bags: Buffer[];
  let scalar: Buffer;
  const options = { keyPassword: { kind: "value" as const, value: "s3cret" } };
  beforeAll(() => {
    tmp = makeTempDir("raa-p12-wiping-m29-");
    leaf = issueLeaf(createCa(join(tmp.dir, "ca"), { name: "Bag Root" }), tmp.dir, { name: "bag-ec", keyType: "p256" });
    const plain = join(tmp.dir, "plain.p12");
    run(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-keypbe", "NONE", "-certpbe", "NONE", "-nomac", "-passout", "pass:", "-out", plain]);
    bags = bagsOf(readFileSync(plain));
    scalar = Buffer.from(createPrivateKey(readFileSync(leaf.keyPath)).export({ format: "jwk" }).d!, "base64url");
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it.each([
    ["the bags in the encryptedData's SafeContents", () => derSequence(...bags)],
    ["the bags inside a safeContentsBag of it (RFC 7292 §4.2.6)", () => derSequence(derSequence(derOid("1.2.840.113549.1.12.10.1.6"), derTlv(0xa0, derSequence(...bags))))],
  ])("%s: the key signs; no Buffer, copy or parser input holds the private scalar", async (_what, safeContents) => {
    const file = inEncryptedData(safeContents(), "s3cret");
    const id = await readPkcs12(file, "bags.p12", options);
    expect(id.key.sign(Buffer.from("m"), "SHA256").length).toBeGreaterThan(0);
    expect(id.certificate.serialDecimal).toBe(leaf.serialDecimal);
    expect((await copiesHolding(scalar, () => readPkcs12(file, "bags.p12", options), { asn1Inputs: true })).left).toBe(0);
  });

  // Round 31: sealed by the password, so not a key in clear (a PKCS#12 file others can read is then not warned about);
  // OpenSSL's CLI writes neither layout, and a reader that took every key bag as clear passed every other test.
  it.each([
    ["in the encryptedData's SafeContents", () => derSequence(...bags)],
    ["in a safeContentsBag inside it", () => derSequence(derSequence(derOid("1.2.840.113549.1.12.10.1.6"), derTlv(0xa0, derSequence(...bags))))],
    ["in clear, the empty password (control)", undefined],
  ])("a key bag %s needs the password: keyInClear is false", async (what, safeContents) => {
    const file = safeContents ? inEncryptedData(safeContents(), "s3cret") : readFileSync(join(tmp.dir, "plain.p12"));
    const id = await readPkcs12(file, "bags.p12", safeContents ? options : {});
    expect(id.keyInClear, what).toBe(safeContents === undefined);
  });
});
