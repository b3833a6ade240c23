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
});
