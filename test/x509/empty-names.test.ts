/**
 * Found by the structure-aware fuzzer (issue 20): node:crypto's X509Certificate answers `undefined` for an empty
 * subject or issuer, so `cert.subject.split(…)` threw a TypeError in the local endpoint's certificate checks
 * (an internal error instead of CERTIFICATE_INVALID). Certificate.subject/issuer are "" for empty names.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { certificateFacts } from "../../src/local-endpoint/verify-chain.js";
import { Certificate } from "../../src/x509/certificate.js";
import { decodeDer, encodeDer } from "../fuzz/der-tree.js";
import { createCa, makeTempDir, openssl } from "../helpers/pki.js";

const tmp = makeTempDir("raa-empty-names-");
afterAll(() => tmp.cleanup());

describe("certificates with empty names", () => {
  const ca = createCa(tmp.dir, { name: "Empty Names CA" });
  openssl(["x509", "-in", ca.certPath, "-outform", "DER", "-out", join(tmp.dir, "ca.der")]);
  const withEmptyNames = (breakExtensions: boolean) => {
    const cert = decodeDer(readFileSync(join(tmp.dir, "ca.der")))!;
    const tbs = cert.children![0]!; // [0] version, serial, signature, issuer, validity, subject, spki, [3] extensions
    tbs.children![3] = { tag: 0x30, children: [] };
    tbs.children![5] = { tag: 0x30, children: [{ tag: 0x31, children: [] }] };
    if (breakExtensions) tbs.children![7] = { tag: 0xa3, children: [{ tag: 0x30, children: [{ tag: 0x30, children: [{ tag: 0x06, value: Buffer.from("551d13", "hex") }, { tag: 0x04, value: Buffer.from("ff", "hex") }] }] }] };
    return new Certificate(encodeDer(cert));
  };

  it("subject and issuer are empty strings", () => {
    const cert = withEmptyNames(false);
    expect(cert.subject).toBe("");
    expect(cert.issuer).toBe("");
  });

  it("a malformed extension is CERTIFICATE_INVALID, not a TypeError", async () => {
    // Refused when read since basicConstraints' value (ff: not one DER element) is checked there, as Go's parser does.
    await expect(async () => certificateFacts(withEmptyNames(true))).rejects.toMatchObject({ code: "CERTIFICATE_INVALID" });
  });
});
