import { createSign, generateKeyPairSync, X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { Certificate } from "../../src/x509/certificate.js";
import * as goForm from "../helpers/go-form.js";
import { berTlv, ca, caSpki as spki, certificate, ecdsaSha256, int, name, signed as sign, tbsOf, times, withExtension } from "../helpers/go-form.js";

// Round 30's mutation of round 30's changes to what the certificate reader reads (F9: the TBS form filter, the values
// read as far as Go reads them). Each case is a wrong line the tests before let through. Oracle: go1.19.8's
// x509.ParseCertificate on the same DER where it parses the extension, else current Go's parser.go (quoted).
/** M33_GO_DIR=dir writes each case, named by its verdict, for go1.19.8 to judge (/tmp/goodd/main.go: go run main.go dir/*.der). */
const dump = (der: Buffer, verdict: string) => {
  if (process.env["M33_GO_DIR"]) writeFileSync(`${process.env["M33_GO_DIR"]}/${expect.getState().currentTestName!.replace(/\W+/g, "_").slice(0, 60)}-${Math.random().toString(36).slice(2, 6)}.${verdict}.der`, der);
};
const read = (der: Buffer) => {
  dump(der, "read");
  goForm.read(der);
};
const refused = (der: Buffer, where: string) => {
  dump(der, "refused");
  goForm.refused(der, where);
};
const notDer = (der: Buffer, hint: RegExp) => {
  dump(der, "refused");
  new X509Certificate(der);
  expect(() => new Certificate(der, "gw.der")).toThrow(expect.objectContaining({
    code: "CERTIFICATE_INVALID", message: expect.stringMatching(/^gw\.der is not DER-encoded: it has a non-minimal length/), hint: expect.stringMatching(hint),
  }));
};
const formError = (der: Buffer, message: RegExp) => {
  dump(der, "refused");
  new X509Certificate(der);
  expect(() => new Certificate(der, "gw.der")).toThrow(expect.objectContaining({ code: "CERTIFICATE_INVALID", message: expect.stringMatching(message) }));
};
/** The same element with a length one byte longer than it needs (`81 xx` for `xx`, `82 00 xx` for `81 xx`). */
const padded = (el: Buffer) => {
  const lengthBytes = el[1]! & 0x80 ? el[1]! & 0x7f : 0;
  const length = lengthBytes ? el.subarray(2, 2 + lengthBytes) : el.subarray(1, 2);
  return Buffer.concat([Buffer.from([el[0]!, 0x80 | (lengthBytes + 1)]), lengthBytes ? Buffer.from([0]) : Buffer.alloc(0), length, el.subarray(2 + lengthBytes)]);
};

describe("the signed part's form, as far as Go reads it (parseCertificate)", () => {
  it("the signed part's own length in BER is refused: Go reads it with ReadASN1Element ('malformed tbs certificate')", () => {
    notDer(sign(padded(tbsOf())), /in DER; exporting it again keeps its signed part/);
  });

  it("the signature algorithm outside the signed part in BER is refused ('malformed algorithm identifier')", () => {
    const tbs = tbsOf();
    const signature = derBitString(createSign("sha256").update(tbs).sign(ca.privateKey));
    notDer(derSequence(tbs, padded(ecdsaSha256), signature), /export the certificate again/);
    notDer(derSequence(tbs, ecdsaSha256, padded(signature)), /export the certificate again/);
  });

  it("a v1 certificate's validity or subject with a BER length is refused: Go reads them in every version ('malformed validity')", () => {
    const tbs = (validity: Buffer, subject: Buffer) => derSequence(int(1), ecdsaSha256, name, validity, subject, spki);
    notDer(sign(tbs(padded(times), name)), /in DER/);
    notDer(sign(tbs(times, padded(name))), /in DER/);
  });

  it("a v1 certificate without a version field whose serial ends in 02 has its BER extensions read (its version is 0, not the serial's byte)", () => {
    const ber = [berTlv(0x30, Buffer.concat([derOid("2.5.29.15"), derTlv(0x04, derTlv(0x03, Buffer.from([0x07, 0x80])))]))];
    read(certificate({ version: [], serial: int(2), extensions: ber }));
    read(certificate({ version: [], serial: int(1), extensions: ber }));
  });

  // parseCertificate: `if cert.Version > 1 { SkipOptionalASN1([1]) … SkipOptionalASN1([2]) … }`: a v1 certificate's
  // unique IDs are never read, a v2 or v3 one's are skipped as elements (their length read, so in DER)
  it("a v1 certificate's issuer or subject unique ID with a BER length is read, a v2 or v3 one's refused ('malformed issuerUniqueID')", () => {
    for (const tag of [0x81, 0x82]) {
      read(certificate({ version: [derTlv(0xa0, int(0))], after: [berTlv(tag, Buffer.from([0, 1]))] }));
      read(certificate({ version: [], after: [berTlv(tag, Buffer.from([0, 1]))] }));
      for (const version of [1, 2]) {
        formError(certificate({ version: [derTlv(0xa0, int(version))], after: [berTlv(tag, Buffer.from([0, 1]))] }), /^gw\.der is not DER-encoded: it has a non-minimal length/);
      }
      read(certificate({ version: [derTlv(0xa0, int(1))], after: [derTlv(tag, Buffer.from([0, 1]))] }));
    }
  });
});

describe("basicConstraints and policyConstraints as Go reads them: each element optional, read where it is", () => {
  const ca01 = derTlv(0x01, Buffer.from([0x01]));
  const caTrue = derTlv(0x01, Buffer.from([0xff]));
  it("an empty basicConstraints or one of a cA alone is read (Go: no cA, no pathLen)", () => {
    read(withExtension("2.5.29.19", derSequence()));
    read(withExtension("2.5.29.19", derSequence(caTrue)));
    read(withExtension("2.5.29.36", derSequence()));
  });

  it("a cA BOOLEAN of 01, a basicConstraints SEQUENCE with a BER length are refused ('invalid basic constraints')", () => {
    formError(withExtension("2.5.29.19", derSequence(ca01, int(0))), /BOOLEAN that is neither 00 nor FF in its extension 2\.5\.29\.19/);
    notDer(withExtension("2.5.29.19", berTlv(0x30, caTrue)), /in DER/);
  });

  it("a pathLen of 0x80 is negative and refused, with or without a cA before it; of 0x7f read (current Go reads it into a uint: 'invalid basic constraints')", () => {
    refused(withExtension("2.5.29.19", derSequence(caTrue, int(0x80))), "extension 2.5.29.19");
    refused(withExtension("2.5.29.19", derSequence(int(0x80))), "extension 2.5.29.19");
    read(withExtension("2.5.29.19", derSequence(caTrue, int(0x7f))));
  });

  // current Go's processExtensions case 36 reads requireExplicitPolicy [0] then inhibitPolicyMapping [1] with
  // ReadASN1Int64WithTag (minimal integers of at most 8 bytes), nothing after them; go1.19 did not parse it
  it("a policyConstraints [0] or [1] that is no minimal integer is refused; bytes after them in BER, read", () => {
    for (const tag of [0x80, 0x81]) formError(withExtension("2.5.29.36", derSequence(derTlv(tag, Buffer.from([0, 1])))), /non-minimal INTEGER in its extension 2\.5\.29\.36/);
    refused(withExtension("2.5.29.36", derSequence(derTlv(0x80, Buffer.from([0])), derTlv(0x81, Buffer.alloc(9, 1)))), "extension 2.5.29.36");
    read(withExtension("2.5.29.36", derSequence(derTlv(0x80, Buffer.from([0])), derTlv(0x81, Buffer.from([0])), berTlv(0x02, Buffer.from([0])))));
    read(withExtension("2.5.29.36", derSequence(derTlv(0x81, Buffer.from([0])), berTlv(0x02, Buffer.from([0])))));
    notDer(withExtension("2.5.29.36", berTlv(0x30, derTlv(0x80, Buffer.from([0])))), /in DER/);
  });
});

describe("a CRL distribution point and a policy mapping as Go reads them", () => {
  const uri = (s: string) => derTlv(0x86, Buffer.from(s));
  const points = (...fullName: Buffer[]) => derSequence(derSequence(derTlv(0xa0, derTlv(0xa0, Buffer.concat(fullName)))));
  it("a fullName of two URIs is read; the points, a point's name or its fullName with a BER length refused ('invalid CRL distribution point')", () => {
    read(withExtension("2.5.29.31", points(uri("http://a.example/"), uri("http://crl.b.example/ca.crl"))));
    read(withExtension("2.5.29.31", points(uri("http://crl.b.example/ca.crl"), uri("http://a.example/"), berTlv(0xa4, name))));
    notDer(withExtension("2.5.29.31", points(uri("http://crl.b.example/ca.crl"), berTlv(0x86, Buffer.from("http://a.example/")))), /in DER/);
    notDer(withExtension("2.5.29.31", berTlv(0x30, derSequence(derTlv(0xa0, derTlv(0xa0, uri("http://a.example/")))))), /in DER/);
    notDer(withExtension("2.5.29.31", derSequence(derSequence(berTlv(0xa0, derTlv(0xa0, uri("http://a.example/")))))), /in DER/);
    notDer(withExtension("2.5.29.31", derSequence(derSequence(derTlv(0xa0, berTlv(0xa0, uri("http://a.example/")))))), /in DER/);
  });

  // current Go, processExtensions case 33: `!val.ReadASN1(&s, SEQUENCE) || !s.ReadASN1(&issuer, OBJECT_IDENTIFIER) ||
  // !s.ReadASN1(&subject, OBJECT_IDENTIFIER)`: 'invalid policy mappings extension'
  it("policy mappings in BER, or a mapping whose policy is no OID, are refused", () => {
    notDer(withExtension("2.5.29.33", berTlv(0x30, derSequence(derOid("1.2.3.4"), derOid("1.2.3.5")))), /in DER/);
    notDer(withExtension("2.5.29.33", derSequence(derSequence(derOid("1.2.3.4"), berTlv(0x06, Buffer.from([0x2a, 0x03]))))), /in DER/);
    refused(withExtension("2.5.29.33", derSequence(derSequence(derOid("1.2.3.4"), int(1)))), "extension 2.5.29.33");
  });
});

describe("policies, access descriptions and inhibitAnyPolicy as Go reads them", () => {
  it("an empty policy or access description is refused as malformed, not an internal error ('invalid certificate policies', '… authority info access')", () => {
    refused(withExtension("2.5.29.32", derSequence(derSequence())), "extension 2.5.29.32");
    refused(withExtension("1.3.6.1.5.5.7.1.1", derSequence(derSequence())), "extension 1.3.6.1.5.5.7.1.1");
  });

  it("an access location that is no URI is never read: its BER length is read", () => {
    read(withExtension("1.3.6.1.5.5.7.1.1", derSequence(derSequence(derOid("1.3.6.1.5.5.7.48.2"), berTlv(0xa4, name)))));
  });

  it("an access method whose arc does not fit 31 bits is refused ('invalid authority info access')", () => {
    const method = derTlv(0x06, Buffer.from([0x2b, 0x88, 0x80, 0x80, 0x80, 0x00]));
    refused(withExtension("1.3.6.1.5.5.7.1.1", derSequence(derSequence(method, derTlv(0x86, Buffer.from("http://o.example/"))))), "extension 1.3.6.1.5.5.7.1.1");
  });

  // current Go, processExtensions case 54: `val.ReadASN1Integer(&out.InhibitAnyPolicy)` into an int
  it("an inhibitAnyPolicy of 8 bytes is read, of 9 refused ('invalid inhibit any policy extension')", () => {
    read(withExtension("2.5.29.54", int(0x7f, 1, 2, 3, 4, 5, 6, 7)));
    refused(withExtension("2.5.29.54", int(0x7f, 1, 2, 3, 4, 5, 6, 7, 8)), "extension 2.5.29.54");
  });
});

describe("an RSA key as Go's parsePublicKey reads it", () => {
  // `der.ReadASN1(&der, cryptobyte_asn1.SEQUENCE)` keeps the SEQUENCE and drops what follows it; OpenSSL reads the key
  it("bytes after the RSA key's SEQUENCE inside its BIT STRING are read (go1.19.8: OK), as OpenSSL reads them", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "pkcs1", format: "der" });
    const key = derSequence(derSequence(derOid("1.2.840.113549.1.1.1"), Buffer.from([5, 0])), derBitString(Buffer.concat([rsa, Buffer.from([5, 0])])));
    const der = sign(derSequence(derTlv(0xa0, int(2)), int(1), ecdsaSha256, name, times, name, key));
    expect(new X509Certificate(der).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    read(der);
  });
});

describe("the extensions whose whole value Go reads, and keyUsage's type", () => {
  // module-level tables, which Stryker's runner does not switch: each entry removed by hand
  it("a keyUsage BIT STRING is read", () => {
    read(withExtension("2.5.29.15", derTlv(0x03, Buffer.from([0x07, 0x80]))));
  });

  it("bytes after a nameConstraints value are refused ('invalid NameConstraints extension': `!outer.Empty()`)", () => {
    const constraints = derSequence(derTlv(0xa0, derSequence(derSequence(derTlv(0x82, Buffer.from("example.com"))))));
    read(withExtension("2.5.29.30", constraints));
    refused(withExtension("2.5.29.30", Buffer.concat([constraints, Buffer.from([0x05, 0x00])])), "extension 2.5.29.30");
  });
});
