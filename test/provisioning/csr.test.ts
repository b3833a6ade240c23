import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildCsr } from "../../src/provisioning/csr/build-csr.js";
import { parseSan } from "../../src/provisioning/csr/subject-alt-names.js";
import { readCertificateNames } from "../../src/x509/names/certificate-names.js";
import { parseSubject } from "../../src/x509/names/parse-subject.js";
import { derivePrincipalTags } from "../../src/provisioning/principal-tags/index.js";
import { createSigner } from "../../src/signers/factory.js";
import type { Signer } from "../../src/signers/signer.js";
import { createCa, generateKey, makeTempDir, openssl, type TestKeyType } from "../helpers/pki.js";

const tmp = makeTempDir("raa-csr-");
afterAll(() => tmp.cleanup());
const ca = createCa(join(tmp.dir, "ca"), { name: "CSR Test CA" });

function opensslText(args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function fileSigner(keyType: TestKeyType): Promise<{ signer: Signer; keyPath: string }> {
  const keyPath = join(tmp.dir, `${keyType}-${Math.random().toString(36).slice(2)}.key`);
  generateKey(keyPath, keyType);
  return { signer: await createSigner({ privateKey: keyPath }), keyPath };
}

/** openssl req -verify must accept it; returns the request's text dump. */
function verifyCsr(pem: string, name: string): { path: string; text: string } {
  const path = join(tmp.dir, `${name}.csr`);
  writeFileSync(path, pem);
  const text = execFileSync("openssl", ["req", "-in", path, "-verify", "-noout", "-text", "-nameopt", "RFC2253,-esc_msb"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return { path, text };
}

describe("buildCsr with file keys, checked by openssl req -verify", () => {
  const matrix: [TestKeyType, string | undefined, RegExp][] = [
    ["rsa2048", undefined, /sha256WithRSAEncryption/],
    ["rsa3072", "SHA512", /sha512WithRSAEncryption/],
    ["p256", undefined, /ecdsa-with-SHA256/],
    ["p384", undefined, /ecdsa-with-SHA384/],
    ["p521", undefined, /ecdsa-with-SHA512/],
    ["p256", "SHA384", /ecdsa-with-SHA384/],
  ];
  it.each(matrix)("%s digest %s", async (keyType, digest, algorithm) => {
    const { signer, keyPath } = await fileSigner(keyType);
    try {
      const { pem, der } = await buildCsr(signer, {
        subject: parseSubject("/C=DE/O=Acme/OU=Ops+CN=dev-1"),
        subjectAltNames: ["DNS:dev-1.example.com", "URI:spiffe://example.com/dev-1", "email:ops@example.com", "IP:192.0.2.7", "IP:2001:db8::7"].map(parseSan),
        ...(digest ? { digest: digest as "SHA384" } : {}),
      });
      expect(der.subarray(0, 1)[0]).toBe(0x30);
      const { text } = verifyCsr(pem, `${keyType}-${digest}`);
      expect(text).toMatch(algorithm);
      expect(text).toMatch(/Subject: CN=dev-1\+OU=Ops,O=Acme,C=DE/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\s/);
      expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Client Authentication\s/);
      expect(text).toContain("DNS:dev-1.example.com, URI:spiffe://example.com/dev-1, email:ops@example.com, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:7");
      // The request carries the key's own public key.
      const fromKey = opensslText(["pkey", "-in", keyPath, "-pubout"]);
      const fromCsr = opensslText(["req", "-in", join(tmp.dir, `${keyType}-${digest}.csr`), "-noout", "-pubkey"]);
      expect(fromCsr).toBe(fromKey);
    } finally {
      await signer.close();
    }
  });

  it("encodes non-ASCII names as UTF8String, C as PrintableString and emailAddress/DC as IA5String", async () => {
    const { signer } = await fileSigner("p256");
    const { pem } = await buildCsr(signer, { subject: parseSubject("/DC=example/C=FR/O=Société Générale/CN=Jürgen/emailAddress=j@example.com") });
    const { path } = verifyCsr(pem, "utf8");
    const dump = opensslText(["asn1parse", "-in", path]);
    expect(dump).toMatch(/countryName\s*\n.*PRINTABLESTRING\s+:FR/);
    expect(dump).toMatch(/domainComponent\s*\n.*IA5STRING\s+:example/);
    expect(dump).toMatch(/emailAddress\s*\n.*IA5STRING\s+:j@example.com/);
    expect(dump).toMatch(/organizationName\s*\n.*UTF8STRING/);
    expect(dump).toMatch(/commonName\s*\n.*UTF8STRING/);
    await signer.close();
  });

  it("refuses an OID it would write wrongly (an arc from 2^49 to 17 digits), not a request openssl cannot read", async () => {
    const { signer } = await fileSigner("p256");
    await expect(buildCsr(signer, { subject: parseSubject("/CN=a/1.2.9007199254740991=x") })).rejects.toMatchObject({
      code: "USAGE",
      message: "invalid --subject: the OID 1.2.9007199254740991 cannot be encoded (an arc is too large)",
    });
    const { pem } = await buildCsr(signer, { subject: parseSubject("/CN=a/1.2.4294967296=x") });
    expect(verifyCsr(pem, "large-arc").text).toContain("1.2.4294967296=");
    await signer.close();
  });

  it.each([
    [undefined, "--subject"],
    ["options" as const, "request.subject"],
  ])("names the subject as the caller gives it (names: %s)", async (names, option) => {
    const { signer } = await fileSigner("p256");
    const subject = [[{ oid: "2.5.4.6", value: "de" }]];
    await expect(buildCsr(signer, { subject, names })).rejects.toMatchObject({
      code: "USAGE",
      message: `invalid ${option}: C must be a two-letter upper-case country code, not "de"`,
    });
    await expect(buildCsr(signer, { subject: [[{ oid: "2.5.4.5", value: "é" }]], names })).rejects.toMatchObject({
      message: `invalid ${option}: serialNumber may only hold PrintableString characters (A-Z a-z 0-9 '()+,-./:=? and space)`,
    });
    await signer.close();
  });

  it("gives the principal tags planned, once a CA has signed it", async () => {
    const { signer } = await fileSigner("rsa2048");
    const { pem } = await buildCsr(signer, {
      subject: parseSubject("CN=Jürgen Müller+OU=Ops,OU=Fleet,O=Acme GmbH,C=DE"),
      subjectAltNames: [parseSan("URI:spiffe://acme/dev"), parseSan("DNS:dev.acme.example")],
    });
    await signer.close();
    const { path } = verifyCsr(pem, "tags");
    const ext = join(tmp.dir, "tags.ext");
    writeFileSync(ext, "[e]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n");
    const der = execFileSync("openssl", [
      "x509", "-req", "-in", path, "-CA", ca.certPath, "-CAkey", ca.keyPath, "-set_serial", "0x2a", "-days", "1",
      "-copy_extensions", "copy", "-extfile", ext, "-extensions", "e", "-outform", "DER",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    const report = derivePrincipalTags(readCertificateNames(der));
    expect(Object.fromEntries(report.tags.map((t) => [t.key, t.value]))).toEqual({
      "x509Subject/C": "DE",
      "x509Subject/O": "Acme GmbH",
      "x509Subject/OU": "Fleet/Ops",
      "x509Subject/CN": "Jürgen Müller",
      "x509Issuer/CN": "CSR Test CA",
      "x509SAN/URI": "spiffe://acme/dev",
      "x509SAN/DNS": "dev.acme.example",
    });
    expect(report.sourceIdentity.value).toBe("CN=Jürgen Müller");
  });

  it("refuses to return a request whose signature does not match the public key", async () => {
    const { signer } = await fileSigner("p256");
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
    const lying: Signer = { ...signer, sign: signer.sign.bind(signer), publicKey: async () => other, certificate: signer.certificate.bind(signer), certificateChain: signer.certificateChain.bind(signer), close: signer.close.bind(signer), keyType: "EC", backend: "pkcs11" };
    await expect(buildCsr(lying, { subject: parseSubject("/CN=x") })).rejects.toMatchObject({ code: "PUBLIC_KEY_MISMATCH" });
    await signer.close();
  });

  it("without SANs the request has no empty SubjectAltName extension; a key without a public key is a typed refusal", async () => {
    const { signer } = await fileSigner("p256");
    try {
      const { pem } = await buildCsr(signer, { subject: parseSubject("/CN=no-sans"), subjectAltNames: [] });
      const { text } = verifyCsr(pem, "no-sans");
      expect(text).not.toMatch(/Subject Alternative Name/);
      expect(text).toMatch(/X509v3 Key Usage: critical/);
      const keyless: Signer = { ...signer, sign: signer.sign.bind(signer), publicKey: async () => undefined, certificate: signer.certificate.bind(signer), certificateChain: signer.certificateChain.bind(signer), close: signer.close.bind(signer), keyType: "EC", backend: "pkcs11" };
      await expect(buildCsr(keyless, { subject: parseSubject("/CN=x") })).rejects.toMatchObject({
        code: "PRIVATE_KEY_UNSUPPORTED",
        message: "cannot read the public key of this pkcs11 key",
        hint: "the token needs a public-key object with the key's CKA_ID (keygen creates one)",
      });
      const { text: withSan } = verifyCsr((await buildCsr(signer, { subject: parseSubject("/CN=san"), subjectAltNames: [parseSan("DNS:a.example")] })).pem, "one-san");
      expect(withSan).toMatch(/X509v3 Subject Alternative Name: \n/);
    } finally {
      await signer.close();
    }
  });

  it("from plain JavaScript, a junk signer or request is a USAGE error naming it, not a TypeError", async () => {
    const { signer } = await fileSigner("p256");
    const subject = parseSubject("/CN=x");
    const cases: [unknown, unknown, string][] = [
      [null, { subject }, "signer must be an object"],
      [{ sign: () => Buffer.alloc(0) }, { subject }, "signer.publicKey must be a function"],
      [signer, null, "request must be an object"],
      [signer, {}, "request.subject must be an array of RDNs"],
      [signer, { subject: "/CN=x" }, "request.subject must be an array of RDNs"],
      [signer, { subject: [[{ oid: "2.5.4.3", value: 5 }]] }, "request.subject must be an array of RDNs"],
      [signer, { subject: [[{ oid: "not-an-oid", value: "x" }]] }, "request.subject must be an array of RDNs"],
      [signer, { subject, subjectAltNames: ["DNS:x"] }, "request.subjectAltNames must be an array of { type"],
      [signer, { subject, subjectAltNames: [{ type: "IP", value: "not-an-ip" }] }, "request.subjectAltNames must be"],
      [signer, { subject, subjectAltNames: [{ type: "dns", value: "a.example" }] }, "request.subjectAltNames must be"],
      [signer, { subject, digest: "MD5" }, "request.digest must be SHA256, SHA384 or SHA512"],
      [signer, { subject: [[]] }, "request.subject must be an array of RDNs"],
      [signer, { subject: [[{ oid: "2.5.4.3", value: "x" }], [{ oid: "2.5.4.3", value: 5 }]] }, "request.subject must be an array of RDNs"],
      [signer, { subject: [[{ oid: "2.5.4.3", value: "x" }, { oid: "2.5", value: 5 }]] }, "request.subject must be an array of RDNs"],
      [signer, { subject: [["not an attribute"]] }, "request.subject must be an array of RDNs"],
      [signer, { subject: [[{ oid: "x2.5.4.3", value: "x" }]] }, "request.subject must be an array of RDNs"],
      [signer, { subject: [[{ oid: "2.5.4.3x", value: "x" }]] }, "request.subject must be an array of RDNs"],
      [signer, { subject, subjectAltNames: [{ type: "DNS", value: " a.example" }] }, "request.subjectAltNames must be"],
      [signer, { subject, subjectAltNames: [{ type: "DNS", value: "a.example" }, { type: "IP", value: "x" }] }, "request.subjectAltNames must be"],
      [signer, { subject, subjectAltNames: [null] }, "request.subjectAltNames must be"],
    ];
    for (const [s, request, message] of cases) {
      await expect(buildCsr(s as Signer, request as never), JSON.stringify(request)).rejects.toMatchObject({
        code: "USAGE",
        message: expect.stringContaining(`buildCsr: ${message}`),
      });
    }
    await signer.close();
  });
});

it("openssl itself is the reference for the multi-valued RDN order", () => {
  // Sanity check of the expectation above: openssl sorts CN=…+OU=… the same way (OU first in DER).
  const key = join(tmp.dir, "ref.key");
  generateKey(key, "p256");
  const csr = join(tmp.dir, "ref.csr");
  openssl(["req", "-new", "-key", key, "-subj", "/OU=Ops+CN=Jürgen Müller", "-utf8", "-out", csr]);
  expect(opensslText(["asn1parse", "-in", csr])).toMatch(/organizationalUnitName[\s\S]*commonName/);
});
