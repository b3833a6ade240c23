/**
 * The ML-DSA verifier used by the local endpoint (request signatures) and by chain validation (certificates
 * signed by an ML-DSA CA). The RFC 9881 example certificates were signed by a Go implementation of ML-DSA,
 * so they check the verifier against an independent signer (external pure interface, empty context).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSpki } from "../../../../src/x509/tbs-fields.js";
import { verifyMlDsa, verifyMlDsaCertificateSignature, verifyMlDsaWithCertificate } from "../../../../src/signers/file/mldsa/verify.js";
import { certificateData } from "../../../../src/x509/certificate-data.js";
import { Certificate } from "../../../../src/x509/certificate.js";
import {
  buildCertificate,
  commonName,
  createMlDsaCa,
  generateMlDsaKeyPair,
  issueMlDsaLeaf,
  ML_DSA_KEY_TYPES,
  mlDsaImplementation,
  mlDsaSign,
  mlDsaSpkiDer,
} from "../../../helpers/mldsa-pki.js";
import { createCa, makeTempDir } from "../../../helpers/pki.js";

const EXAMPLES = join(import.meta.dirname, "vectors", "rfc9881");
const pemDer = (name: string) => Buffer.from(readFileSync(join(EXAMPLES, name), "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");

describe("RFC 9881 example certificates (signed by another ML-DSA implementation)", () => {
  it.each(ML_DSA_KEY_TYPES)("%s: parses; its self-signature verifies; any changed byte does not", async (keyType) => {
    const cert = new Certificate(pemDer(`${keyType}.crt`));
    expect(await cert.keyType()).toBe(keyType);
    expect(await verifyMlDsaCertificateSignature(cert, cert)).toBe(true);
    const tampered = Buffer.from(cert.der);
    tampered[200] = tampered[200]! ^ 0x01; // inside the TBSCertificate (subject public key)
    expect(await verifyMlDsaCertificateSignature({ der: tampered }, cert)).toBe(false);
    const badSignature = Buffer.from(cert.der);
    badSignature[badSignature.length - 100] = badSignature[badSignature.length - 100]! ^ 0x80;
    expect(await verifyMlDsaCertificateSignature({ der: badSignature }, cert)).toBe(false);
  });

  it("a certificate is not verified by another parameter set's key", async () => {
    const c44 = new Certificate(pemDer("ML-DSA-44.crt"));
    const c65 = new Certificate(pemDer("ML-DSA-65.crt"));
    expect(await verifyMlDsaCertificateSignature(c44, c65)).toBe(false);
  });

  it.each(ML_DSA_KEY_TYPES)("%s: read-certificate-data fields", async (keyType) => {
    const data = await certificateData(new Certificate(pemDer(`${keyType}.crt`)));
    expect(data.keyType).toBe(keyType);
    expect(data.supportedAlgorithms).toEqual([keyType]);
  });

  it.each(ML_DSA_KEY_TYPES)("%s: the certificate's SPKI is the example public key", (keyType) => {
    expect(readSpki(pemDer(`${keyType}.crt`)).der.equals(pemDer(`${keyType}.pub`))).toBe(true);
  });
});

describe("verifyMlDsa", () => {
  const pair = generateMlDsaKeyPair("ML-DSA-65");
  const spki = mlDsaSpkiDer(pair);
  const message = Buffer.from("AWS4-X509-MLDSA\n20250101T000000Z\n20250101/us-east-1/rolesanywhere/aws4_request\nabc");
  const signature = mlDsaSign(pair, message);

  it("accepts the signature, refuses a changed message, signature, key or context", async () => {
    expect(await verifyMlDsa(spki, message, signature)).toBe(true);
    expect(await verifyMlDsa(spki, Buffer.concat([message, Buffer.from(" ")]), signature)).toBe(false);
    const flipped = Buffer.from(signature);
    flipped[10] = flipped[10]! ^ 1;
    expect(await verifyMlDsa(spki, message, flipped)).toBe(false);
    expect(await verifyMlDsa(mlDsaSpkiDer(generateMlDsaKeyPair("ML-DSA-65")), message, signature)).toBe(false);
    const withContext = mlDsaImplementation("ML-DSA-65").sign(message, pair.secretKey, { context: Buffer.from("x"), extraEntropy: false });
    expect(await verifyMlDsa(spki, message, withContext)).toBe(false);
  });

  it("answers false (never throws) for a signature of the wrong length, an SPKI of another algorithm, garbage", async () => {
    expect(await verifyMlDsa(spki, message, signature.subarray(1))).toBe(false);
    expect(await verifyMlDsa(spki, message, Buffer.alloc(0))).toBe(false);
    const ecSpki = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d03010703420004" + "11".repeat(64), "hex");
    expect(await verifyMlDsa(ecSpki, message, signature)).toBe(false);
    expect(await verifyMlDsa(Buffer.from("not der"), message, signature)).toBe(false);
    expect(await verifyMlDsa(spki.subarray(0, 100), message, signature)).toBe(false);
  });
});

describe("certificates issued by an ML-DSA CA", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeAll(() => {
    tmp = makeTempDir("raa-mldsa-verify-");
  });
  afterAll(() => tmp.cleanup());

  it.each(ML_DSA_KEY_TYPES)("%s CA → ML-DSA-44 leaf: verifies against the CA, not against another CA", async (keyType) => {
    const ca = createMlDsaCa(join(tmp.dir, keyType), { name: `${keyType} Root`, keyType });
    const otherCa = createMlDsaCa(join(tmp.dir, keyType), { name: `${keyType} Other`, keyType });
    const leaf = issueMlDsaLeaf(ca.issuer, tmp.dir, { name: `leaf-of-${keyType}`, keyType: "ML-DSA-44" });
    const caCert = new Certificate(ca.certDer);
    expect(await verifyMlDsaCertificateSignature(caCert, caCert)).toBe(true);
    expect(await verifyMlDsaCertificateSignature(new Certificate(leaf.certDer), caCert)).toBe(true);
    expect(await verifyMlDsaCertificateSignature(new Certificate(leaf.certDer), new Certificate(otherCa.certDer))).toBe(false);
  });

  it("an EC-issued certificate is not an ML-DSA signature; an EC issuer is not an ML-DSA key", async () => {
    const ecCa = createCa(join(tmp.dir, "ec"), { name: "EC Root" });
    const ecCaCert = new Certificate(Buffer.from(ecCa.certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64"));
    const leaf = issueMlDsaLeaf(ecCa, tmp.dir, { name: "ec-issued", keyType: "ML-DSA-44" });
    expect(await verifyMlDsaCertificateSignature(new Certificate(leaf.certDer), ecCaCert)).toBe(false);
    expect(await verifyMlDsaWithCertificate(ecCaCert.der, Buffer.from("m"), Buffer.alloc(2420))).toBe(false);
  });

  it("a signatureAlgorithm with parameters (forbidden by RFC 9881) is refused", async () => {
    const pair = generateMlDsaKeyPair("ML-DSA-44");
    const name = commonName("with-params");
    const der = buildCertificate({
      issuer: {
        name,
        keyIdentifier: undefined,
        algorithm: Object.assign(new (await import("@peculiar/asn1-x509")).AlgorithmIdentifier({ algorithm: "2.16.840.1.101.3.4.3.17" }), {
          parameters: new Uint8Array([5, 0]).buffer,
        }),
        sign: (tbs) => mlDsaSign(pair, tbs),
      },
      subject: name,
      spki: mlDsaSpkiDer(pair),
      ca: true,
    });
    const cert = new Certificate(der);
    expect(await verifyMlDsaCertificateSignature(cert, cert)).toBe(false);
  });
});
