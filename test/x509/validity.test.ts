import { describe, expect, it } from "vitest";
import { checkCertificateValidity, expiryWarning, roughDuration, utc } from "../../src/x509/validity.js";
import { createSign, generateKeyPairSync } from "node:crypto";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { Certificate } from "../../src/x509/certificate.js";
import { thrown } from "../helpers/agent-error.js";

/** A self-signed certificate whose validity holds these times as written (UTCTime 0x17, GeneralizedTime 0x18). */
function certificateWithValidity(notBefore: [number, string], notAfter: [number, string]): Buffer {
  const time = ([tag, text]: [number, string]) => derTlv(tag, Buffer.from(text, "latin1"));
  return certificateWith(derSequence(time(notBefore), time(notAfter)));
}

/** A self-signed certificate with this validity element, v3 or (without its version field) v1. */
function certificateWith(validity: Buffer, v1 = false): Buffer {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
  const name = derTlv(0x30, derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))));
  const version = v1 ? [] : [derTlv(0xa0, derTlv(0x02, Buffer.from([2])))];
  const tbs = derSequence(
    ...version, derTlv(0x02, Buffer.from([1])), ecdsaSha256, name, validity, name, publicKey.export({ type: "spki", format: "der" }),
  );
  const signature = createSign("sha256").update(tbs).sign(privateKey);
  return derSequence(tbs, ecdsaSha256, derBitString(signature));
}

const cert = { subject: "CN=gw-0042", notBefore: new Date("2026-01-01T00:00:00Z"), notAfter: new Date("2026-12-31T00:00:00Z") };

describe("certificate validity", () => {
  it("passes inside the validity period, at both edges", () => {
    expect(() => checkCertificateValidity(cert, new Date("2026-06-01T00:00:00Z"))).not.toThrow();
    expect(() => checkCertificateValidity(cert, cert.notBefore)).not.toThrow();
    expect(() => checkCertificateValidity(cert, cert.notAfter)).not.toThrow();
  });

  it("expired: input error (exit 3) with both dates, the clock and how long ago", () => {
    const e = thrown(() => checkCertificateValidity(cert, new Date("2027-01-02T03:00:00Z")));
    expect(e.code).toBe("CERTIFICATE_EXPIRED");
    expect(e.category).toBe("input");
    expect(e.toOneLine()).toBe(
      "the certificate (CN=gw-0042) expired 2 d 3 h ago (valid from 2026-01-01 00:00:00 UTC to 2026-12-31 00:00:00 UTC; this machine's clock says 2027-01-02 03:00:00 UTC) (install a renewed certificate (or, if the clock is wrong, fix it with NTP))",
    );
  });

  it("not yet valid: names the clock as the likely culprit", () => {
    const e = thrown(() => checkCertificateValidity(cert, new Date("2025-12-31T23:40:00Z")));
    expect(e.code).toBe("CERTIFICATE_NOT_YET_VALID");
    expect(e.category).toBe("input");
    expect(e.message).toMatch(/is not valid for another 20 min \(valid from 2026-01-01 00:00:00 UTC to .*clock says 2025-12-31 23:40:00 UTC\)/);
    expect(e.hint).toMatch(/clock/);
  });

  it("warns inside the window only, and not once expired", () => {
    const window = 14 * 86_400_000;
    expect(expiryWarning(cert, new Date("2026-12-01T00:00:00Z"), window)).toBeUndefined();
    expect(expiryWarning(cert, new Date("2026-12-30T23:40:00Z"), window)).toBe(
      "warning: the certificate (CN=gw-0042) expires in 20 min (not after 2026-12-31 00:00:00 UTC): renew it before then",
    );
    expect(expiryWarning(cert, new Date("2026-12-17T00:00:00Z"), window)).toMatch(/expires in 14 d/);
    expect(expiryWarning(cert, new Date("2027-01-01T00:00:00Z"), window)).toBeUndefined();
  });

  it("durations and dates in one format", () => {
    expect(roughDuration(0)).toBe("0 s");
    // Before: "0 s" — a certificate issued by a CA 0.4 s ahead was "not valid for another 0 s".
    expect(roughDuration(400)).toBe("1 s");
    expect(roughDuration(-1)).toBe("1 s");
    const fresh = thrown(() => checkCertificateValidity(cert, new Date(cert.notBefore.getTime() - 400)));
    expect(fresh.message).toMatch(/is not valid for another 1 s \(/);
    expect(roughDuration(45_000)).toBe("45 s");
    expect(roughDuration(3_660_000)).toBe("1 h 1 min");
    expect(roughDuration(90_061_000)).toBe("1 d 1 h");
    expect(utc(new Date("2026-12-02T15:04:05.678Z"))).toBe("2026-12-02 15:04:05 UTC");
  });

  it("reads validity dates in both encodings, at their edges (RFC 5280 4.1.2.5), refuses what OpenSSL cannot", () => {
    const [U, G] = [0x17, 0x18];
    const dates = (notAfter: [number, string]) => {
      const c = new Certificate(certificateWithValidity([U, "500101000000Z"], notAfter));
      return [c.notBefore.toISOString(), c.notAfter.toISOString()];
    };
    expect(dates([U, "491231235959Z"])).toEqual(["1950-01-01T00:00:00.000Z", "2049-12-31T23:59:59.000Z"]);
    expect(dates([G, "20500101000000Z"])[1]).toBe("2050-01-01T00:00:00.000Z");
    expect(dates([G, "99991231235959Z"])[1]).toBe("9999-12-31T23:59:59.000Z"); // "no well-defined expiration"
    expect(dates([G, "20380119031408Z"])[1]).toBe("2038-01-19T03:14:08.000Z");
    // RFC 5280 4.1.2.5.2: a GeneralizedTime MUST NOT have a fraction, and Go's parser (AWS's) refuses one; OpenSSL reads it.
    expect(() => dates([G, "20271231235959.5Z"])).toThrow("is not DER-encoded: it has a UTCTime or GeneralizedTime not in DER form");
    // Before: Date read OpenSSL's "Jan  1 00:00:00 1 GMT" as 2001.
    expect(dates([G, "00010101000000Z"])[1]).toBe("0001-01-01T00:00:00.000Z");
    // Before: a leap second, month 13, no Z or a short time gave Invalid Date: "internal error: Invalid time value".
    // Round 33: Node 22 and 24 (OpenSSL 3.5) refused a time without Z or seconds up front ("not a valid X.509 DER
    // structure") and Node 20 read a UTCTime without seconds: the agent reads the times itself, alike on every Node.
    for (const bad of ["271231235960Z", "271331235959Z", "271231235959", "27123123595Z", "2712312359Z", "2712312359+0100", "", "270229000000Z", "271231235959+1300", "271231235959+0160", "271231235959.5Z", "271231235959Z0"]) {
      expect(() => new Certificate(certificateWithValidity([U, "261101000000Z"], [U, bad]), "cert.pem")).toThrow(
        expect.objectContaining({
          code: "CERTIFICATE_INVALID",
          message: `cert.pem has a notAfter that is not a valid time ('${bad}')`,
          hint: "the CA wrote a malformed validity date: have the certificate issued again",
        }),
      );
    }
    for (const bad of ["20271231235960Z", "20271231235959", "20270229000000Z", "19000229000000Z"]) {
      expect(() => new Certificate(certificateWithValidity([G, bad], [U, "361101000000Z"]), "cert.pem")).toThrow(
        `cert.pem has a notBefore that is not a valid time ('${bad}')`,
      );
    }
    expect(() => new Certificate(certificateWithValidity([U, "261101000000Z"], [U, "2712312359\x1b[31m"]), "c.pem")).toThrow(
      "c.pem has a notAfter that is not a valid time (15 bytes)",
    );
    expect(() => new Certificate(certificateWithValidity([U, "261101000000Z"], [U, `27123123595${"9".repeat(18)}Z`]), "c.pem")).toThrow(
      "c.pem has a notAfter that is not a valid time (30 bytes)",
    );
    // What DER forbids in a time is told as such on every Node (Node 22 and 24 refused one without seconds up front).
    for (const bad of ["202712312359Z", "20271231235959-0000"]) {
      expect(() => dates([G, bad])).toThrow("is not DER-encoded: it has a UTCTime or GeneralizedTime not in DER form");
    }
    // An offset, as Go's parser and OpenSSL read it; a leap day.
    expect(dates([U, "271231235959+0100"])[1]).toBe("2027-12-31T22:59:59.000Z");
    expect(dates([U, "271231000000-1259"])[1]).toBe("2027-12-31T12:59:00.000Z");
    expect(dates([G, "20000229000000Z"])[1]).toBe("2000-02-29T00:00:00.000Z");
    expect(dates([G, "00000101000000Z"])[1]).toBe("0000-01-01T00:00:00.000Z");
  });

  // Round 34 (M39): Stryker's survivors in validityTime. Each time below is one OpenSSL 3.0 refuses ('Bad time value',
  // `openssl x509 -noout -enddate`) or reads as the date given; none is one DER forbids, so the agent's reading decides.
  it("refuses what is no digit where one belongs, though Number() reads it ('5.', ' 5', NBSP, '+7'), and an offset not of 4 digits", () => {
    const notAfter = (tag: number, text: string) => () => new Certificate(certificateWithValidity([0x17, "261101000000Z"], [tag, text]), "c.pem");
    for (const bad of ["27123123595.Z", "2712312359 5Z", "+71231235959Z", "271231235959+01000", "271231235959x0100", "271231235959 0100", "2712312359591234567890ZZ"]) {
      expect(notAfter(0x17, bad)).toThrow(`c.pem has a notAfter that is not a valid time ('${bad}')`);
    }
    expect(notAfter(0x17, "2712312359\xa05Z")).toThrow("c.pem has a notAfter that is not a valid time (13 bytes)");
    expect(notAfter(0x17, "27123123595\x7fZ")).toThrow("c.pem has a notAfter that is not a valid time (13 bytes)");
    expect(notAfter(0x17, "27123123595~Z")).toThrow("c.pem has a notAfter that is not a valid time ('27123123595~Z')");
    expect(notAfter(0x17, "2712312359591234567890ZZZ")).toThrow("c.pem has a notAfter that is not a valid time (25 bytes)");
    // Day 0, hour 24, minute 60 (OpenSSL: 'Bad time value').
    for (const bad of ["271200235959Z", "271231240000Z", "271231236000Z", "20271200235959Z", "20271231240000Z", "20271231236000Z"]) {
      expect(notAfter(bad.length === 13 ? 0x17 : 0x18, bad)).toThrow(`c.pem has a notAfter that is not a valid time ('${bad}')`);
    }
    // A time in a PrintableString is no time, though its text is a GeneralizedTime's (OpenSSL: 'Could not read certificate').
    expect(notAfter(0x13, "20271231235959Z")).toThrow("c.pem has a notAfter that is not a valid time ('20271231235959Z')");
  });

  it("reads a leap day of a year divisible by 4 but not 100, and the last second of a day", () => {
    const dates = (notAfter: [number, string]) => new Certificate(certificateWithValidity([0x17, "500101000000Z"], notAfter)).notAfter.toISOString();
    expect(dates([0x17, "240229000000Z"])).toBe("2024-02-29T00:00:00.000Z");
    expect(dates([0x18, "20240229235959Z"])).toBe("2024-02-29T23:59:59.000Z");
    expect(dates([0x17, "270101235900Z"])).toBe("2027-01-01T23:59:00.000Z");
  });

  it("a validity without notAfter, or that is no SEQUENCE: '(none)'; a v1 certificate's (no version field) is read", () => {
    const one = derSequence(derTlv(0x17, Buffer.from("261101000000Z")));
    expect(() => new Certificate(certificateWith(one), "c.pem")).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "c.pem has a notAfter that is not a valid time (none)",
    }));
    expect(() => new Certificate(certificateWith(derTlv(0x05, Buffer.alloc(0))), "c.pem")).toThrow("c.pem has a notBefore that is not a valid time (none)");
    const times = derSequence(derTlv(0x17, Buffer.from("261101000000Z")), derTlv(0x18, Buffer.from("20361231235959Z")));
    const v1 = new Certificate(certificateWith(times, true));
    expect([v1.notBefore.toISOString(), v1.notAfter.toISOString()]).toEqual(["2026-11-01T00:00:00.000Z", "2036-12-31T23:59:59.000Z"]);
  });
});
