import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createSign, generateKeyPairSync } from "node:crypto";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { Certificate } from "../../src/x509/certificate.js";
import { makeTempDir, openssl } from "../helpers/pki.js";

// nameConstraints (2.5.29.30) edges of Go's parseNameConstraintsExtension beside those of read-certificates.test.ts,
// each checked by hand with go1.19.8 x509.ParseCertificate (refused: 'empty name constraints extension', 'IP
// constraint contained value of length 4', 'invalid mask', 'failed to parse dnsName constraint'; each fixed twin read).
describe("name constraints: the edges Go refuses or reads", () => {
  const tmp = makeTempDir("raa-nc-m29-");
  afterAll(() => tmp.cleanup());
  const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
  const name = derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))));
  const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const certificate = (value: Buffer) => {
    const tbs = derSequence(
      derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), ecdsaSha256, name, times, name,
      ec.publicKey.export({ type: "spki", format: "der" }), derTlv(0xa3, derSequence(derSequence(derOid("2.5.29.30"), derTlv(0x04, value)))),
    );
    return derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(ec.privateKey)));
  };
  const constraints = (...names: Buffer[]) => derSequence(derTlv(0xa0, Buffer.concat(names.map((n) => derSequence(n)))));
  const ip = (...bytes: number[]) => derTlv(0x87, Buffer.from(bytes));
  const text = (tag: number, value: string) => derTlv(tag, Buffer.from(value, "latin1"));
  const dump = process.env.M29_DUMP;
  if (dump) mkdirSync(dump, { recursive: true });

  it.each([
    ["no subtrees at all (30 00)", derSequence(), constraints(text(0x82, "gw.example"))],
    ["an IPv4 range of 4 bytes whose second half looks like a mask", constraints(ip(192, 0, 255, 0)), constraints(ip(192, 0, 2, 0, 255, 255, 0, 0))],
    ["an IP mask whose first byte is not ones then zeros", constraints(ip(192, 0, 2, 0, 0, 255, 0, 0)), constraints(ip(192, 0, 2, 0, 0x80, 0, 0, 0))],
    ["a DNS constraint with DEL (7f)", constraints(text(0x82, "gw.exampl\x7f")), constraints(text(0x82, "gw.exampl~"))],
    ["a DNS constraint with '@' and an empty label", constraints(text(0x82, "a@gw..example")), constraints(text(0x82, "a@gw.example"))],
    ["a DNS constraint starting with a space, then one starting with a one-letter label", constraints(text(0x82, " gw.example")), constraints(text(0x82, "x.gw.example"))],
  ])("%s: refused; its twin read", (what, value, fixed) => {
    const file = join(tmp.dir, `${what.replace(/[^a-z0-9]+/gi, "-")}.der`);
    writeFileSync(file, certificate(value));
    if (dump) {
      writeFileSync(join(dump, `bad-${what.replace(/[^a-z0-9]+/gi, "-")}.der`), certificate(value));
      writeFileSync(join(dump, `good-${what.replace(/[^a-z0-9]+/gi, "-")}.der`), certificate(fixed));
    }
    expect(openssl(["x509", "-inform", "DER", "-in", file, "-noout", "-text"])).toContain("X509v3 Name Constraints");
    expect(() => new Certificate(certificate(value), "nc.der")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "nc.der has a malformed value in its extension 2.5.29.30, which AWS's certificate parser refuses",
    }));
    expect(new Certificate(certificate(fixed)).subject).toBe("CN=gw");
  });

  it.each([
    ["a mailbox with a quoted local part holding two dots", constraints(text(0x81, "\"a..b\"@gw.example"))],
    ["a mailbox with a quoted local part holding a space", constraints(text(0x81, "\"a b\"@gw.example"))],
    ["a mailbox with a quoted DEL (7f, IA5's last)", constraints(text(0x81, "\"a\\\x7f\"@gw.example"))],
  ])("%s: read, as Go reads it", (what, value) => {
    if (dump) writeFileSync(join(dump, `good-${what.replace(/[^a-z0-9]+/gi, "-")}.der`), certificate(value));
    expect(new Certificate(certificate(value)).subject).toBe("CN=gw");
  });
});
