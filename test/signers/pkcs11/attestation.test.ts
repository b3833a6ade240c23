import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAttestation, withoutAttestation } from "../../../src/signers/pkcs11/attestation.js";
import { parsePkcs11Uri } from "../../../src/pkcs11/uri.js";
import { Certificate } from "../../../src/x509/certificate.js";
import { readExtensions, readTbsFields } from "../../../src/x509/tbs-fields.js";
import { createCa, issueLeaf, makeTempDir } from "../../helpers/pki.js";

const tmp = makeTempDir("raa-attestation-");
let device: Certificate;
let attestation: Certificate;

const der = (path: string) => new Certificate(execFileSync("openssl", ["x509", "-in", path, "-outform", "DER"]));

beforeAll(() => {
  const ca = createCa(join(tmp.dir, "ca"), { name: "Device CA" });
  device = der(issueLeaf(ca, tmp.dir, { name: "device" }).certPath);
  // What a YubiKey's per-slot attestation carries (firmware version, serial, policies, form factor).
  attestation = der(
    issueLeaf(ca, tmp.dir, {
      name: "YubiKey PIV Attestation 9a",
      extensions: ["1.3.6.1.4.1.41482.3.3=DER:05:04:03", "1.3.6.1.4.1.41482.3.7=DER:02:04:00:9b:40:0c", "1.3.6.1.4.1.41482.3.8=DER:02:02"],
    }).certPath,
  );
});
afterAll(() => tmp.cleanup());

describe("readExtensions", () => {
  const extensionOids = (der: Buffer) => readExtensions(readTbsFields(der).extensions).map((e) => e.oid);
  it("lists every extension's OID in order", () => {
    expect(extensionOids(device.der)).toEqual(["2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.14", "2.5.29.35"]);
    expect(extensionOids(attestation.der).slice(0, 3)).toEqual(["1.3.6.1.4.1.41482.3.3", "1.3.6.1.4.1.41482.3.7", "1.3.6.1.4.1.41482.3.8"]);
  });
});

describe("PIV attestation objects", () => {
  it.each([
    ["X.509 Certificate for PIV Attestation", true],
    ["X.509 Certificate for PIV Attestation 9a", true],
    ["Private key for PIV Attestation", true],
    ["X.509 Certificate for PIV Authentication", false],
    ["Certificate for Digital Signature", false],
  ])("%s is an attestation object by its label: %s", (label, expected) => {
    expect(isAttestation({ label })).toBe(expected);
  });

  it("a certificate with Yubico's attestation extensions is one whatever its label", () => {
    expect(isAttestation({ label: "slot 9a", certificate: attestation })).toBe(true);
    expect(isAttestation({ label: "slot 9a", certificate: device })).toBe(false);
  });

  it("attestation objects are left out unless the URI names one by its label (the search already matched the label)", () => {
    const objects = [
      { label: "X.509 Certificate for PIV Authentication", certificate: device },
      { label: "X.509 Certificate for PIV Attestation 9a", certificate: attestation },
    ];
    expect(withoutAttestation(objects, parsePkcs11Uri("pkcs11:id=%01")).map((o) => o.label)).toEqual(["X.509 Certificate for PIV Authentication"]);
    const named = parsePkcs11Uri("pkcs11:object=X.509%20Certificate%20for%20PIV%20Attestation%209a");
    expect(withoutAttestation(objects.slice(1), named).map((o) => o.label)).toEqual(["X.509 Certificate for PIV Attestation 9a"]);
  });
});
