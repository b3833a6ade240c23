/**
 * Certificates odd in one field only, signed by a P-256 CA, and the two verdicts on them: the checks of what Go's
 * certificate parser reads (test/x509/go-*.test.ts, each case judged by go1.19.8 or current Go's parser.go).
 */
import { createSign, generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { expect } from "vitest";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { Certificate } from "../../src/x509/certificate.js";

export const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
export const name = derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))));
export const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
export const ca = generateKeyPairSync("ec", { namedCurve: "P-256" });
export const spkiOf = (key: KeyObject): Buffer => key.export({ type: "spki", format: "der" });
export const caSpki = spkiOf(ca.publicKey);
export const int = (...bytes: number[]) => derTlv(0x02, Buffer.from(bytes));
/** The fields before the serial for this version INTEGER: `[0] EXPLICIT`. */
export const versionField = (integer: Buffer) => [derTlv(0xa0, integer)];
/** A non-minimal length (BER: `81 xx` for a length under 128), which OpenSSL and Go's skipped fields read. */
/** The same element with its short length written in long form (`81 xx`): BER, not DER. */
export const longForm = (el: Buffer) => Buffer.concat([Buffer.from([el[0]!, 0x81, el[1]!]), el.subarray(2)]);
export const berTlv = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag, 0x81, content.length]), content]);

type TbsOptions = { version?: Buffer[]; serial?: Buffer; subject?: Buffer; spki?: Buffer; after?: Buffer[]; extensions?: Buffer[] };
export const signed = (tbs: Buffer) => derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(ca.privateKey)));
/** The signed part: v3 by default (`version: []` is a v1 one), `after` the fields between the key and the extensions. */
export const tbsOf = ({ version = versionField(int(2)), serial = int(1), subject = name, spki = caSpki, after = [], extensions = [] }: TbsOptions = {}) =>
  derSequence(...version, serial, ecdsaSha256, name, times, subject, spki, ...after, ...(extensions.length ? [derTlv(0xa3, derSequence(...extensions))] : []));
export const certificate = (options: TbsOptions = {}) => signed(tbsOf(options));
export const extension = (oid: string, value: Buffer) => derSequence(derOid(oid), derTlv(0x04, value));
/** A v3 certificate with this one extension. */
export const withExtension = (oid: string, value: Buffer) => certificate({ extensions: [extension(oid, value)] });

export const read = (der: Buffer) => expect(new Certificate(der, "gw.der").subject).toBe("CN=gw");
export const refused = (der: Buffer, where: string) => {
  new X509Certificate(der); // OpenSSL reads it: the agent's own check refuses it
  expect(() => new Certificate(der, "gw.der")).toThrow(expect.objectContaining({
    code: "CERTIFICATE_INVALID", message: `gw.der has a malformed value in its ${where}, which AWS's certificate parser refuses`,
  }));
};

// Chains of the shapes the reader newly reads (round 30), for the verifiers that take them after the reader: the local
// endpoint in-process and through the shipped CLI (test/local-endpoint/ and native-test/go-form-shapes.m33.test.ts).
export const atv = (oid: string, value: Buffer) => derTlv(0x31, derSequence(derOid(oid), value));
export const cn = (s: string) => derSequence(atv("2.5.4.3", derTlv(0x0c, Buffer.from(s))));
export const ext = (oid: string, value: Buffer, critical = false) =>
  derSequence(derOid(oid), ...(critical ? [derTlv(0x01, Buffer.from([0xff]))] : []), derTlv(0x04, value));
/** The value followed by a NULL, which Go's parser does not read. */
export const tail = (value: Buffer) => Buffer.concat([value, Buffer.from([0x05, 0x00])]);
const utc = (d: Date) => derTlv(0x17, Buffer.from(d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*/, "$1$2$3$4$5$6Z")));
/** From an hour ago to a day from now. */
export const validNow = derSequence(utc(new Date(Date.now() - 3600_000)), utc(new Date(Date.now() + 86400_000)));
let serial = 10;
export function issue(issuer: Buffer, subject: Buffer, key: KeyObject, signer: KeyObject, extensions: Buffer[], version = versionField(int(2))): Buffer {
  const tbs = derSequence(...version, int(serial++), ecdsaSha256, issuer, validNow, subject, spkiOf(key),
    ...(extensions.length ? [derTlv(0xa3, derSequence(...extensions))] : []));
  return derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(signer)));
}
export const pem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`;
export const caExtensions = [ext("2.5.29.19", derSequence(derTlv(0x01, Buffer.from([0xff]))), true), ext("2.5.29.15", derTlv(0x03, Buffer.from([0x01, 0x06])), true)];
export const leafKeyUsage = ext("2.5.29.15", derTlv(0x03, Buffer.from([0x07, 0x80])), true);
const crl = derTlv(0x86, Buffer.from("http://crl.example/ca.crl"));
/** Every value shape the reader newly reads, in one set of extensions. */
export const newlyRead = [
  ext("2.5.29.14", tail(derTlv(0x04, Buffer.from("0123456789abcdef0123")))),
  ext("2.5.29.35", tail(derSequence(derTlv(0x80, Buffer.from("0123456789abcdef0123"))))),
  ext("1.3.6.1.5.5.7.1.1", tail(derSequence(derSequence(derOid("1.3.6.1.5.5.7.48.1"), derTlv(0x86, Buffer.from("http://ocsp.example/")), int(1))))),
  ext("2.5.29.31", tail(derSequence(derSequence(derTlv(0xa0, derTlv(0xa0, crl)), derTlv(0x81, Buffer.from([0x01, 0x61])), derTlv(0xa2, berTlv(0xa4, cn("crl"))))))),
  ext("2.5.29.32", derSequence(derSequence(derOid("2.5.29.32.0"), Buffer.from([0xff])))),
  ext("2.5.29.18", berTlv(0x30, derTlv(0x82, Buffer.from("gw.example")))),
  ext("2.5.29.46", Buffer.from([0x30])),
  ext("1.3.6.1.5.5.7.1.24", Buffer.from([0x01])),
];
