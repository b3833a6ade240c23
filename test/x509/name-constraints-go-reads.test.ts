import { createSign, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { Certificate } from "../../src/x509/certificate.js";

// Go's parseNameConstraintsExtension refuses a nameConstraints only when both lists are absent or empty
// (`len(permitted) == 0 && len(excluded) == 0`, go1.19 to go1.25): one empty list beside a non-empty one is read.
describe("nameConstraints with one empty list of subtrees", () => {
  const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
  const name = derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("ca")))));
  const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
  const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const certificate = (constraints: Buffer) => {
    const extension = derSequence(derOid("2.5.29.30"), derTlv(0x04, constraints));
    const tbs = derSequence(
      derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), ecdsaSha256, name, times, name,
      keys.publicKey.export({ type: "spki", format: "der" }), derTlv(0xa3, derSequence(extension)),
    );
    return derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(keys.privateKey)));
  };
  const subtrees = (tag: number) => derTlv(tag, derSequence(derTlv(0x82, Buffer.from("gw.example"))));
  const empty = (tag: number) => derTlv(tag, Buffer.alloc(0));

  it.each([
    ["an empty permitted list beside excluded ones", derSequence(empty(0xa0), subtrees(0xa1))],
    ["permitted ones beside an empty excluded list", derSequence(subtrees(0xa0), empty(0xa1))],
  ])("%s is read, as Go reads it", (_, value) => {
    expect(new Certificate(certificate(value), "ca.der").subject).toBe("CN=ca");
  });

  it.each([
    ["no list", derSequence()],
    ["one empty list", derSequence(empty(0xa0))],
    ["two empty lists", derSequence(empty(0xa0), empty(0xa1))],
  ])("%s is refused, as Go refuses it", (_, value) => {
    expect(() => new Certificate(certificate(value), "ca.der")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "ca.der has a malformed value in its extension 2.5.29.30, which AWS's certificate parser refuses",
    }));
  });
});
