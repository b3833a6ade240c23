import { generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { Certificate } from "../../src/x509/certificate.js";
import { ca, certificate, extension, int, longForm, name, read, refused, spkiOf, versionField, withExtension } from "../helpers/go-form.js";

// Disagreements with Go's x509.ParseCertificate (go1.19.8, as today's Go) found by scripts/fuzz-go-parser.mjs in
// round 29: certificates OpenSSL reads and Go refuses, each beside the nearest one Go reads.
describe("certificates Go's parser refuses in their version, public key and extensions", () => {

  it("a version other than v1-v3 is refused (Go: 'invalid version', 'malformed version')", () => {
    refused(certificate({ version: versionField(int(3)) }), "version");
    refused(certificate({ version: versionField(int(0x7f)) }), "version");
    refused(certificate({ version: versionField(int(0xff)) }), "version"); // -1 ('malformed version')
    read(certificate({ version: versionField(int(0)) }));
    read(certificate({ version: versionField(int(1)) }));
  });

  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const { n, e } = rsa.publicKey.export({ format: "jwk" }) as { n: string; e: string };
  const unsigned = (b64: string) => { const b = Buffer.from(b64, "base64url"); return b[0]! & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b; };
  const rsaSpki = (modulus: Buffer, exponent: Buffer, parameters: Buffer[] = [Buffer.from([5, 0])]) =>
    derSequence(derSequence(derOid("1.2.840.113549.1.1.1"), ...parameters), derBitString(derSequence(derTlv(2, modulus), derTlv(2, exponent))));
  const modulus = unsigned(n);
  const exponent = unsigned(e);

  it.each([
    ["a negative modulus (Go: 'RSA modulus is not a positive number')", rsaSpki(modulus.subarray(1), exponent)],
    ["an exponent of 0 ('RSA public exponent is not a positive number')", rsaSpki(modulus, Buffer.from([0]))],
    ["a negative exponent", rsaSpki(modulus, Buffer.from([0xff]))],
    ["an exponent of 9 bytes ('invalid RSA public exponent')", rsaSpki(modulus, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 1]))],
    ["no NULL parameters ('RSA key missing NULL parameters')", rsaSpki(modulus, exponent, [])],
  ])("an RSA key with %s is refused", (_, spki) => {
    refused(certificate({ spki }), "public key");
  });

  it("an RSA key Go reads (an exponent of 8 bytes) is read", () => {
    read(certificate({ spki: rsaSpki(modulus, exponent) }));
    read(certificate({ spki: rsaSpki(modulus, Buffer.from([1, 0, 0, 0, 0, 0, 0, 1])) }));
  });

  const ecSpki = (curve: string, point: Buffer) => derSequence(derSequence(derOid("1.2.840.10045.2.1"), derOid(curve)), derBitString(point));
  const pointOf = (key: KeyObject) => spkiOf(key).subarray(-65);
  const p256 = pointOf(ca.publicKey);
  it.each([
    // elliptic.Unmarshal takes the uncompressed form only ('failed to unmarshal elliptic curve point')
    ["as a compressed point", ecSpki("1.2.840.10045.3.1.7", Buffer.concat([Buffer.from([2 + (p256[64]! & 1)]), p256.subarray(1, 33)]))],
    // elliptic.Unmarshal checks the point is on the curve (OpenSSL's reading of the key does too, and is what is asked)
    ["off the curve", ecSpki("1.2.840.10045.3.1.7", Buffer.concat([p256.subarray(0, 64), Buffer.from([p256[64]! ^ 1])]))],
    // Go right-aligns the BIT STRING: 1 unused bit shifts the point
    ["in a BIT STRING with an unused bit", derSequence(derSequence(derOid("1.2.840.10045.2.1"), derOid("1.2.840.10045.3.1.7")), derTlv(0x03, Buffer.concat([Buffer.from([1]), p256.subarray(0, 64), Buffer.from([p256[64]! & 0xfe])])))],
  ])("an EC key %s is refused", (_, spki) => {
    refused(certificate({ spki }), "public key");
  });

  // Go 1.19-1.25's namedCurveFromOID knows P-224, P-256, P-384, P-521 only ('unsupported elliptic curve'). Before:
  // "gw.der has a malformed value in its public key, …", hinted to issue it again "without it".
  it("an EC key on another curve is refused by its name, with the keys to ask for", () => {
    const secp256k1 = ecSpki("1.3.132.0.10", pointOf(generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey));
    new X509Certificate(certificate({ spki: secp256k1 }));
    expect(() => new Certificate(certificate({ spki: secp256k1 }), "gw.der")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "gw.der holds a key on secp256k1, which AWS's certificate parser does not read",
      hint: "have the CA issue a certificate for an RSA key or an ECDSA P-256, P-384 or P-521 key",
    }));
  });

  it("an EC key on P-224 (Go reads it) and an Ed25519 key are read; an Ed25519 key with parameters is refused", () => {
    read(certificate({ spki: spkiOf(generateKeyPairSync("ec", { namedCurve: "P-224" }).publicKey) }));
    const ed = spkiOf(generateKeyPairSync("ed25519").publicKey);
    read(certificate({ spki: ed }));
    // 'Ed25519 key encoded with illegal parameters'
    refused(certificate({ spki: derSequence(derSequence(derOid("1.3.101.112"), Buffer.from([5, 0])), derBitString(ed.subarray(-32))) }), "public key");
  });

  const dns = (tag: number) => derTlv(tag, derSequence(derTlv(0x82, Buffer.from("gw.example"))));
  const uri = derTlv(0x86, Buffer.from("http://crl.example/ca.crl"));
  it.each([
    // 'invalid NameConstraints extension': Go reads [0] then [1], nothing else
    ["nameConstraints' excluded list before the permitted one", "2.5.29.30", derSequence(dns(0xa1), dns(0xa0)), derSequence(dns(0xa0), dns(0xa1))],
    ["nameConstraints' list [2]", "2.5.29.30", derSequence(dns(0xa0), dns(0xa2)), derSequence(dns(0xa1))],
    // 'invalid basic constraints c': pathLen into a Go int
    ["a basicConstraints pathLen of 9 bytes", "2.5.29.19", derSequence(derTlv(1, Buffer.from([0xff])), int(1, 0, 0, 0, 0, 0, 0, 0, 0)), derSequence(derTlv(1, Buffer.from([0xff])), int(1, 0, 0, 0, 0, 0, 0, 0))],
    // 'invalid CRL distribution point': a name other than a fullName [0]
    ["a CRL distribution point named by nameRelativeToCRLIssuer [1]", "2.5.29.31", derSequence(derSequence(derTlv(0xa0, derTlv(0xa1, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("crl"))))))), derSequence(derSequence(derTlv(0xa0, derTlv(0xa0, uri))))],
    ["a CRL distribution point with an empty name", "2.5.29.31", derSequence(derSequence(derTlv(0xa0, Buffer.alloc(0)))), derSequence(derSequence(derTlv(0xa2, derTlv(0xa4, name))))],
  ])("%s is refused (%s); its nearest form Go reads is read", (_, oid, value, fixed) => {
    refused(certificate({ extensions: [extension(oid, value)] }), `extension ${oid}`);
    read(certificate({ extensions: [extension(oid, fixed)] }));
  });
});

// Go's parser reads the extensions of a v3 certificate only: a v1 or v2 one's are left unread, so nothing in them is
// refused (OpenSSL reads them as it does a v3 one's).
describe("extensions of a v1 or v2 certificate, which Go does not read", () => {
  const keyUsage = derSequence(derOid("2.5.29.15"), derTlv(0x04, derTlv(0x03, Buffer.from([0x07, 0x80]))));

  it.each([
    ["v1 (no version)", []],
    ["v1", [derTlv(0xa0, derTlv(0x02, Buffer.from([0])))]],
    ["v2", [derTlv(0xa0, derTlv(0x02, Buffer.from([1])))]],
  ])("a %s certificate with an extension twice is read, as Go reads it", (_, version) => {
    expect(new Certificate(certificate({ version, extensions: [keyUsage, keyUsage] }), "gw.der").subject).toBe("CN=gw");
  });

  it("a v3 one is refused", () => {
    expect(() => new Certificate(certificate({ extensions: [keyUsage, keyUsage] }), "gw.der")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "gw.der has the extension 2.5.29.15 twice",
    }));
  });
});

// Go's parser reads of certificatePolicies each policy's OID and never its qualifiers: BER in a qualifier (a user
// notice's noticeNumbers, a stray BOOLEAN) is read there, as OpenSSL reads it; BER on the way to a policy's OID is not.
describe("certificatePolicies with BER in a policy's qualifiers, which Go does not read", () => {
  const certificate = (policies: Buffer) => withExtension("2.5.29.32", policies);
  const notice = (...numbers: Buffer[]) => derSequence(derOid("1.3.6.1.5.5.7.2.2"), derSequence(derSequence(derTlv(0x16, Buffer.from("Org")), derSequence(...numbers))));
  const policy = (...qualifiers: Buffer[]) => derSequence(derOid("1.3.6.1.4.1.99999.1"), derSequence(...qualifiers));

  it.each([
    ["a noticeNumber 00 01", notice(derTlv(0x02, Buffer.from([0, 1])))],
    ["a noticeNumber of no byte", notice(derTlv(0x02, Buffer.alloc(0)))],
    ["a BOOLEAN 01", derSequence(derOid("1.3.6.1.5.5.7.2.1"), derTlv(0x16, Buffer.from("http://cps.example/")), derTlv(0x01, Buffer.from([1])))],
    ["a padded length", longForm(notice(derTlv(0x02, Buffer.from([1]))))],
  ])("a qualifier with %s is read, as Go reads it", (_, qualifier) => {
    expect(new Certificate(certificate(derSequence(policy(qualifier))), "gw.der").subject).toBe("CN=gw");
  });

  it.each([
    ["the policies' list", longForm(derSequence(policy(notice(derTlv(0x02, Buffer.from([1]))))))],
    ["a policy", derSequence(longForm(policy(notice(derTlv(0x02, Buffer.from([1]))))))],
    ["a policy's OID", derSequence(derSequence(longForm(derOid("1.3.6.1.4.1.99999.1"))))],
  ])("a padded length of %s is refused, as Go refuses it", (_, policies) => {
    expect(() => new Certificate(certificate(policies), "gw.der")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "gw.der is not DER-encoded: it has a non-minimal length (BER, not DER) in its extension 2.5.29.32",
    }));
  });
});

// What Go's parser never reads inside the extensions it reads: a subjectAltName's otherName or directoryName, an access
// location other than a URI, a directoryName constraint, an AKI's issuer. BER there is read, as Go and OpenSSL read it;
// BER in what Go reads is refused.
describe("BER where Go does not read inside a standard extension", () => {
  const certificate = withExtension;
  const padded = (tag: number, text: string) => longForm(derTlv(tag, Buffer.from(text)));
  const dirName = derTlv(0xa4, derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), padded(0x0c, "dir")))));
  const otherName = derTlv(0xa0, Buffer.concat([derOid("1.3.6.1.4.1.311.20.2.3"), derTlv(0xa0, padded(0x0c, "upn@example.com"))]));
  const uri = derTlv(0x86, Buffer.from("http://ca.example/ca.crt"));
  const caIssuers = derOid("1.3.6.1.5.5.7.48.2");
  const keyId = derTlv(0x80, Buffer.alloc(20, 0x5a));

  it.each([
    ["a subjectAltName otherName", "2.5.29.17", derSequence(otherName, derTlv(0x82, Buffer.from("gw.example")))],
    ["a subjectAltName directoryName", "2.5.29.17", derSequence(dirName)],
    ["an AIA location that is a directoryName", "1.3.6.1.5.5.7.1.1", derSequence(derSequence(caIssuers, dirName), derSequence(caIssuers, uri))],
    ["an AIA entry after its URI (a BOOLEAN 01)", "1.3.6.1.5.5.7.1.1", derSequence(derSequence(caIssuers, uri, derTlv(0x01, Buffer.from([1]))))],
    ["a directoryName constraint", "2.5.29.30", derSequence(derTlv(0xa0, Buffer.concat([derSequence(dirName), derSequence(derTlv(0x82, Buffer.from("gw.example")))])))],
    ["an AKI's authorityCertIssuer", "2.5.29.35", derSequence(keyId, derTlv(0xa1, dirName), derTlv(0x82, Buffer.from([1])))],
  ])("BER in %s is read, as Go reads it", (_, oid, value) => {
    expect(new Certificate(certificate(oid, value), "gw.der").subject).toBe("CN=gw");
  });

  it.each([
    ["a subjectAltName's name", "2.5.29.17", derSequence(padded(0x82, "gw.example"))],
    ["an access method", "1.3.6.1.5.5.7.1.1", derSequence(derSequence(longForm(caIssuers), uri))],
    ["an access location URI", "1.3.6.1.5.5.7.1.1", derSequence(derSequence(caIssuers, longForm(uri)))],
    ["a name constraint's base name", "2.5.29.30", derSequence(derTlv(0xa0, derSequence(padded(0x82, "gw.example"))))],
    ["a name constraint's subtree", "2.5.29.30", derSequence(derTlv(0xa0, longForm(derSequence(derTlv(0x82, Buffer.from("gw.example"))))))],
    ["an AKI's keyIdentifier", "2.5.29.35", derSequence(longForm(keyId))],
  ])("a padded length of %s is refused, as Go refuses it", (_, oid, value) => {
    expect(() => new Certificate(certificate(oid, value), "gw.der")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: `gw.der is not DER-encoded: it has a non-minimal length (BER, not DER) in its extension ${oid}`,
    }));
  });
});
