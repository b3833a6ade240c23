import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createPrivateKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAG, children, readSingle } from "../../../src/encoding/der.js";
import { derOid, derSequence, derTlv } from "../../../src/encoding/der-writer.js";
import { readPkcs12 } from "../../../src/signers/file/pkcs12.js";
import { encryptPkcs8 } from "../../helpers/pbes2-encrypt.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../../helpers/pki.js";
import { run } from "./fixtures.js";
import { copiesHolding } from "../../helpers/copies-made.js";

/** The bags of a PKCS#12 file written without encryption, each as its DER. */
function bagsOf(plain: Buffer): Buffer[] {
  const [, authSafe] = children(readSingle(plain, TAG.SEQUENCE));
  const authSafeDer = readSingle(children(children(authSafe!)[1]!)[0]!.content);
  return children(authSafeDer).flatMap((info) => children(readSingle(children(children(info)[1]!)[0]!.content))).map((b) => b.raw);
}

/** A PKCS#12 file (no MAC) of one encryptedData holding `safeContents`. */
function inEncryptedData(safeContents: Buffer, password: string): Buffer {
  const [algorithm, ciphertext] = children(readSingle(encryptPkcs8(safeContents, password, { cipher: "aes-256-cbc", kdf: "pbkdf2", prf: "sha256", iterations: 1000 })));
  const encryptedData = derSequence(
    derTlv(TAG.INTEGER, Buffer.from([0])),
    derSequence(derOid("1.2.840.113549.1.7.1"), algorithm!.raw, derTlv(0x80, ciphertext!.content)),
  );
  const info = derSequence(derOid("1.2.840.113549.1.7.6"), derTlv(0xa0, encryptedData));
  const data = derSequence(derOid("1.2.840.113549.1.7.1"), derTlv(0xa0, derTlv(TAG.OCTET_STRING, derSequence(info))));
  return derSequence(derTlv(TAG.INTEGER, Buffer.from([3])), data);
}

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
});
