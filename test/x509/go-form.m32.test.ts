import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { Certificate } from "../../src/x509/certificate.js";
import { ca, caSpki, certificate, longForm, spkiOf, int, name, read, refused, versionField, withExtension } from "../helpers/go-form.js";

// Round 30's mutation of round 29's checks of what Go's parser (go1.19.8, as today's Go) reads: each case below is a
// wrong line the tests before let through; every verdict "refused" or "read" is Go's own on the same DER.

describe("the version and the public key as Go's parser reads them", () => {
  it("a version of two bytes (256) is refused: its first byte alone is no version (Go: 'invalid version')", () => {
    refused(certificate({ version: versionField(int(1, 0)) }), "version");
  });

  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" }) as { n: string };
  const modulus = Buffer.concat([Buffer.alloc(1), Buffer.from(rsa.n, "base64url")]);
  const rsaSpki = (exponent: Buffer, unusedBits = 0) => derSequence(derSequence(derOid("1.2.840.113549.1.1.1"), Buffer.from([5, 0])),
    derTlv(0x03, Buffer.concat([Buffer.from([unusedBits]), derSequence(derTlv(2, modulus), derTlv(2, exponent))])));

  it("an RSA exponent whose first byte is 0x80 is negative and refused ('RSA public exponent is not a positive number')", () => {
    refused(certificate({ spki: rsaSpki(Buffer.from([0x80])) }), "public key");
    read(certificate({ spki: rsaSpki(Buffer.from([0x7f])) }));
  });

  it("an RSA key in a BIT STRING with an unused bit is refused: Go right-aligns it out of shape ('invalid RSA public key')", () => {
    refused(certificate({ spki: rsaSpki(Buffer.from([1, 0, 2]), 1) }), "public key");
    read(certificate({ spki: rsaSpki(Buffer.from([1, 0, 2])) }));
  });

  const ecSpki = (parameters: Buffer[], point: Buffer) => derSequence(derSequence(derOid("1.2.840.10045.2.1"), ...parameters), derBitString(point));
  const p256 = caSpki.subarray(-65);
  const onCurve = (curve: string) => `gw.der holds a key on ${curve}, which AWS's certificate parser does not read`;

  it("an EC key on a curve OpenSSL does not know either is refused by the curve's OID ('unsupported elliptic curve')", () => {
    const der = certificate({ spki: ecSpki([derOid("1.2.3.4")], p256) });
    new X509Certificate(der);
    expect(() => new Certificate(der, "gw.der")).toThrow(expect.objectContaining({ code: "CERTIFICATE_INVALID", message: onCurve("1.2.3.4") }));
  });

  // Before: each "holds a key on a curve given by its parameters", though only the first has any.
  it.each([
    ["given by its parameters", [derSequence(int(1))]],
    ["without parameters", []],
    ["with NULL parameters (implicitlyCA: the CA's curve)", [Buffer.from([5, 0])]],
  ])("an EC key on a curve %s is refused as one it does not name ('invalid ECDSA parameters')", (_, parameters) => {
    const der = certificate({ spki: ecSpki(parameters, p256) });
    new X509Certificate(der);
    expect(() => new Certificate(der, "gw.der")).toThrow(expect.objectContaining({ code: "CERTIFICATE_INVALID", message: onCurve("a curve it does not name") }));
  });

  it("an EC point in the hybrid form (06 or 07, X and Y), which OpenSSL reads, is refused ('failed to unmarshal elliptic curve point')", () => {
    refused(certificate({ spki: ecSpki([derOid("1.2.840.10045.3.1.7")], Buffer.concat([Buffer.from([6 + (p256[64]! & 1)]), p256.subarray(1)])) }), "public key");
  });

  // Round 29's test of this sets the unused bit by clearing Y's last bit: an odd Y leaves no point on the curve, which
  // OpenSSL's reading refuses too, so only an even Y shows the unused bit is looked at (a mutant lived half the runs).
  it("an EC key in a BIT STRING with an unused bit is refused though its bytes are the point itself ('failed to unmarshal elliptic curve point')", () => {
    let point = p256;
    while (point[64]! & 1) point = spkiOf(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey).subarray(-65);
    const algorithm = derSequence(derOid("1.2.840.10045.2.1"), derOid("1.2.840.10045.3.1.7"));
    refused(certificate({ spki: derSequence(algorithm, derTlv(0x03, Buffer.concat([Buffer.from([1]), point]))) }), "public key");
    read(certificate({ spki: ecSpki([derOid("1.2.840.10045.3.1.7")], point) }));
  });

  it("an Ed25519 key of 31 or 33 bytes is refused ('wrong Ed25519 public key size')", () => {
    const ed = spkiOf(generateKeyPairSync("ed25519").publicKey).subarray(-32);
    const edSpki = (key: Buffer) => derSequence(derSequence(derOid("1.3.101.112")), derBitString(key));
    refused(certificate({ spki: edSpki(ed.subarray(1)) }), "public key");
    refused(certificate({ spki: edSpki(Buffer.concat([ed, Buffer.from([0])])) }), "public key");
  });
});

describe("inside the extensions Go reads: what it reads, in DER, and what it leaves unread", () => {
  const keyId = derTlv(0x80, Buffer.alloc(20, 0x5a));
  const dirName = derTlv(0xa4, name);
  const uri = derTlv(0x86, Buffer.from("http://ca.example/ca.crt"));
  const caIssuers = derOid("1.3.6.1.5.5.7.48.2");
  const policy = derOid("1.3.6.1.4.1.99999.1");
  const cps = derSequence(derOid("1.3.6.1.5.5.7.2.1"), derTlv(0x16, Buffer.from("http://cps.example/")));

  it.each([
    // Go peeks for a keyIdentifier [0] and reads no further
    ["an empty AKI", "2.5.29.35", derSequence()],
    ["an AKI without a keyIdentifier whose authorityCertIssuer has a padded length", "2.5.29.35", derSequence(longForm(derTlv(0xa1, dirName)), derTlv(0x82, Buffer.from([1])))],
    // a policy's OID is all Go reads of it
    ["a policy whose qualifiers' list has a padded length", "2.5.29.32", derSequence(derSequence(policy, longForm(derSequence(cps))))],
    // an access location is read only as a URI [6]
    ["an AIA location that is a directoryName with a padded length", "1.3.6.1.5.5.7.1.1", derSequence(derSequence(caIssuers, longForm(dirName)), derSequence(caIssuers, uri))],
    ["an AIA entry with no location", "1.3.6.1.5.5.7.1.1", derSequence(derSequence(caIssuers))],
    // … and so is a policy's: what follows its OID is never read, whatever its tag
    ["a policy followed by a [6] with a padded length", "2.5.29.32", derSequence(derSequence(policy, longForm(derTlv(0x86, Buffer.from("x")))))],
    // a distribution point without its distributionPoint [0] is skipped
    ["an empty CRL distribution point", "2.5.29.31", derSequence(derSequence())],
  ])("%s is read, as Go reads it (%s)", (_, oid, value) => {
    read(withExtension(oid, value));
  });

  it("an AKI with a padded length is refused, as Go refuses it ('invalid authority key identifier')", () => {
    expect(() => new Certificate(withExtension("2.5.29.35", longForm(derSequence(keyId))), "gw.der")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "gw.der is not DER-encoded: it has a non-minimal length (BER, not DER) in its extension 2.5.29.35",
    }));
  });

  it.each([
    ["a policy that is an empty SEQUENCE ('invalid certificate policies')", "2.5.29.32", derSequence(derSequence())],
    // 'invalid basic constraints c': pathLen into a Go int, with or without the cA BOOLEAN before it
    ["a basicConstraints pathLen of 9 bytes without cA", "2.5.29.19", derSequence(int(1, 0, 0, 0, 0, 0, 0, 0, 0))],
  ])("%s is refused (%s)", (_, oid, value) => {
    refused(withExtension(oid, value), `extension ${oid}`);
  });

  it("a basicConstraints pathLen of 8 bytes without cA is read", () => {
    read(withExtension("2.5.29.19", derSequence(int(1, 0, 0, 0, 0, 0, 0, 0))));
  });
});
