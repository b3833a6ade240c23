/** The TBSCertificate walk on hand-built DER: v1 and v3 layouts, unique IDs, extensions with and without `critical`. */
import { describe, expect, it } from "vitest";
import { DerError } from "../../src/encoding/der.js";
import { derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { readExtensions, readSpki, readTbsFields } from "../../src/x509/tbs-fields.js";

const int = (n: number) => derTlv(0x02, Buffer.from([n]));
const name = (cn: string) => derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from(cn)))));
const ecAlgorithm = derSequence(derOid("1.2.840.10045.2.1"), derOid("1.2.840.10045.3.1.7"));
const spki = derSequence(ecAlgorithm, derTlv(0x03, Buffer.from([0, 4])));
const algorithm = derSequence(derOid("1.2.840.10045.4.3.2"));
const extension = (oid: string, ...rest: Buffer[]) => derSequence(derOid(oid), ...rest);
const certificate = (...tbs: Buffer[]) => derSequence(derSequence(...tbs), algorithm, derTlv(0x03, Buffer.from([0])));
const v1 = [int(7), algorithm, name("issuer"), derSequence(), name("subject"), spki];

describe("readTbsFields", () => {
  it("reads a v1 certificate (no version, no extensions)", () => {
    const fields = readTbsFields(certificate(...v1));
    expect(fields.serial.content).toEqual(Buffer.from([7]));
    expect(fields.issuer.raw).toEqual(name("issuer"));
    expect(fields.subject.raw).toEqual(name("subject"));
    expect(fields.subjectPublicKeyInfo.raw).toEqual(spki);
    expect(fields.extensions).toBeUndefined();
  });

  it("reads a v3 certificate, its extensions after the unique IDs", () => {
    const extensions = derTlv(0xa3, derSequence(extension("2.5.29.19", derTlv(0x04, derSequence()))));
    const uniqueIds = [derTlv(0x81, Buffer.from([0])), derTlv(0x82, Buffer.from([0]))];
    const v3 = [derTlv(0xa0, int(2)), ...v1, ...uniqueIds, extensions];
    const fields = readTbsFields(certificate(...v3));
    expect(fields.serial.content).toEqual(Buffer.from([7]));
    expect(fields.subject.raw).toEqual(name("subject"));
    expect(fields.extensions?.raw).toEqual(extensions);
  });

  it("refuses a field of the wrong type, an empty TBSCertificate and trailing bytes, with a DerError", () => {
    expect(() => readTbsFields(certificate())).toThrow(DerError);
    expect(() => readTbsFields(certificate(derSequence(), ...v1.slice(1)))).toThrow("expected DER tag 0x2");
    const intIssuer = certificate(...v1.slice(0, 2), int(1), ...v1.slice(3));
    expect(() => readTbsFields(intIssuer)).toThrow("expected DER tag 0x30");
    expect(() => readTbsFields(certificate(...v1.slice(0, 4), int(1), spki))).toThrow("expected DER tag 0x30");
    expect(() => readTbsFields(certificate(...v1.slice(0, 5)))).toThrow("missing DER element");
    expect(() => readTbsFields(Buffer.concat([certificate(...v1), Buffer.from([0])]))).toThrow("trailing data");
  });
});

describe("readExtensions and readSpki", () => {
  it("give each extension's OID and its last element (the value, after an optional critical flag)", () => {
    const value = derTlv(0x04, Buffer.from([1]));
    const critical = derTlv(0x01, Buffer.from([0xff]));
    const list = derTlv(0xa3, derSequence(extension("2.5.29.15", critical, value), extension("2.5.29.17", value)));
    const read = readExtensions(readTbsFields(certificate(derTlv(0xa0, int(2)), ...v1, list)).extensions);
    expect(read.map((e) => [e.oid, e.value?.raw])).toEqual([["2.5.29.15", value], ["2.5.29.17", value]]);
    expect(readExtensions(undefined)).toEqual([]);
  });

  it("readSpki: the SubjectPublicKeyInfo's DER and algorithm OID", () => {
    expect(readSpki(certificate(...v1))).toEqual({ der: spki, algorithmOid: "1.2.840.10045.2.1" });
  });
});
