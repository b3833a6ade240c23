/**
 * Where a DER fault is picks the hint (src/x509/certificate.ts derEncoded): exporting again re-encodes only what is
 * outside the TBSCertificate; OpenSSL keeps the signed bytes as read, so a fault inside them (of form or value) is
 * still there after any export, and the hint is to have the CA issue the certificate again.
 */
import { createSign, generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { children, readSingle } from "../../src/encoding/der.js";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { readCertificateFile } from "../../src/x509/read-certificates.js";
import { makeTempDir, openssl } from "../helpers/pki.js";

const tmp = makeTempDir("raa-der-form-hint-");
afterAll(() => tmp.cleanup());
const path = (name: string) => join(tmp.dir, name);

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
const name = derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))));
const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
/** short → 81 xx */
const longForm = (el: Buffer) => Buffer.concat([Buffer.from([el[0]!, 0x81, el[1]!]), el.subarray(2)]);
const signed = (tbs: Buffer, algorithm = ecdsaSha256) =>
  derSequence(tbs, algorithm, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
const tbsWith = (subject: Buffer, extensions?: Buffer) => derSequence(
  derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), ecdsaSha256, name, times, subject,
  publicKey.export({ type: "spki", format: "der" }), ...(extensions ? [derTlv(0xa3, derSequence(extensions))] : []),
);
const keyUsage81 = derSequence(derOid("2.5.29.15"), derTlv(0x04, Buffer.from([0x03, 0x81, 0x02, 0x07, 0x80])));

/** The certificate's DER after the export the hint names. */
function exported(file: string): Buffer {
  openssl(["x509", "-inform", "DER", "-in", path(file), "-outform", "DER", "-out", path(`${file}.clean`)]);
  return readFileSync(path(`${file}.clean`));
}

describe("a DER form fault: where exporting again fixes it, and where it does not", () => {
  const sound = signed(tbsWith(name));
  const [tbs, algorithm, signature] = children(readSingle(sound)).map((el) => el.raw);
  const outside = {
    "signature-algorithm-81.der": derSequence(tbs!, longForm(algorithm!), signature!),
  };
  const inside = {
    "subject-set-81.der": signed(tbsWith(derTlv(0x30, longForm(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))))))),
    "key-usage-81.der": signed(tbsWith(name, keyUsage81)),
  };

  it("outside the TBS: the export re-encodes it, the agent reads the result", async () => {
    for (const [file, bytes] of Object.entries(outside)) {
      writeFileSync(path(file), bytes);
      await expect(readCertificateFile(path(file))).rejects.toMatchObject({ hint: expect.stringContaining("export the certificate again") });
      writeFileSync(path(`${file}.pem`), exported(file));
      await expect(readCertificateFile(path(`${file}.pem`))).resolves.toBeDefined();
    }
  });

  it("inside the TBS: OpenSSL's export keeps the signed bytes as they were (a fact of OpenSSL, pinned)", () => {
    for (const [file, bytes] of Object.entries(inside)) {
      writeFileSync(path(file), bytes);
      expect(exported(file).equals(bytes), file).toBe(true);
    }
  });

  // Before the fix: "export the certificate again", which leaves it as it is.
  it("inside the TBS: the hint is not 'export again' (which leaves it as it is) but to have the CA issue it again", async () => {
    for (const [file, bytes] of Object.entries(inside)) {
      writeFileSync(path(file), bytes);
      await expect(readCertificateFile(path(file)), file).rejects.toMatchObject({
        hint: expect.stringContaining("have the CA issue the certificate again"),
      });
    }
  });
});

describe("a list longer than the reader's bound is the agent's limit, not a fault of DER or Go's", () => {
  const sanWith = (count: number) => {
    const names = Array.from({ length: count }, (_, i) => derTlv(0x82, Buffer.from(`a${i}.example`)));
    return derSequence(derOid("2.5.29.17"), derTlv(0x04, derTlv(0x30, Buffer.concat(names))));
  };

  it("10,000 names are read", async () => {
    writeFileSync(path("san-10000.der"), signed(tbsWith(name, sanWith(10_000))));
    await expect(readCertificateFile(path("san-10000.der"))).resolves.toBeDefined();
  });

  // Before: "… has a malformed value in its extension 2.5.29.17, which AWS's certificate parser refuses", though
  // go1.19.8's x509.ParseCertificate reads a certificate of 10,001 names (checked by hand).
  it("10,001 names: refused as more than the agent reads, with no export hint and no claim about Go", async () => {
    writeFileSync(path("san-10001.der"), signed(tbsWith(name, sanWith(10_001))));
    const refusal = readCertificateFile(path("san-10001.der"));
    await expect(refusal).rejects.toMatchObject({
      code: "CERTIFICATE_INVALID",
      message: expect.stringMatching(/has more than 10,000 elements in one list in its extension 2\.5\.29\.17: Go's parser reads it, but this agent stops at 10,000/),
      hint: "have the CA issue a certificate with fewer entries",
    });
  });
});

describe("a name of more than 10,000 RDNs is the agent's limit too", () => {
  // Before: "… has a malformed value in its subject, which AWS's certificate parser refuses" (Go's parseName has no
  // bound on the number of RDNs).
  it("says so for the subject, as for an extension", async () => {
    const rdn = derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw"))));
    const subject = derTlv(0x30, Buffer.concat(Array.from({ length: 10_001 }, () => rdn)));
    writeFileSync(path("subject-10001.der"), signed(tbsWith(subject)));
    await expect(readCertificateFile(path("subject-10001.der"))).rejects.toMatchObject({
      message: expect.stringMatching(/has more than 10,000 elements in one list in its subject: Go's parser reads it/),
      hint: "have the CA issue a certificate with fewer entries",
    });
  });
});
