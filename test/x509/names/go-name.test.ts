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
  // OpenSSL reads them as ANY, asn1js tries to read the time and throws its own Error. The key's algorithm is a vendor's,
  // which Go's parser leaves unread (as ecPublicKey, Go refuses such parameters, and so does the agent's reader).
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
    expect(new Certificate(der).subject).toBe("CN=gw");
    await expect(goSubjectAndIssuer(der, "the certificate object pkcs11:object=odd")).rejects.toMatchObject({
      code: "CERTIFICATE_INVALID",
      message: "could not read the names of the certificate object pkcs11:object=odd: it does not follow X.509's structure (RFC 5280)",
    });
  });
});
