import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificateData } from "../../src/x509/certificate-data.js";
import { readCertificateFile } from "../../src/x509/read-certificates.js";
import { createCa, issueLeaf, makeTempDir, openssl, type CaHandle } from "../helpers/pki.js";

describe("read-certificate-data JSON", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let ca: CaHandle;

  beforeAll(() => {
    tmp = makeTempDir("raa-certdata-");
    ca = createCa(join(tmp.dir, "ca"), { name: "Data Root" });
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it.each([
    ["rsa2048", "RSA", ["RSASHA256", "RSASHA384", "RSASHA512"]],
    ["p384", "EC", ["ECSHA256", "ECSHA384", "ECSHA512"]],
  ] as const)("%s: keyType, base64 DER, decimal serial, algorithms, in the Go helper's key order", async (keyType, expected, algorithms) => {
    const leaf = issueLeaf(ca, tmp.dir, { name: `data-${keyType}`, keyType });
    const [cert] = (await readCertificateFile(leaf.certPath)).certificates;
    const data = await certificateData(cert);
    expect(Object.keys(data)).toEqual(["keyType", "certificateData", "serialNumber", "supportedAlgorithms"]);
    expect(data.keyType).toBe(expected);
    expect(data.serialNumber).toBe(leaf.serialDecimal);
    expect(data.supportedAlgorithms).toEqual(algorithms);
    const pemBody = leaf.certPem.replace(/-----[A-Z ]+-----|\s/g, "");
    expect(data.certificateData).toBe(pemBody);
  });

  it("another key type (Ed25519) gives an empty keyType and the plain digest list", async () => {
    const key = join(tmp.dir, "ed.key");
    const certPath = join(tmp.dir, "ed.pem");
    openssl(["genpkey", "-algorithm", "ed25519", "-out", key]);
    openssl(["req", "-x509", "-new", "-key", key, "-subj", "/CN=ed", "-days", "1", "-out", certPath]);
    const [cert] = (await readCertificateFile(certPath)).certificates;
    const data = await certificateData(cert);
    expect(data.keyType).toBe("");
    expect(data.supportedAlgorithms).toEqual(["SHA256", "SHA384", "SHA512"]);
  });

  it.each([
    ["p256", "EC", [0x03, 0x42, 0x00, 0x04], 3],
    ["rsa2048", "RSA", [0x03, 0x82, 0x01, 0x0f, 0x00, 0x30], 5],
  ] as const)("a %s certificate whose public key is damaged is refused, not reported as another key type", async (keyType, name, marker, at) => {
    const leaf = issueLeaf(ca, tmp.dir, { name: `damaged-${keyType}`, keyType });
    const [good] = (await readCertificateFile(leaf.certPath)).certificates;
    const der = Buffer.from(good.der);
    const offset = der.indexOf(Buffer.from(marker));
    der[offset + at]! ^= 0x01; // the EC point's 04 prefix, the RSAPublicKey's SEQUENCE tag
    const damaged = join(tmp.dir, `damaged-${keyType}.der`);
    writeFileSync(damaged, der);
    // Go's parser refuses the key ("failed to unmarshal elliptic curve point", "invalid RSA public key"): so does the
    // reader (round 29), before certificateData could see it.
    await expect(readCertificateFile(damaged)).rejects.toMatchObject({
      code: "CERTIFICATE_INVALID",
      message: `${damaged} has a malformed value in its public key, which AWS's certificate parser refuses`,
    });
  });

  it("from plain JavaScript, what is not a Certificate (null, a string, bytes, a look-alike) is a USAGE error", async () => {
    for (const cert of [null, undefined, "cert.pem", Buffer.from("x"), { der: Buffer.alloc(1), keyType: () => "EC" }]) {
      await expect(certificateData(cert as never)).rejects.toMatchObject({
        code: "USAGE",
        message: "certificateData: cert must be a Certificate (from readCertificateFile)",
      });
    }
  });
});
