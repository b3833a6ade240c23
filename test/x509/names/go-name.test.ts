import { afterAll, describe, expect, it } from "vitest";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { goSubjectAndIssuer } from "../../../src/x509/names/go-name.js";
import { createCa, issueLeaf, makeTempDir } from "../../helpers/pki.js";

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
