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
