/** Certificate's own facts on hand-built DER: serial forms, trailing bytes, the RSA size limit, signedWith. */
import { createSecretKey, createSign, generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derBitString, derOid, derSequence, derTlv, derUnsignedInteger } from "../../src/encoding/der-writer.js";
import { children, readSingle } from "../../src/encoding/der.js";
import { readCertificateNames } from "../../src/x509/names/certificate-names.js";
import { Certificate, MAX_RSA_MODULUS_BITS, mlDsaParameterSetForOid, oneLineName } from "../../src/x509/certificate.js";

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
const name = derTlv(0x30, derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("c")))));
const validity = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));

/** A self-signed certificate with this serial's content bytes (a negative one when the top bit is set). */
const ecSpki = publicKey.export({ type: "spki", format: "der" });
function certificate(serial: number[], spki: Buffer = ecSpki, times = validity, subject = name): Buffer {
  const version = derTlv(0xa0, derTlv(0x02, Buffer.from([2])));
  const tbs = derSequence(version, derTlv(0x02, Buffer.from(serial)), ecdsaSha256, name, times, subject, spki);
  const signature = createSign("sha256").update(tbs).sign(privateKey);
  return derSequence(tbs, ecdsaSha256, derBitString(signature));
}

describe("Certificate", () => {
  it("names PEM text as such (its '-----' read as DER gave 'followed by N bytes'), and reads DER whose subject holds a PEM line", () => {
    const der = certificate([1]);
    const pem = Buffer.from(new X509Certificate(der).toString());
    expect(() => new Certificate(pem, "its CKA_VALUE")).toThrow(expect.objectContaining({ code: "CERTIFICATE_INVALID", message: "its CKA_VALUE holds PEM text, not DER" }));
    const cn = derTlv(0x30, derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("-----BEGIN CERTIFICATE-----")))));
    expect(new Certificate(certificate([1], ecSpki, validity, cn)).subject).toBe("CN=-----BEGIN CERTIFICATE-----");
  });

  it("gives the serial in decimal and upper-case hex, a negative one with its sign", () => {
    const positive = new Certificate(certificate([0x00, 0xab]));
    expect([positive.serialDecimal, positive.serialHex]).toEqual(["171", "AB"]);
    const negative = new Certificate(certificate([0xfe]));
    expect([negative.serialDecimal, negative.serialHex]).toEqual(["-2", "-2"]);
  });

  it("gives the same serial as readCertificateNames (the source identity's), for every sign", () => {
    for (const serial of [[0x00, 0xab], [0xfe], [0x80, 0x00], [0x7f, 0xff]]) {
      const der = certificate(serial);
      expect(readCertificateNames(der).serialHex).toBe(new Certificate(der).serialHex.toLowerCase());
    }
  });

  it("refuses even one byte after the certificate, naming it", () => {
    const der = Buffer.concat([certificate([1]), Buffer.from([0])]);
    expect(() => new Certificate(der, "leaf.der")).toThrow(
      expect.objectContaining({
        code: "CERTIFICATE_INVALID", message: "leaf.der is followed by 1 bytes that are not part of it",
        hint: "export the certificate again (openssl x509 -in CERT -out clean.pem)",
      }),
    );
  });

  it("accepts an RSA key of 16384 bits and refuses one a bit larger", () => {
    const rsaSpki = (modulus: Buffer) => {
      const rsaKey = derSequence(derUnsignedInteger(modulus), derUnsignedInteger(Buffer.from([1, 0, 1])));
      const rsaEncryption = derSequence(derOid("1.2.840.113549.1.1.1"), derTlv(0x05, Buffer.alloc(0)));
      return derSequence(rsaEncryption, derBitString(rsaKey));
    };
    const largest = Buffer.alloc(MAX_RSA_MODULUS_BITS / 8, 0xff);
    expect(() => new Certificate(certificate([1], rsaSpki(largest)), "big.pem")).not.toThrow();
    const over = Buffer.concat([Buffer.from([1]), largest]);
    expect(() => new Certificate(certificate([1], rsaSpki(over)), "big.pem")).toThrow(expect.objectContaining({
      message: "big.pem has a 16385-bit RSA key, larger than the 16384 bits accepted",
      hint: "use an RSA 2048–4096 bit or an ECDSA key",
    }));
  });

  it("names bytes that are not a certificate, and a certificate in BER (indefinite length)", () => {
    expect(() => new Certificate(Buffer.from([0x30, 0x00]))).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "could not parse certificate: not a valid X.509 DER structure",
    }));
    const der = certificate([1]);
    const content = der.subarray(der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2);
    const ber = Buffer.concat([Buffer.from([0x30, 0x80]), content, Buffer.from([0, 0])]);
    expect(() => new Certificate(ber, "ber.pem")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "ber.pem is not DER-encoded: it has an indefinite length (BER, not DER)",
      hint: expect.stringContaining("export the certificate again as DER or PEM"),
    }));
  });

  // A form of DER in the signed part, like a value AWS's parser refuses, stays through an export: issue it again
  // (der-form-hint.test.ts: where an export helps).
  it("leads and hints by the kind of fault: a form of DER (not DER), a value AWS's parser refuses (refused); both signed: issue again", () => {
    const withExtensions = (...extensions: Buffer[]) => {
      const tbs = derSequence(derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), ecdsaSha256, name,
        validity, name, ecSpki, derTlv(0xa3, derSequence(...extensions)));
      return derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
    };
    const keyUsage81 = derSequence(derOid("2.5.29.15"), derTlv(0x04, Buffer.from([0x03, 0x81, 0x02, 0x07, 0x80])));
    expect(() => new Certificate(withExtensions(keyUsage81), "form.pem")).toThrow(expect.objectContaining({
      message: "form.pem is not DER-encoded: it has a non-minimal length (BER, not DER) in its extension 2.5.29.15",
      hint: "have the CA issue the certificate again in DER; exporting it again keeps its signed part as it is",
    }));
    const refused = {
      hint: "have the CA issue the certificate again without it; exporting it again keeps it (openssl x509 -in CERT -noout -text shows it)",
    };
    const emptyEku = derSequence(derOid("2.5.29.37"), derTlv(0x04, derSequence(derTlv(0x06, Buffer.alloc(0)))));
    expect(() => new Certificate(withExtensions(emptyEku), "eku.pem")).toThrow(expect.objectContaining({
      ...refused, message: "eku.pem has a malformed value in its extension 2.5.29.37, which AWS's certificate parser refuses",
    }));
    const bigArc = derSequence(derOid("1.3.6.1.4.1.2147483648"), derTlv(0x04, Buffer.from([0x05, 0x00])));
    expect(() => new Certificate(withExtensions(bigArc), "arc.pem")).toThrow(expect.objectContaining({
      ...refused, message: "arc.pem has a malformed value in its extension 1.3.6.1.4.1.2147483648, which AWS's certificate parser refuses",
    }));
  });

  // Go's parser reads each AlgorithmIdentifier's OID and each attribute of a name (parseAI, parseName) and refuses what
  // OpenSSL reads: an OID arc of 2^31 or more, a string of characters its type has not, two signature algorithms. go1.19.8 refuses each, but the
  // BMPString noncharacter (current Go: "invalid BMPString"); it refused a UniversalString, a BIT STRING and a SEQUENCE,
  // which current Go reads (readASN1Any, golang/go#77900).
  describe("a name or an algorithm Go's parser refuses", () => {
    const cn = (tag: number, value: string, type = "2.5.4.3") => derSequence(derTlv(0x31, derSequence(derOid(type), derTlv(tag, Buffer.from(value, "latin1")))));
    const withFields = ({ subject = name, issuer = name, algorithm = ecdsaSha256 as Buffer, key = ecSpki as Buffer, outer = undefined as Buffer | undefined }) => {
      const tbs = derSequence(derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), algorithm, issuer, validity, subject, key);
      return derSequence(tbs, outer ?? algorithm, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
    };
    const ecKeyAs = (oid: string): Buffer => derSequence(derSequence(derOid(oid), derOid("1.2.840.10045.3.1.7")), ecSpki.subarray(ecSpki.length - 68));
    it.each([
      ["subject", "a PrintableString with '@'", { subject: cn(0x13, "a@gw") }],
      ["subject", "a PrintableString with '_'", { subject: cn(0x13, "a_gw") }],
      ["issuer", "a NumericString with a letter", { issuer: cn(0x12, "12a") }],
      ["subject", "an IA5String with 80", { subject: cn(0x16, "a\x80") }],
      ["subject", "a BMPString with the noncharacter FFFE (current Go)", { subject: cn(0x1e, "\x00a\xff\xfe") }],
      ["subject", "an attribute type with an arc of 2^31", { subject: cn(0x0c, "gw", "2.5.4.2147483648") }],
      ["signature algorithm", "an arc of 2^31", { algorithm: derSequence(derOid("1.2.840.10045.4.3.2147483648")) }],
      ["signature algorithm", "outside the TBS not the one inside (go1.19.8: 'inner and outer … don't match')", { outer: derSequence(derOid("1.2.840.10045.4.3.3")) }],
      ["public key algorithm", "an arc of 2^31", { key: ecKeyAs("1.2.840.10045.2.2147483648") }],
    ])("in its %s, %s: refused, which OpenSSL reads", (where, _, fields) => {
      const der = withFields(fields);
      expect(new X509Certificate(der).serialNumber).toBe("01");
      expect(() => new Certificate(der, "n.pem")).toThrow(expect.objectContaining({
        code: "CERTIFICATE_INVALID", message: `n.pem has a malformed value in its ${where}, which AWS's certificate parser refuses`,
      }));
    });

    it("what Go reads is read: '*' and '&' in a PrintableString, T61 bytes, a BMPString's terminator, a UniversalString, a BIT STRING, a SEQUENCE, an arc under 2^31", () => {
      for (const fields of [{ subject: cn(0x13, "*.gw & co") }, { issuer: cn(0x14, "gw\xff") }, { subject: cn(0x12, "1 2") }, { subject: cn(0x1e, "\x00a\x00\x00") },
        // go1.19.8: "invalid attribute value: unsupported string type: 3" (48); current Go reads them (x500UniqueIdentifier is a BIT STRING)
        { subject: cn(0x1c, "\x00\x00\x00a") }, { subject: cn(0x03, "\x00gw", "2.5.4.45") }, { issuer: cn(0x30, "\x0c\x02gw") }, { subject: cn(0x0c, "gw", "2.5.4.2147483647") }, { algorithm: derSequence(derOid("1.2.840.10045.4.3.2147483647")) }]) {
        expect(new Certificate(withFields(fields)).serialHex).toBe("1");
      }
    });
  });

  // Round 33: OpenSSL 3.0 (Node 20) reads a time of any length as an algorithm's parameters (ANY), 3.5 (Node 22, 24)
  // refuses a short one up front ("not a valid X.509 DER structure"): the agent refuses any, alike on every Node.
  it("refuses a time as an algorithm's parameters, short or not, with the same message on every Node", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const name = derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))));
    const point = children(readSingle(ecSpki))[1]!.raw;
    for (const time of [derTlv(0x17, Buffer.from("x")), derTlv(0x18, Buffer.from("20271231235959Z"))]) {
      const algorithm = derSequence(derOid("1.2.840.10045.4.3.2"), time);
      // M39: the public key algorithm's and the outer one's were not tested (dropping either from the list survived).
      for (const [where, inner, spki, outer] of [
        ["signature algorithm", algorithm, ecSpki, algorithm],
        ["public key algorithm", ecdsaSha256, derSequence(derSequence(derOid("1.2.840.10045.2.1"), time), point), ecdsaSha256],
        ["outer signature algorithm", ecdsaSha256, ecSpki, algorithm],
      ] as const) {
        const tbs = derSequence(derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), inner, name, validity, name, spki);
        const der = derSequence(tbs, outer, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
        expect(() => new Certificate(der, "t.pem")).toThrow(expect.objectContaining({
          code: "CERTIFICATE_INVALID", message: `t.pem has a time as the parameters of its ${where}, which no algorithm has`,
          hint: "have the CA issue the certificate again",
        }));
      }
    }
    // A time elsewhere in an algorithm (its first element, or the third) is not its parameters: told otherwise.
    const later = derSequence(derOid("1.2.840.10045.4.3.2"), derTlv(0x05, Buffer.alloc(0)), derTlv(0x17, Buffer.from("x")));
    expect(() => new Certificate(certificate([1], derSequence(later, point)), "t.pem")).not.toThrow(/a time as the parameters/);
  });

  it("refuses a validity time OpenSSL cannot read (month 13), with its hint", () => {
    const month13 = derSequence(derTlv(0x17, Buffer.from("261301000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
    expect(() => new Certificate(certificate([1], undefined, month13), "m.pem")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: expect.stringMatching(/^m\.pem has a notBefore that is not a valid time/),
      hint: "the CA wrote a malformed validity date: have the certificate issued again",
    }));
  });

  it("mlDsaParameterSetForOid: the parameter set of each OID, none for another", () => {
    expect(mlDsaParameterSetForOid("2.16.840.1.101.3.4.3.18")?.name).toBe("ML-DSA-65");
    expect(mlDsaParameterSetForOid("2.16.840.1.101.3.4.3.20")).toBeUndefined();
  });

  it("signedWith: true for its key, false for another key and for a key that cannot verify at all", () => {
    const cert = new Certificate(certificate([1]));
    expect(cert.signedWith(publicKey)).toBe(true);
    expect(cert.signedWith(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey)).toBe(false);
    expect(cert.signedWith(createSecretKey(Buffer.alloc(16)) as KeyObject)).toBe(false);
  });

  it("oneLineName puts every line of a name on one", () => {
    expect(oneLineName("CN=a\nO=b\nC=c")).toBe("CN=a, O=b, C=c");
  });
});
