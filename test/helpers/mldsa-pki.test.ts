import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate } from "../../src/x509/certificate.js";
import {
  createMlDsaCa,
  generateMlDsaKeyPair,
  issueMlDsaLeaf,
  ML_DSA_KEY_FORMS,
  ML_DSA_KEY_TYPES,
  ML_DSA_OID,
  mlDsaPkcs8Der,
  mlDsaSpkiDer,
  mlDsaVerify,
} from "./mldsa-pki.js";
import { createCa, makeTempDir, openssl, type CaHandle } from "./pki.js";

const EXAMPLES = join(import.meta.dirname, "..", "signers", "file", "mldsa", "vectors", "rfc9881");
const pemDer = (path: string) => Buffer.from(readFileSync(path, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");

describe("ML-DSA test PKI", () => {
  describe.each(ML_DSA_KEY_TYPES)("%s encodings match the RFC 9881 examples byte for byte", (keyType) => {
    const pair = generateMlDsaKeyPair(keyType, Buffer.from([...Array(32).keys()]));
    it.each(ML_DSA_KEY_FORMS)("PKCS#8 %s", (form) => {
      expect(mlDsaPkcs8Der(pair, form).equals(pemDer(join(EXAMPLES, `${keyType}-${form}.priv`)))).toBe(true);
    });
    it("SubjectPublicKeyInfo", () => {
      expect(mlDsaSpkiDer(pair).equals(pemDer(join(EXAMPLES, `${keyType}.pub`)))).toBe(true);
    });
  });

  describe("certificates", () => {
    let tmp: ReturnType<typeof makeTempDir>;
    let ecCa: CaHandle;
    let rsaCa: CaHandle;

    beforeAll(() => {
      tmp = makeTempDir("raa-mldsa-pki-");
      ecCa = createCa(join(tmp.dir, "ec-ca"), { name: "EC Root", keyType: "p256" });
      rsaCa = createCa(join(tmp.dir, "rsa-ca"), { name: "RSA Root", keyType: "rsa2048" });
    });
    afterAll(() => tmp.cleanup());

    it.each(ML_DSA_KEY_TYPES.flatMap((k) => [[k, "EC"], [k, "RSA"]] as const))(
      "%s leaf issued by an %s CA: openssl parses it, OpenSSL's X509_verify accepts the CA signature",
      async (keyType, caType) => {
        const ca = caType === "EC" ? ecCa : rsaCa;
        const leaf = issueMlDsaLeaf(ca, join(tmp.dir, "leaves"), { name: `${keyType} via ${caType}`, keyType });
        const text = openssl(["x509", "-in", leaf.certPath, "-noout", "-text"]);
        expect(text).toContain(`CN = ${keyType} via ${caType}`);
        expect(text).toContain("TLS Web Client Authentication");
        expect(text).toContain(`Public Key Algorithm: ${ML_DSA_OID[keyType]}`);
        // (`openssl verify` cannot be used: OpenSSL 3.0 gives up on the leaf's unknown key before the chain.)
        expect(new X509Certificate(leaf.certDer).verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
        const cert = new Certificate(leaf.certDer);
        expect(await cert.keyType()).toBe(keyType);
        expect(cert.serialDecimal).toBe(leaf.serialDecimal);
      },
    );

    it.each(ML_DSA_KEY_TYPES)("self-signed %s CA: signature over the TBSCertificate with its own key", (keyType) => {
      const ca = createMlDsaCa(join(tmp.dir, "mldsa-ca"), { name: `${keyType} Root`, keyType });
      const der = ca.certDer;
      // Certificate ::= SEQUENCE { tbs, sigAlg, BIT STRING } — read with openssl's offsets, not our parser.
      const dump = openssl(["asn1parse", "-in", ca.certPath]);
      expect(dump).toContain(`OBJECT            :${ML_DSA_OID[keyType]}`);
      const tbsHeader = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
      const tbsLength = der.readUInt16BE(tbsHeader + 2);
      const tbs = der.subarray(tbsHeader, tbsHeader + 4 + tbsLength);
      const signature = der.subarray(der.length - { "ML-DSA-44": 2420, "ML-DSA-65": 3309, "ML-DSA-87": 4627 }[keyType]);
      expect(mlDsaVerify(keyType, ca.pair.publicKey, tbs, signature)).toBe(true);
    });
  });
});
