import { afterAll, describe, expect, it } from "vitest";
import { createSign, generateKeyPairSync, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { goSubjectAndIssuer } from "../../../src/x509/names/go-name.js";
import { derBitString, derOid, derSequence, derTlv } from "../../../src/encoding/der-writer.js";
import { Certificate } from "../../../src/x509/certificate.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-pkcs11-goname-");
afterAll(cleanup);

async function names(subject: string) {
  const ca = createCa(join(dir, `ca-${Math.random().toString(36).slice(2)}`), { name: "Name Test CA" });
  const leaf = issueLeaf(ca, join(dir, "leaves"), { name: `leaf-${Math.random().toString(36).slice(2)}`, subject });
  return goSubjectAndIssuer(new X509Certificate(readFileSync(leaf.certPath)).raw);
}

// Expected strings are what Go's pkix.Name.String() prints for these names (the aws_signing_helper listing).
describe("goSubjectAndIssuer", () => {
  it.each([
    ["/CN=ec-key", "CN=ec-key"],
    ["/C=US/ST=WA/L=Seattle/O=Example Corp/OU=Eng/CN=host one", "CN=host one,OU=Eng,O=Example Corp,L=Seattle,ST=WA,C=US"],
    // Go groups repeated attributes into one multi-valued RDN, in their order of appearance
    ["/O=Org/OU=a/OU=b/CN=x", "CN=x,OU=a+OU=b,O=Org"],
    // Go keeps only the last CN
    ["/CN=first/CN=second", "CN=second"],
    // field order is Go's, not the certificate's
    ["/CN=x/O=Org/C=DE", "CN=x,O=Org,C=DE"],
    ["/CN=a\\, b\\+c=\"d\"<e>;f", 'CN=a\\, b\\+c=\\"d\\"\\<e\\>\\;f'],
    ["/CN= padded ", "CN=\\ padded\\ "],
    ["/CN=#hash", "CN=\\#hash"],
    // Not Go: a hostile name's line break forged a "URI:" line of the listing, its ESC reached the terminal.
    ["/CN=a\u001b[31mRED\nURI: pkcs11:x", "CN=a\\1b[31mRED\\0aURI: pkcs11:x"],
    ["/serialNumber=1234/CN=x", "SERIALNUMBER=1234,CN=x"],
    // attributes Go has no name for come last (first in the sequence), as #hex of their DER
    ["/CN=x/emailAddress=a@b.example", "CN=x,1.2.840.113549.1.9.1=#0c0b6140622e6578616d706c65"],
    ["/DC=example/DC=com/CN=x", "CN=x,0.9.2342.19200300.100.1.25=#1303636f6d,0.9.2342.19200300.100.1.25=#13076578616d706c65"],
  ])("%s → %s", async (subject, expected) => {
    const result = await names(subject);
    expect(result.subject).toBe(expected);
    expect(result.issuer).toBe("CN=Name Test CA");
  });
});

describe("goSubjectAndIssuer of a certificate OpenSSL reads but @peculiar/asn1-x509 does not", () => {
  // Its key's AlgorithmIdentifier parameters are a GeneralizedTime holding "x" (a hostile token object's CKA_VALUE):
  // OpenSSL 3.0 reads them as ANY, asn1js tries to read the time and throws its own Error. The key's algorithm is a
  // vendor's, which Go's parser leaves unread (as ecPublicKey, Go refuses such parameters, and so does the agent's reader).
  // OpenSSL 3.5 (Node 22, 24) refuses a time this short up front: the agent refuses any time as parameters, on every Node.
  it("CERTIFICATE_INVALID naming the certificate, not @peculiar's Error (an internal error)", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
    const name = derTlv(0x30, derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))));
    const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
    const point = publicKey.export({ format: "jwk" });
    const ecPoint = Buffer.concat([Buffer.from([4]), Buffer.from(point.x!, "base64url"), Buffer.from(point.y!, "base64url")]);
    const spki = derSequence(derSequence(derOid("1.3.6.1.4.1.99999.2"), derTlv(0x18, Buffer.from("x"))), derBitString(ecPoint));
    const tbs = derSequence(derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([7])), ecdsaSha256, name, times, name, spki);
    const der = derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
    const path = join(dir, "odd-parameters.der");
    writeFileSync(path, der);
    // The oracle: OpenSSL reads the certificate and its names.
    expect(openssl(["x509", "-inform", "DER", "-in", path, "-noout", "-subject", "-issuer"])).toBe("subject=CN = gw\nissuer=CN = gw\n");
    // Before (round 33): Node 20 read it as "CN=gw", Node 22 and 24 told "not a valid X.509 DER structure".
    expect(() => new Certificate(der, "odd.der")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "odd.der has a time as the parameters of its public key algorithm, which no algorithm has",
    }));
    await expect(goSubjectAndIssuer(der, "the certificate object pkcs11:object=odd")).rejects.toMatchObject({
      code: "CERTIFICATE_INVALID",
      message: "could not read the names of the certificate object pkcs11:object=odd: it does not follow X.509's structure (RFC 5280)",
    });
  });
});

// Round 30: the agent now reads a name's value of any type, as current Go's parser.go does (readASN1Any): its strings
// are T61, Printable, UTF8, BMP, IA5 and Numeric; a BIT STRING is an asn1.BitString, a SEQUENCE or UniversalString an
// asn1.RawValue. pkix.Name.FillFromRDNSequence skips a value that is not a string (`value, ok := atv.Value.(string);
// if !ok { continue }`), so a CN so typed is no CN; RDNSequence.String prints another attribute as #hex of asn1.Marshal
// of its value, which for a RawValue is its FullBytes: the DER as it stands.
describe("goSubjectAndIssuer of a name's value that is not one of Go's strings", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
  const atv = (oid: string, value: Buffer) => derTlv(0x31, derSequence(derOid(oid), value));
  const issuer = derSequence(atv("2.5.4.3", derTlv(0x0c, Buffer.from("gw"))));
  const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
  const subjectOf = async (...atvs: Buffer[]) => {
    const tbs = derSequence(derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([7])), ecdsaSha256, issuer, times,
      derSequence(...atvs), publicKey.export({ type: "spki", format: "der" }));
    const der = derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
    new Certificate(der); // the agent reads it, as current Go does
    return (await goSubjectAndIssuer(der)).subject;
  };
  const universal = derTlv(0x1c, Buffer.from([0, 0, 0, 0x41]));
  const o = atv("2.5.4.10", derTlv(0x0c, Buffer.from("org")));

  it("a UniversalString is no string to Go: a CN so typed is left out, another attribute prints its DER", async () => {
    expect(await subjectOf(atv("2.5.4.3", universal), o)).toBe("O=org");
    expect(await subjectOf(atv("1.2.3.4", universal))).toBe("1.2.3.4=#1c0400000041");
  });

  it("a BIT STRING or a SEQUENCE: left out of a CN or an O, #hex of its DER for another attribute", async () => {
    const bits = derTlv(0x03, Buffer.from([0x04, 0xa0]));
    const sequence = derSequence(derTlv(0x0c, Buffer.from("x")));
    expect(await subjectOf(atv("2.5.4.3", sequence), atv("2.5.4.10", bits), o)).toBe("O=org");
    expect(await subjectOf(atv("2.5.4.45", bits), atv("1.2.3.4", sequence))).toBe("1.2.3.4=#30030c0178,2.5.4.45=#030204a0");
  });
});

// go1.19.8's c.Subject.String() on each of these certificates (as current Go's parseASN1String reads them): a
// NumericString is a string, a BMPString loses one terminating 00 00.
describe("goSubjectAndIssuer of a NumericString and of a BMPString ending in 00 00", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
  const atv = (oid: string, value: Buffer) => derTlv(0x31, derSequence(derOid(oid), value));
  const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
  const subjectOf = async (...atvs: Buffer[]) => {
    const tbs = derSequence(derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([7])), ecdsaSha256,
      derSequence(atv("2.5.4.3", derTlv(0x0c, Buffer.from("gw")))), times, derSequence(...atvs), publicKey.export({ type: "spki", format: "der" }));
    return (await goSubjectAndIssuer(derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(privateKey))))).subject;
  };

  it("a NumericString CN prints as CN=123, another attribute's as a PrintableString's DER (Go's asn1.Marshal of a string)", async () => {
    expect(await subjectOf(atv("2.5.4.3", derTlv(0x12, Buffer.from("123"))))).toBe("CN=123");
    expect(await subjectOf(atv("1.2.3.4", derTlv(0x12, Buffer.from("123"))))).toBe("1.2.3.4=#1303313233");
  });

  it("a BMPString's terminating 00 00 is dropped, as Go drops it", async () => {
    expect(await subjectOf(atv("2.5.4.3", derTlv(0x1e, Buffer.from([0, 0x41, 0, 0]))))).toBe("CN=A");
    expect(await subjectOf(atv("1.2.3.4", derTlv(0x1e, Buffer.from([0, 0x41, 0, 0]))))).toBe("1.2.3.4=#130141");
  });
});
