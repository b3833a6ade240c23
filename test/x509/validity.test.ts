import { describe, expect, it } from "vitest";
import { checkCertificateValidity, expiryWarning, roughDuration, utc } from "../../src/x509/validity.js";
import { AgentError } from "../../src/errors.js";

const cert = { subject: "CN=gw-0042", notBefore: new Date("2026-01-01T00:00:00Z"), notAfter: new Date("2026-12-31T00:00:00Z") };

function thrown(f: () => void): AgentError {
  try {
    f();
  } catch (e) {
    return e as AgentError;
  }
  throw new Error("did not throw");
}

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
    expect(roughDuration(45_000)).toBe("45 s");
    expect(roughDuration(3_660_000)).toBe("1 h 1 min");
    expect(roughDuration(90_061_000)).toBe("1 d 1 h");
    expect(utc(new Date("2026-12-02T15:04:05.678Z"))).toBe("2026-12-02 15:04:05 UTC");
  });
});
