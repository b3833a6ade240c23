import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { Certificate } from "../../src/x509/certificate.js";
import { berTlv, certificate, extension, int, name, read, refused } from "../helpers/go-form.js";

// Disagreements with Go's x509.ParseCertificate found by scripts/fuzz-go-parser.mjs in round 30, where it first
// mutated what Go's parser does not read: a v1 or v2 certificate's extensions, the bytes after an extension's value,
// the elements after the last one Go reads (a pathLen, a distribution point's name, a subtree's base), extensions Go
// never parses. Oracle: go1.19.8 for each "read" (and the source of current Go's parser.go for each "refused").
const uri = derTlv(0x86, Buffer.from("http://crl.example/ca.crl"));
const dirName = derTlv(0xa4, name);

describe("a v1 or v2 certificate's extensions, which Go's parser never reads", () => {
  // Was: "is not DER-encoded: it has a non-minimal length (BER, not DER)" from the whole-TBS DER check.
  const ber = [berTlv(0x30, Buffer.concat([derOid("2.5.29.15"), derTlv(0x04, derTlv(0x03, Buffer.from([0x07, 0x80])))]))];
  const critical01 = [derSequence(derOid("2.5.29.15"), derTlv(0x01, Buffer.from([0x01])), derTlv(0x04, derTlv(0x03, Buffer.from([0x07, 0x80]))))];
  it.each([
    ["v1 (no version)", []],
    ["v1", [derTlv(0xa0, int(0))]],
    ["v2", [derTlv(0xa0, int(1))]],
  ])("a %s certificate with BER in its extensions (a padded length, a BOOLEAN 01) is read", (_, version) => {
    read(certificate({ version, extensions: ber }));
    read(certificate({ version, extensions: critical01 }));
  });

  it("a v3 one is refused (Go: 'malformed extension', 'malformed extension critical field')", () => {
    expect(() => new Certificate(certificate({ extensions: ber }), "gw.der")).toThrow(/gw\.der is not DER-encoded: it has a non-minimal length/);
    expect(() => new Certificate(certificate({ extensions: critical01 }), "gw.der")).toThrow(/BOOLEAN that is neither 00 nor FF/);
  });
});

describe("bytes after an extension's value, and elements after the last one Go reads", () => {
  const after = (value: Buffer, ...tail: number[]) => Buffer.concat([value, Buffer.from(tail)]);
  const keyId = derSequence(derTlv(0x80, Buffer.from("0123456789abcdef0123")));
  const access = derSequence(derSequence(derOid("1.3.6.1.5.5.7.48.1"), derTlv(0x86, Buffer.from("http://ocsp.example/"))));
  const points = derSequence(derSequence(derTlv(0xa0, derTlv(0xa0, uri))));
  it.each([
    // Go reads the first element of these values only, in every version (parser.go processExtensions)
    ["subjectKeyIdentifier", "2.5.29.14", derTlv(0x04, Buffer.from("0123456789abcdef0123"))],
    ["authorityKeyIdentifier", "2.5.29.35", keyId],
    ["authorityInfoAccess", "1.3.6.1.5.5.7.1.1", access],
    ["cRLDistributionPoints", "2.5.29.31", points],
    ["policyConstraints", "2.5.29.36", derSequence(derTlv(0x80, Buffer.from([0])))],
    ["policyMappings", "2.5.29.33", derSequence(derSequence(derOid("1.2.3.4"), derOid("1.2.3.5")))],
    ["inhibitAnyPolicy", "2.5.29.54", int(1)],
  ])("a %s value followed by more bytes is read, as Go reads it", (_, oid, value) => {
    read(certificate({ extensions: [extension(oid, after(value, 0x05, 0x00))] }));
    read(certificate({ extensions: [extension(oid, after(value, 0xff))] }));
  });

  it.each([
    // current Go (parser.go after go1.27: 'trailing data after key usage', '… basic constraints', …) refuses them
    ["keyUsage", "2.5.29.15", derTlv(0x03, Buffer.from([0x07, 0x80]))],
    ["basicConstraints", "2.5.29.19", derSequence(derTlv(0x01, Buffer.from([0xff])))],
    ["subjectAltName", "2.5.29.17", derSequence(derTlv(0x82, Buffer.from("gw.example")))],
    ["extKeyUsage", "2.5.29.37", derSequence(derOid("1.3.6.1.5.5.7.3.2"))],
    ["certificatePolicies", "2.5.29.32", derSequence(derSequence(derOid("1.2.3.4")))],
  ])("a %s value followed by more bytes stays refused (current Go refuses it)", (_, oid, value) => {
    refused(certificate({ extensions: [extension(oid, after(value, 0x05, 0x00))] }), `extension ${oid}`);
  });

  it("elements after a basicConstraints pathLen are read, in any form (Go stops at the pathLen)", () => {
    const ca = derTlv(0x01, Buffer.from([0xff]));
    read(certificate({ extensions: [extension("2.5.29.19", derSequence(ca, int(0), int(5)))] }));
    read(certificate({ extensions: [extension("2.5.29.19", derSequence(ca, int(0), berTlv(0x02, Buffer.from([0]))))] }));
    read(certificate({ extensions: [extension("2.5.29.19", derSequence(ca, int(0), derTlv(0x01, Buffer.from([0x01]))))] }));
    read(certificate({ extensions: [extension("2.5.29.19", derSequence(ca, int(0), derTlv(0x03, Buffer.from([0x01, 0x01]))))] }));
  });

  it("a pathLen Go cannot read stays refused: negative, padded (Go: 'invalid basic constraints')", () => {
    const ca = derTlv(0x01, Buffer.from([0xff]));
    refused(certificate({ extensions: [extension("2.5.29.19", derSequence(ca, int(0xff)))] }), "extension 2.5.29.19");
    expect(() => new Certificate(certificate({ extensions: [extension("2.5.29.19", derSequence(ca, int(0, 1)))] }), "gw.der")).toThrow(/not DER-encoded: it has an empty or non-minimal INTEGER/);
  });
});

describe("a CRL distribution point's reasons and cRLIssuer, which Go never reads", () => {
  const point = (...parts: Buffer[]) => extension("2.5.29.31", derSequence(derSequence(...parts)));
  it("reasons with unused bits set, a cRLIssuer and names after the URIs in BER are read", () => {
    read(certificate({ extensions: [point(derTlv(0xa0, derTlv(0xa0, uri)), derTlv(0x81, Buffer.from([0x01, 0x61])))] }));
    read(certificate({ extensions: [point(derTlv(0xa0, derTlv(0xa0, uri)), derTlv(0xa2, berTlv(0xa4, name)))] }));
    read(certificate({ extensions: [point(derTlv(0xa2, derTlv(0xa4, derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), berTlv(0x0c, Buffer.from("crl"))))))))] }));
    read(certificate({ extensions: [point(derTlv(0xa0, derTlv(0xa0, Buffer.concat([uri, berTlv(0xa4, name)]))))] }));
    read(certificate({ extensions: [point(derTlv(0x81, Buffer.from([0x07, 0x80])), derTlv(0xa0, derTlv(0xa0, berTlv(0x86, Buffer.from("x")))))] }));
  });

  it("a URI of the fullName in BER is refused (Go reads it: 'invalid CRL distribution point')", () => {
    expect(() => new Certificate(certificate({ extensions: [point(derTlv(0xa0, derTlv(0xa0, berTlv(0x86, Buffer.from("http://crl.example/")))))] }), "gw.der"))
      .toThrow(/not DER-encoded: it has a non-minimal length \(BER, not DER\) in its extension 2\.5\.29\.31/);
  });
});

describe("extension values of a type Go's parser does not read as its own", () => {
  it.each([
    // go1.19.8 and current Go: 'invalid key usage', 'invalid subject key identifier', 'invalid authority key
    // identifier', 'invalid basic constraints', 'invalid certificate policies'
    ["keyUsage", "2.5.29.15", derTlv(0x04, Buffer.from([0x07, 0x80]))],
    ["subjectKeyIdentifier", "2.5.29.14", derSequence(derTlv(0x04, Buffer.from("0123")))],
    ["authorityKeyIdentifier", "2.5.29.35", derTlv(0x31, derTlv(0x80, Buffer.from("0123")))],
    ["basicConstraints", "2.5.29.19", derTlv(0x31, derTlv(0x01, Buffer.from([0xff])))],
    ["subjectAltName", "2.5.29.17", derTlv(0x31, derTlv(0x82, Buffer.from("gw.example")))],
    ["inhibitAnyPolicy", "2.5.29.54", derTlv(0x04, Buffer.from([1]))],
    // 'invalid authority info access', 'invalid certificate policies', 'invalid policy mappings extension'
    ["authorityInfoAccess item", "1.3.6.1.5.5.7.1.1", derSequence(derTlv(0x31, Buffer.concat([derOid("1.3.6.1.5.5.7.48.1"), uri])))],
    ["certificatePolicies item", "2.5.29.32", derSequence(derTlv(0x31, derOid("1.2.3.4")))],
    ["policyMappings item", "2.5.29.33", derSequence(derTlv(0x31, Buffer.concat([derOid("1.2.3.4"), derOid("1.2.3.5")])))],
  ])("a %s value of another type is refused", (_, oid, value) => {
    refused(certificate({ extensions: [extension(oid, value)] }), `extension ${oid}`);
  });

  it("what follows the part of an access description, a policy and a mapping Go reads is read", () => {
    const ocsp = derOid("1.3.6.1.5.5.7.48.1");
    read(certificate({ extensions: [extension("1.3.6.1.5.5.7.1.1", derSequence(derSequence(ocsp, uri, Buffer.from([0xff]))))] }));
    read(certificate({ extensions: [extension("1.3.6.1.5.5.7.1.1", derSequence(derSequence(ocsp, derTlv(0xa4, berTlv(0x30, Buffer.alloc(0))))))] }));
    read(certificate({ extensions: [extension("2.5.29.32", derSequence(derSequence(derOid("1.2.3.4"), Buffer.from([0xff, 0xff]))))] }));
    read(certificate({ extensions: [extension("2.5.29.33", derSequence(derSequence(derOid("1.2.3.4"), derOid("1.2.3.5"), Buffer.from([0xff]))))] }));
  });

  it("an extension Go never parses (issuerAltName, freshestCRL, a TLS feature) is read with BER inside", () => {
    for (const oid of ["2.5.29.18", "2.5.29.46", "1.3.6.1.5.5.7.1.24"]) {
      read(certificate({ extensions: [extension(oid, berTlv(0x30, derTlv(0x82, Buffer.from("gw.example"))))] }));
    }
  });
});

describe("a name constraint's subtree after its base, which Go never reads", () => {
  const constraints = (...subtree: Buffer[]) => extension("2.5.29.30", derSequence(derTlv(0xa0, derSequence(derTlv(0x82, Buffer.from(".corp.example")), ...subtree))));
  it("minimum and maximum (golang/go#81499) and other bytes after the base are read", () => {
    read(certificate({ extensions: [constraints(derTlv(0x80, Buffer.from([1])), derTlv(0x81, Buffer.from([0])))] }));
    read(certificate({ extensions: [constraints(berTlv(0x80, Buffer.from([0])))] }));
    read(certificate({ extensions: [constraints(Buffer.from([0xff]))] }));
  });
});

describe("a name's attribute value of a type other than a string", () => {
  const subject = (value: Buffer) => derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))),
    derTlv(0x31, derSequence(derOid("2.5.4.45"), value)));
  it("a BIT STRING (x500UniqueIdentifier), a SEQUENCE, a UniversalString are read: current Go reads any value (readASN1Any; golang/go#77900)", () => {
    for (const value of [derBitString(Buffer.from("id")), derSequence(int(1)), derTlv(0x1c, Buffer.from([0, 0, 0, 0x41]))]) {
      expect(new Certificate(certificate({ subject: subject(value) }), "gw.der").subject).toMatch(/^CN=gw\n/);
    }
  });

  it("a BIT STRING with unused bits set stays refused (current Go: 'invalid ASN.1 BIT STRING')", () => {
    expect(() => new Certificate(certificate({ subject: subject(derTlv(0x03, Buffer.from([0x01, 0x01]))) }), "gw.der"))
      .toThrow(/gw\.der is not DER-encoded: it has a BIT STRING whose unused bits are not zero/);
  });
});

describe("an X25519 key, which current Go's parsePublicKey reads (go1.19 did not know it)", () => {
  const x25519 = generateKeyPairSync("x25519").publicKey.export({ type: "spki", format: "der" });
  const withKey = (spki: Buffer) => certificate({ spki });
  it("of 32 bytes without parameters is read; with parameters or of 31 bytes it is refused ('X25519 key encoded with illegal parameters', ecdh's 'invalid public key')", () => {
    read(withKey(x25519));
    refused(withKey(derSequence(derSequence(derOid("1.3.101.110"), Buffer.from([5, 0])), derBitString(x25519.subarray(-32)))), "public key");
    refused(withKey(derSequence(derSequence(derOid("1.3.101.110")), derBitString(x25519.subarray(-31)))), "public key");
  });

  // current Go (go1.27's crypto/mldsa): 'ML-DSA key encoded with illegal parameters', mldsa.NewPublicKey's size check
  it("an ML-DSA-44 key of 1312 bytes without parameters is read; with parameters or of 1311 bytes it is refused", () => {
    const mldsa = (parameters: Buffer[], size: number) => derSequence(derSequence(derOid("2.16.840.1.101.3.4.3.17"), ...parameters), derBitString(Buffer.alloc(size, 7)));
    read(withKey(mldsa([], 1312)));
    refused(withKey(mldsa([Buffer.from([5, 0])], 1312)), "public key");
    refused(withKey(mldsa([], 1311)), "public key");
  });
});
