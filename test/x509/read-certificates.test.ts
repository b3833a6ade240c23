import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSign, generateKeyPairSync, X509Certificate } from "node:crypto";
import tls from "node:tls";
import { children, readSingle } from "../../src/encoding/der.js";
import { derBitString, derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { decodePemBlocks } from "../../src/encoding/pem.js";
import { certificateBundle, readCertificateBundle, readCertificateFile } from "../../src/x509/read-certificates.js";
import { classifyDer } from "../../src/x509/der-kind.js";
import { Certificate } from "../../src/x509/certificate.js";
import { createCa, issueLeaf, makeTempDir, openssl, type CaHandle, type IssuedCertificate } from "../helpers/pki.js";
import { expectAgentError } from "../signers/file/fixtures.js";

describe("reading certificate files", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let root: CaHandle;
  let leaf: IssuedCertificate;
  const path = (name: string) => join(tmp.dir, name);

  beforeAll(() => {
    tmp = makeTempDir("raa-certs-");
    root = createCa(join(tmp.dir, "ca"), { name: "Read Root" });
    leaf = issueLeaf(root, tmp.dir, { name: "read-leaf", keyType: "p256" });
    const key = readFileSync(leaf.keyPath, "utf8");
    // `openssl x509 -text` output before the block, comments between blocks, a key block in the middle.
    writeFileSync(path("annotated.pem"), `${openssl(["x509", "-in", leaf.certPath, "-text", "-noout"])}${leaf.certPem}# comment\n${key}Trailing note\n${root.certPem}`);
    writeFileSync(path("crlf.pem"), leaf.certPem.replace(/\n/g, "\r\n"));
    openssl(["x509", "-in", leaf.certPath, "-outform", "DER", "-out", path("leaf.der")]);
    writeFileSync(path("empty.pem"), "");
    writeFileSync(path("no-cert.pem"), key);
    writeFileSync(path("unterminated.pem"), leaf.certPem.split("-----END")[0]!);
    writeFileSync(path("bad-der.pem"), "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n");
    writeFileSync(path("bundle-with-comments.pem"), `first CA\n${root.certPem}second copy\n${root.certPem}end\n`);
    writeFileSync(path("bundle-with-key.pem"), root.certPem + key);
    writeFileSync(path("random.bin"), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]));
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it("reads every CERTIFICATE block, leaf first, skipping text and other blocks", async () => {
    const file = await readCertificateFile(path("annotated.pem"));
    expect(file.certificates.map((c) => c.subject)).toEqual(["CN=read-leaf", "CN=Read Root"]);
    expect(file.certificates[0].serialDecimal).toBe(leaf.serialDecimal);
    expect(file.stamp.size).toBeGreaterThan(0);
  });

  it("reads CRLF PEM and DER", async () => {
    expect((await readCertificateFile(path("crlf.pem"))).certificates[0].serialDecimal).toBe(leaf.serialDecimal);
    expect((await readCertificateFile(path("leaf.der"))).certificates[0].serialDecimal).toBe(leaf.serialDecimal);
  });

  it.each([
    ["empty.pem", "CERTIFICATE_INVALID"],
    ["no-cert.pem", "PEM_INVALID"],
    ["unterminated.pem", "PEM_INVALID"],
    ["bad-der.pem", "CERTIFICATE_INVALID"],
    ["random.bin", "CERTIFICATE_INVALID"],
    ["absent.pem", "FILE_NOT_FOUND"],
  ] as const)("--certificate %s: %s naming the file", async (name, code) => {
    const e = await expectAgentError(readCertificateFile(path(name)), code);
    expect(e.message).toContain(path(name));
    if (code !== "FILE_NOT_FOUND") expect(e.message).toMatch(/could not parse (PEM data|certificate)/);
  });

  it("a PEM file without a certificate says what it holds: the key given for the certificate, OpenSSL's TRUSTED CERTIFICATE", async () => {
    // Before: "holds no CERTIFICATE block", for a file whose only label the operator reads as a certificate's.
    const e = await expectAgentError(readCertificateFile(path("no-cert.pem")), "PEM_INVALID");
    expect(e.message).toBe(`could not parse PEM data: ${path("no-cert.pem")} holds no CERTIFICATE block but a PEM block labelled "PRIVATE KEY"`);
    writeFileSync(path("trusted.pem"), leaf.certPem.replace(/CERTIFICATE/g, "TRUSTED CERTIFICATE"));
    const t = await expectAgentError(readCertificateFile(path("trusted.pem")), "PEM_INVALID");
    expect(t.message).toBe(`could not parse PEM data: ${path("trusted.pem")} holds no CERTIFICATE block but a PEM block labelled "TRUSTED CERTIFICATE"`);
  });

  it("refuses a certificate followed by bytes that are not part of it (DER file, PEM block), which would be sent in X-Amz-X509", async () => {
    const der = readFileSync(path("leaf.der"));
    writeFileSync(path("trailing.der"), Buffer.concat([der, Buffer.alloc(32)]));
    const block = Buffer.concat([der, Buffer.from("junk")]).toString("base64").replace(/.{64}/g, "$&\n");
    writeFileSync(path("trailing.pem"), `-----BEGIN CERTIFICATE-----\n${block}\n-----END CERTIFICATE-----\n`);
    for (const [name, extra] of [["trailing.der", 32], ["trailing.pem", 4]] as const) {
      const e = await expectAgentError(readCertificateFile(path(name)), "CERTIFICATE_INVALID");
      expect(e.message).toContain(path(name));
      expect(e.message).toContain(`followed by ${extra} bytes that are not part of it`);
    }
  });

  it("refuses a BER certificate (indefinite or 5-byte outer length) that OpenSSL reads: one line, not an internal error", async () => {
    const der = readFileSync(path("leaf.der"));
    const body = der.subarray(2 + (der[1]! & 0x7f));
    const five = Buffer.alloc(4);
    five.writeUInt32BE(body.length);
    const variants = {
      "indefinite.der": [Buffer.concat([Buffer.from([0x30, 0x80]), body, Buffer.alloc(2)]), "an indefinite length (BER, not DER)"],
      "five-byte.der": [Buffer.concat([Buffer.from([0x30, 0x85, 0]), five, body]), "a 5-byte length field"],
    } as const;
    for (const [name, [bytes, why]] of Object.entries(variants)) {
      writeFileSync(path(name), bytes);
      writeFileSync(path(`${name}.pem`), `-----BEGIN CERTIFICATE-----\n${bytes.toString("base64")}\n-----END CERTIFICATE-----\n`);
      for (const file of [name, `${name}.pem`]) {
        // The oracle: openssl reads it, with the original serial.
        expect(openssl(["x509", "-in", path(file), "-noout", "-serial"])).toMatch(/^serial=/);
        const e = await expectAgentError(readCertificateFile(path(file)), "CERTIFICATE_INVALID");
        expect(e.message).toContain(`${path(file)}${file.endsWith(".pem") ? " (certificate #1)" : ""} is not DER-encoded`);
        expect(e.message).toContain(why);
      }
    }
  });

  // X.690 §10.1: DER lengths are minimal. OpenSSL (asn1_get_length skips leading zeros) reads these; Go's parser
  // (cryptobyte) refuses them, and we would send them as they are in X-Amz-X509 / X-Amz-X509-Chain.
  it("refuses a certificate with a non-minimal length (outer, signature algorithm, inside the TBS) that OpenSSL reads", async () => {
    const { AsnConvert } = await import("@peculiar/asn1-schema");
    const { Certificate: Asn1Certificate } = await import("@peculiar/asn1-x509");
    const reencoded = (der: Buffer) => Buffer.from(AsnConvert.serialize(AsnConvert.parse(der, Asn1Certificate)));
    const der = readFileSync(path("leaf.der"));
    expect(reencoded(der)).toEqual(der); // the oracle's control: a DER certificate re-encodes to itself
    const [tbs, signatureAlgorithm, signature] = children(readSingle(der)).map((el) => el.raw);
    const four = Buffer.alloc(4);
    four.writeUInt32BE(der.length - 4);
    const longForm = (el: Buffer) => Buffer.concat([Buffer.from([el[0]!, 0x81, el[1]!]), el.subarray(2)]); // short → 81 xx
    // Inside the TBS (its signature must still verify, so self-signed afresh): the subject's SET as 31 81 0b.
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
    const rdn = derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw"))));
    const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
    const inner = derSequence(
      derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), ecdsaSha256, derTlv(0x30, rdn), times,
      derTlv(0x30, longForm(rdn)), publicKey.export({ type: "spki", format: "der" }),
    );
    const variants = {
      "outer-84.der": Buffer.concat([Buffer.from([0x30, 0x84]), four, der.subarray(4)]),
      "signature-algorithm-81.der": derSequence(tbs!, longForm(signatureAlgorithm!), signature!),
      "tbs-81.der": derSequence(inner, ecdsaSha256, derBitString(createSign("sha256").update(inner).sign(privateKey))),
    };
    for (const [name, bytes] of Object.entries(variants)) {
      writeFileSync(path(name), bytes);
      expect(openssl(["x509", "-inform", "DER", "-in", path(name), "-noout", "-serial"])).toMatch(/^serial=/);
      expect(reencoded(bytes)).not.toEqual(bytes); // not DER: its DER encoding is other bytes
      const e = await expectAgentError(readCertificateFile(path(name)), "CERTIFICATE_INVALID");
      expect(e.message).toBe(`${path(name)} is not DER-encoded: it has a non-minimal length (BER, not DER)`);
    }
  });

  // X.690 §8.9.1, §8.11.1: a SEQUENCE or SET is constructed, in BER too. OpenSSL reads a Name tagged 10 (primitive).
  it("refuses a certificate whose issuer is a primitive SEQUENCE (tag 10), which OpenSSL reads", async () => {
    const { AsnConvert } = await import("@peculiar/asn1-schema");
    const { Certificate: Asn1Certificate } = await import("@peculiar/asn1-x509");
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
    const name = derTlv(0x30, derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))));
    const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
    const tbs = derSequence(
      derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), ecdsaSha256,
      Buffer.concat([Buffer.from([0x10]), name.subarray(1)]), times, name, publicKey.export({ type: "spki", format: "der" }),
    );
    const bytes = derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
    writeFileSync(path("primitive-issuer.der"), bytes);
    expect(openssl(["x509", "-inform", "DER", "-in", path("primitive-issuer.der"), "-noout", "-issuer"])).toBe("issuer=CN = gw\n");
    expect(() => AsnConvert.parse(bytes, Asn1Certificate)).toThrow(/does not match to Name ASN1 schema/); // a DER reader refuses it
    const e = await expectAgentError(readCertificateFile(path("primitive-issuer.der")), "CERTIFICATE_INVALID");
    expect(e.message).toBe(`${path("primitive-issuer.der")} is not DER-encoded: it has a SEQUENCE or SET in primitive form`);
  });

  // X.690 §10.2: DER never uses the constructed form of a string (OCTET, BIT or character string). OpenSSL collects
  // the segments of a constructed UTF8String (tag 2c); Go's parser refuses the name (unsupported string type).
  it("refuses a certificate whose subject CN is a constructed UTF8String (tag 2c), which OpenSSL reads", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
    const cn = (value: Buffer) => derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), value)));
    const segments = derTlv(0x2c, Buffer.concat([derTlv(0x04, Buffer.from("g")), derTlv(0x04, Buffer.from("w"))]));
    const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
    const tbs = derSequence(
      derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), ecdsaSha256,
      cn(derTlv(0x0c, Buffer.from("gw"))), times, cn(segments), publicKey.export({ type: "spki", format: "der" }),
    );
    const bytes = derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
    writeFileSync(path("constructed-cn.der"), bytes);
    expect(openssl(["x509", "-inform", "DER", "-in", path("constructed-cn.der"), "-noout", "-subject"])).toBe("subject=CN = gw\n");
    const e = await expectAgentError(readCertificateFile(path("constructed-cn.der")), "CERTIFICATE_INVALID");
    expect(e.message).toBe(`${path("constructed-cn.der")} is not DER-encoded: it has a string in constructed form`);
  });

  // X.690 §11.1: DER's TRUE is FF. OpenSSL takes any other non-zero byte as true; Go refuses the extension's critical.
  it("refuses a certificate whose extension's critical BOOLEAN is 01, not FF, which OpenSSL reads", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
    const name = derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))));
    const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
    const basicConstraints = derSequence(derOid("2.5.29.19"), derTlv(0x01, Buffer.from([0x01])), derTlv(0x04, derSequence()));
    const tbs = derSequence(
      derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), ecdsaSha256, name, times, name,
      publicKey.export({ type: "spki", format: "der" }), derTlv(0xa3, derSequence(basicConstraints)),
    );
    const bytes = derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
    writeFileSync(path("critical-01.der"), bytes);
    expect(openssl(["x509", "-inform", "DER", "-in", path("critical-01.der"), "-noout", "-ext", "basicConstraints"]))
      .toMatch(/X509v3 Basic Constraints: critical\n/);
    const e = await expectAgentError(readCertificateFile(path("critical-01.der")), "CERTIFICATE_INVALID");
    expect(e.message).toBe(`${path("critical-01.der")} is not DER-encoded: it has a BOOLEAN that is neither 00 nor FF`);
  });

  // X.690 §10.1, §11.1 inside OCTET and BIT STRINGs: an extension's extnValue is the DER of its type (RFC 5280 §4.1) and
  // Go's parser reads each standard extension and an RSA key with cryptobyte, refusing BER there; OpenSSL reads it.
  describe("BER inside an extension's value or an RSA key, which OpenSSL reads and Go refuses", () => {
    const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
    const rsaSha256 = derSequence(derOid("1.2.840.113549.1.1.11"), Buffer.from([0x05, 0x00]));
    const name = derSequence(derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("gw")))));
    const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    /** A self-signed certificate with these extensions (and SubjectPublicKeyInfo): only the encoding is odd. */
    const certificate = (extensions: Buffer[], spki?: Buffer, validity = times) => {
      const [keys, algorithm] = spki === undefined ? [ec, ecdsaSha256] : [rsa, rsaSha256];
      const tbs = derSequence(
        derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([1])), algorithm, name, validity, name,
        spki ?? keys.publicKey.export({ type: "spki", format: "der" }), derTlv(0xa3, derSequence(...extensions)),
      );
      return derSequence(tbs, algorithm, derBitString(createSign("sha256").update(tbs).sign(keys.privateKey)));
    };
    const extension = (oid: string, value: Buffer) => derSequence(derOid(oid), derTlv(0x04, value));
    const longForm = (el: Buffer) => Buffer.concat([Buffer.from([el[0]!, 0x81, el[1]!]), el.subarray(2)]); // short → 81 xx
    const keyId = Buffer.alloc(20, 0x5a);
    const rsaKey = Buffer.from(rsa.publicKey.export({ type: "pkcs1", format: "der" }));
    const rsaKeyBody = rsaKey.subarray(3); // 30 81 89 …
    const rsaKey83 = Buffer.concat([Buffer.from([0x30, 0x83, 0, 0, rsaKeyBody.length]), rsaKeyBody]);
    const rsaSpki = derSequence(derSequence(derOid("1.2.840.113549.1.1.1"), Buffer.from([0x05, 0x00])), derBitString(rsaKey83));
    // [file, extension or key bytes, its @peculiar type, what `openssl x509 -text` shows of it, the agent's message]
    const cases = [
      ["ca-01.der", "2.5.29.19", derSequence(derTlv(0x01, Buffer.from([0x01]))), "BasicConstraints", "CA:TRUE", "a BOOLEAN that is neither 00 nor FF in its extension 2.5.29.19"],
      ["key-usage-81.der", "2.5.29.15", longForm(derTlv(0x03, Buffer.from([0x07, 0x80]))), "KeyUsage", "Digital Signature", "a non-minimal length (BER, not DER) in its extension 2.5.29.15"],
      ["eku-81.der", "2.5.29.37", longForm(derSequence(derOid("1.3.6.1.5.5.7.3.2"))), "ExtendedKeyUsage", "TLS Web Client Authentication", "a non-minimal length (BER, not DER) in its extension 2.5.29.37"],
      ["san-81.der", "2.5.29.17", derSequence(longForm(derTlv(0x82, Buffer.from("gw.example")))), "SubjectAlternativeName", "DNS:gw.example", "a non-minimal length (BER, not DER) in its extension 2.5.29.17"],
      ["aki-indefinite.der", "2.5.29.35", Buffer.concat([Buffer.from([0x30, 0x80]), derTlv(0x80, keyId), Buffer.alloc(2)]), "AuthorityKeyIdentifier", "5A:5A:5A", "an indefinite length (BER, not DER) in its extension 2.5.29.35"],
      ["rsa-key-83.der", undefined, rsaKey83, "RSAPublicKey", "Public-Key: (1024 bit)", "a non-minimal length (BER, not DER) in its RSA public key"],
    ] as const;

    it.each(cases)("%s (%s) is refused, naming where", async (file, oid, value, type, shown, problem) => {
      const { AsnConvert } = await import("@peculiar/asn1-schema");
      const types: Record<string, unknown> = { ...(await import("@peculiar/asn1-x509")), ...(await import("@peculiar/asn1-rsa")) };
      const bytes = oid === undefined ? certificate([], rsaSpki) : certificate([extension(oid, value)]);
      writeFileSync(path(file), bytes);
      expect(openssl(["x509", "-inform", "DER", "-in", path(file), "-noout", "-text"])).toContain(shown);
      // Not DER: the DER encoding of what it says is other bytes.
      const der = Buffer.from(AsnConvert.serialize(AsnConvert.parse(value, types[type] as new () => object)));
      expect(der).not.toEqual(value);
      const e = await expectAgentError(readCertificateFile(path(file)), "CERTIFICATE_INVALID");
      expect(e.message).toBe(`${path(file)} is not DER-encoded: it has ${problem}`);
      // The same certificate with the DER encoding is read.
      const fixed = oid === undefined ? certificate([], derSequence(children(readSingle(rsaSpki))[0]!.raw, derBitString(der))) : certificate([extension(oid, der)]);
      expect(new Certificate(fixed).subject).toBe("CN=gw");
    });

    it("a standard extension whose value is not one DER element is refused, as Go does", async () => {
      writeFileSync(path("ski-short.der"), certificate([extension("2.5.29.14", Buffer.concat([Buffer.from([0x04, 0x14]), keyId.subarray(3)]))]));
      expect(openssl(["x509", "-inform", "DER", "-in", path("ski-short.der"), "-noout", "-subject"])).toBe("subject=CN = gw\n");
      const e = await expectAgentError(readCertificateFile(path("ski-short.der")), "CERTIFICATE_INVALID");
      expect(e.message).toBe(`${path("ski-short.der")} has a malformed value in its extension 2.5.29.14, which AWS's certificate parser refuses`);
    });

    it("every legitimate certificate passes: node's root store, the stored fixtures, openssl's RSA and EC leaves and CAs", () => {
      const roots = tls.rootCertificates.map((pem) => new X509Certificate(pem).raw);
      expect(roots.length).toBeGreaterThan(100);
      const stored = ["44", "65", "87"].map((n) => readFileSync(`test/signers/file/mldsa/vectors/rfc9881/ML-DSA-${n}.crt`));
      const rsaRoot = createCa(join(tmp.dir, "rsa-ca"), { name: "RSA Root", keyType: "rsa2048", pathLen: 1 });
      const intermediate = createCa(join(tmp.dir, "p384-ca"), { name: "EC Intermediate", keyType: "p384", parent: rsaRoot });
      const issued = [rsaRoot.certPem, intermediate.certPem, root.certPem, leaf.certPem, ...(["rsa2048", "p521"] as const).map((keyType) =>
        issueLeaf(intermediate, tmp.dir, {
          name: `legit-${keyType}`, keyType,
          extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth",
            "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid,issuer", "subjectAltName=DNS:gw.example,IP:192.0.2.1,URI:spiffe://gw/x,email:a@gw.example",
            "authorityInfoAccess=caIssuers;URI:http://gw.example/ca.der,OCSP;URI:http://gw.example/ocsp",
            "crlDistributionPoints=URI:http://gw.example/ca.crl", "certificatePolicies=1.2.3.4,2.5.29.32.0",
            "1.3.6.1.4.1.41482.3.3=DER:05:04:03"],
        }).certPem)].map((pem) => decodePemBlocks(pem, "issued")[0]!.der);
      for (const der of [...roots, ...stored.map((pem) => decodePemBlocks(pem.toString(), "stored")[0]!.der), ...issued]) {
        expect(() => new Certificate(der), new X509Certificate(der).subject).not.toThrow();
      }
    });

    // X.690 §8.3.2: an INTEGER's first nine bits are not all zeros or all ones. Go's parser (cryptobyte's ReadASN1Integer:
    // "not minimally-encoded") refuses the serial, the version, an RSA key's modulus and exponent and basicConstraints'
    // pathLen. OpenSSL 3 refuses a padded serial or version itself (the file does not load), but decodes an extension
    // only when asked (`-text` shows this one's bytes undecoded) and an RSA key's integers as BIGNUMs (no check).
    const rsaKeyWith = (n: Buffer, e: Buffer) =>
      derSequence(children(readSingle(rsaSpki))[0]!.raw, derBitString(derSequence(derTlv(0x02, n), derTlv(0x02, e))));
    const [modulus, exponent] = children(readSingle(rsaKey)).map((el) => el.content);
    it.each([
      ["path-len-0001.der", "2.5.29.19", [0xff, 0x00, 0x01], [0xff, 0x01], "X509v3 Basic Constraints: \n                0..", "in its extension 2.5.29.19"],
      // (ff 80 padded was here: its minimal form, -128, is refused since current Go reads a pathLen as unsigned)
      ["path-len-000080.der", "2.5.29.19", [0xff, 0x00, 0x00, 0x80], [0xff, 0x00, 0x80], "X509v3 Basic Constraints: \n                0..", "in its extension 2.5.29.19"],
      ["modulus-00.der", undefined, [0x00], [], "Public-Key: (1024 bit)", "in its RSA public key"],
      ["exponent-00.der", undefined, [], [0x00], "Exponent: 65537", "in its RSA public key"],
    ] as const)("%s, an INTEGER padded (%s), is refused, naming where", (file, oid, padded, minimal, shown, where) => {
      const bytes = oid === undefined
        ? certificate([], rsaKeyWith(Buffer.concat([Buffer.from(padded), modulus!]), Buffer.concat([Buffer.from(minimal), exponent!])))
        : certificate([extension(oid, derSequence(derTlv(0x01, Buffer.from([0xff])), derTlv(0x02, Buffer.from(padded.slice(1)))))]);
      writeFileSync(path(file), bytes);
      expect(openssl(["x509", "-inform", "DER", "-in", path(file), "-noout", "-text"])).toContain(shown);
      expect(() => new Certificate(bytes, file)).toThrow(expect.objectContaining({
        code: "CERTIFICATE_INVALID", message: `${file} is not DER-encoded: it has an empty or non-minimal INTEGER ${where}`,
      }));
      const fixed = oid === undefined ? certificate([], rsaKeyWith(modulus!, exponent!))
        : certificate([extension(oid, derSequence(derTlv(0x01, Buffer.from([0xff])), derTlv(0x02, Buffer.from(minimal.slice(1)))))]);
      expect(new Certificate(fixed).subject).toBe("CN=gw");
    });

    // Round 33: the agent's own DER checks tell why OpenSSL refused it (before: "not a valid X.509 DER structure").
    it("a padded serial or version: OpenSSL 3 itself refuses the file, the agent names the INTEGER; a serial 00 8x or ff 7f is minimal and read", () => {
      const withSerial = (serial: number[], version = [2]) => {
        const tbs = derSequence(
          derTlv(0xa0, derTlv(0x02, Buffer.from(version))), derTlv(0x02, Buffer.from(serial)), ecdsaSha256, name, times, name,
          ec.publicKey.export({ type: "spki", format: "der" }),
        );
        return derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(ec.privateKey)));
      };
      for (const [file, bytes] of [["serial-0001.der", withSerial([0, 1])], ["serial-ff81.der", withSerial([0xff, 0x81])], ["version-0002.der", withSerial([1], [0, 2])]] as const) {
        writeFileSync(path(file), bytes);
        expect(() => openssl(["x509", "-inform", "DER", "-in", path(file), "-noout"])).toThrow();
        expect(() => new Certificate(bytes)).toThrow("the certificate is not DER-encoded: it has an empty or non-minimal INTEGER");
      }
      expect(new Certificate(withSerial([0, 0x81])).serialHex).toBe("81");
      expect(new Certificate(withSerial([0xff, 0x7f])).serialDecimal).toBe("-129");
    });

    // X.690 §11.2.1: DER's unused bits are zero, and there are at most 7. Go's parser (cryptobyte's ReadASN1BitString)
    // refuses either in the signature, the public key and keyUsage; OpenSSL masks the bits off, and decodes keyUsage
    // only when asked (`-text` then shows a keyUsage of 8 unused bits undecoded).
    it.each([
      ["key-usage-stray.der", "a BIT STRING whose unused bits are not zero in its extension 2.5.29.15", [0x07, 0x81], "Digital Signature"],
      ["key-usage-8.der", "a BIT STRING without its unused-bits count in its extension 2.5.29.15", [0x08, 0x80], "X509v3 Key Usage: \n                .."],
      ["key-usage-empty-7.der", "a BIT STRING whose unused bits are not zero in its extension 2.5.29.15", [0x07], "X509v3 Key Usage"],
      ["rsa-key-stray.der", "a BIT STRING whose unused bits are not zero", undefined, "Public-Key: (1024 bit)"],
      ["signature-stray.der", "a BIT STRING whose unused bits are not zero", undefined, "Signature Value"],
    ] as const)("%s is refused: %s", (file, problem, keyUsage, shown) => {
      const signed = certificate([]);
      const [tbs, algorithm, signature] = children(readSingle(signed)).map((el) => el.raw);
      const stray = (bitString: Buffer) => derTlv(0x03, Buffer.concat([Buffer.from([1]), bitString.subarray(bitString[1]! & 0x80 ? 4 : 3, -1), Buffer.from([bitString.at(-1)! | 1])]));
      const bytes = keyUsage !== undefined ? certificate([extension("2.5.29.15", derTlv(0x03, Buffer.from(keyUsage)))])
        : file.startsWith("rsa") ? certificate([], derSequence(children(readSingle(rsaSpki))[0]!.raw, stray(derBitString(rsaKey))))
        : derSequence(tbs!, algorithm!, stray(signature!));
      writeFileSync(path(file), bytes);
      expect(openssl(["x509", "-inform", "DER", "-in", path(file), "-noout", "-text"])).toContain(shown);
      expect(() => new Certificate(bytes, file)).toThrow(expect.objectContaining({
        code: "CERTIFICATE_INVALID", message: `${file} is not DER-encoded: it has ${problem}`,
      }));
    });

    it("BIT STRINGs whose unused bits are zero are read: keyUsage 07 80, 01 fe, 00 (and 03 01 00)", () => {
      for (const keyUsage of [[0x07, 0x80], [0x01, 0xfe], [0x00], [0x00, 0x00]]) {
        expect(new Certificate(certificate([extension("2.5.29.15", derTlv(0x03, Buffer.from(keyUsage)))])).subject).toBe("CN=gw");
      }
    });

    // X.690 §11.7, §11.8: DER writes a time with its seconds and Z; RFC 5280 §4.1.2.5.2: a GeneralizedTime has no
    // fraction. Go's parser (cryptobyte: the time formatted again must be the same text) refuses UTC written as an
    // offset, a GeneralizedTime without seconds and any fraction; OpenSSL reads them all. Refused: what Go refuses and
    // DER or RFC 5280 forbid. Read: what Go reads with seconds (a non-zero offset); a UTCTime without seconds, which Go
    // reads, is refused on every Node (validity.test.ts): Node 22's OpenSSL refuses it itself.
    const validity = (tag: number, text: string) => derSequence(derTlv(tag, Buffer.from(text)), derTlv(0x17, Buffer.from("361231000000Z")));
    it.each([
      [0x17, "260101000000+0000", "Jan  1 00:00:00 2026 GMT"],
      [0x17, "2601010000-0000", "Jan  1 00:00:00 2026 GMT"],
      [0x18, "20260101000000+0000", "Jan  1 00:00:00 2026 GMT"],
      [0x18, "202601010000Z", "Jan  1 00:00:00 2026 GMT"],
      [0x18, "20260101000000.50Z", "Jan  1 00:00:00.50 2026 GMT"],
      [0x18, "20260101000000.5Z", "Jan  1 00:00:00.5 2026 GMT"],
      [0x18, "20260101000000.05Z", "Jan  1 00:00:00.05 2026 GMT"],
      [0x18, "20260101000000.5+0100", "Dec 31 23:00:00.5 2025 GMT"],
    ])("a time (tag %i) %s is refused", (tag, text, shown) => {
      const file = `time-${text.replace(/[^0-9A-Z]/g, "_")}.der`;
      writeFileSync(path(file), certificate([], undefined, validity(tag, text)));
      expect(openssl(["x509", "-inform", "DER", "-in", path(file), "-noout", "-startdate"])).toBe(`notBefore=${shown}\n`);
      // Node 22's OpenSSL (3.5) refuses a time without seconds itself, Node 20's (3.0, as the CLI here) reads it: the
      // agent's own checks tell why on every Node (round 33; before: "not a valid X.509 DER structure" on 22 and 24).
      expect(() => new Certificate(readFileSync(path(file)), file)).toThrow(expect.objectContaining({
        code: "CERTIFICATE_INVALID", message: `${file} is not DER-encoded: it has a UTCTime or GeneralizedTime not in DER form`,
      }));
    });

    it.each([
      [0x17, "260101000000Z", "2026-01-01T00:00:00.000Z"],
      [0x17, "260101000000+0100", "2025-12-31T23:00:00.000Z"],
      [0x18, "20260101000000-0130", "2026-01-01T01:30:00.000Z"],
    ])("a time (tag %i) %s is read", (tag, text, read) => {
      expect(new Certificate(certificate([], undefined, validity(tag, text))).notBefore.toISOString()).toBe(read);
    });

    // What Go's parser (crypto/x509 parser.go) refuses inside DER standard extensions, which OpenSSL reads (its `-text`
    // shows each, some undecoded): an OID that is empty, starts an arc with 80 or ends on a byte with the top bit set
    // (cryptobyte's ReadASN1ObjectIdentifier: extKeyUsage, a policy, an access method; go1.19 still took an 80), a
    // policy twice (Go 1.22+), an arc of 2^31 or more in an EKU or an access method (cryptobyte reads 31 bits; go1.19
    // too), a subjectAltName email, DNS name or URI that is not IA5 and an IP address of neither 4 nor 16 bytes (7f is IA5). Go 1.19.8 refuses each but the 80s and the policy twice, and reads the fixed certificate.
    const oidOf = (hex: string) => derTlv(0x06, Buffer.from(hex, "hex"));
    const clientAuth = "2b06010505070302";
    const policy = (oid: Buffer) => derSequence(oid);
    const access = (oid: Buffer) => derSequence(oid, derTlv(0x86, Buffer.from("http://gw.example/ca.der")));
    const generalName = (tag: number, value: Buffer) => derSequence(derTlv(tag, value));
    it.each([
      ["eku-empty-oid.der", "2.5.29.37", derSequence(oidOf("")), derSequence(oidOf(clientAuth)), "X509v3 Extended Key Usage: \n                0.."],
      ["eku-80.der", "2.5.29.37", derSequence(oidOf("2b0601050507038002")), derSequence(oidOf(clientAuth)), "X509v3 Extended Key Usage: \n                0"],
      ["eku-cut.der", "2.5.29.37", derSequence(oidOf("2b0601050507038a")), derSequence(oidOf(clientAuth)), "X509v3 Extended Key Usage: \n                0"],
      ["policy-empty-oid.der", "2.5.29.32", derSequence(policy(oidOf(""))), derSequence(policy(derOid("1.2.3.4"))), "X509v3 Certificate Policies: \n                0"],
      ["policy-80.der", "2.5.29.32", derSequence(policy(oidOf("2a038004"))), derSequence(policy(derOid("1.2.3.4"))), "X509v3 Certificate Policies: \n                0"],
      ["policy-cut.der", "2.5.29.32", derSequence(policy(oidOf("2a0384"))), derSequence(policy(derOid("1.2.3.4"))), "X509v3 Certificate Policies: \n                0"],
      ["policy-twice.der", "2.5.29.32", derSequence(policy(derOid("1.2.3.4")), policy(derOid("1.2.3.4"))), derSequence(policy(derOid("1.2.3.4")), policy(derOid("1.2.3.5"))), "Policy: 1.2.3.4\n                Policy: 1.2.3.4"],
      ["aia-80.der", "1.3.6.1.5.5.7.1.1", derSequence(access(oidOf("2b06010505073080"))), derSequence(access(derOid("1.3.6.1.5.5.7.48.2")), access(derOid("1.3.6.1.5.5.7.48.2"))), "Authority Information Access: \n                0"],
      ["eku-arc-2-31.der", "2.5.29.37", derSequence(derOid("1.3.6.1.4.1.2147483648")), derSequence(derOid("1.3.6.1.4.1.2147483647")), "1.3.6.1.4.1.2147483648"],
      ["eku-first-2-31.der", "2.5.29.37", derSequence(derOid("2.2147483568")), derSequence(derOid("2.2147483567")), "2.2147483568"],
      ["aia-arc-2-31.der", "1.3.6.1.5.5.7.1.1", derSequence(access(derOid("1.3.6.1.5.5.7.48.2147483648"))), derSequence(access(derOid("1.3.6.1.5.5.7.48.2147483647"))), "1.3.6.1.5.5.7.48.2147483648 - URI"],
      ["san-ip-5.der", "2.5.29.17", generalName(0x87, Buffer.from([192, 0, 2, 1, 0])), generalName(0x87, Buffer.from([192, 0, 2, 1])), "IP Address:<invalid length=5>"],
      ["san-ip-0.der", "2.5.29.17", generalName(0x87, Buffer.alloc(0)), generalName(0x87, Buffer.alloc(16, 0x20)), "IP Address:<invalid length=0>"],
      ["san-ip-8.der", "2.5.29.17", generalName(0x87, Buffer.from([192, 0, 2, 0, 255, 255, 255, 0])), generalName(0x87, Buffer.from([192, 0, 2, 0])), "IP Address:<invalid length=8>"],
      ["san-dns-utf8.der", "2.5.29.17", generalName(0x82, Buffer.from("gw.exampl\u00e9")), generalName(0x82, Buffer.from("gw.example")), "DNS:gw.exampl\u00e9"],
      ["san-email-latin1.der", "2.5.29.17", generalName(0x81, Buffer.from("a\u00ff@gw.example", "latin1")), generalName(0x81, Buffer.from("a\x7f@gw.example")), "email:a"],
      ["san-uri-latin1.der", "2.5.29.17", generalName(0x86, Buffer.from("spiffe://gw/\u00e9", "latin1")), generalName(0x86, Buffer.from("spiffe://gw/e")), "URI:spiffe://gw/"],
      // Current Go refuses an IPv4-mapped IPv6 address (::ffff:a.b.c.d; golang/go#79776); go1.19.8 reads it.
      ["san-ip-v4-mapped.der", "2.5.29.17", generalName(0x87, Buffer.from([...Array(10).fill(0), 0xff, 0xff, 192, 0, 2, 1])), generalName(0x87, Buffer.from([...Array(12).fill(0), 192, 0, 2, 1])), "IP Address:0:0:0:0:0:FFFF:C000:201"],
      // A URI SAN Go's url.Parse refuses, or whose host is no domain (go1.19.8 refuses each but those marked: current Go
      // refuses a host with a leading dot, anything but an IPv6 address in brackets, more than one colon in an http(s) host).
      ["san-uri-label.der", "2.5.29.17", generalName(0x86, Buffer.from("spiffe://gw..example/x")), generalName(0x86, Buffer.from("spiffe://gw.example/x")), "URI:spiffe://gw..example/x"],
      ["san-uri-dot.der", "2.5.29.17", generalName(0x86, Buffer.from("https://gw.example./")), generalName(0x86, Buffer.from("https://gw.example/")), "URI:https://gw.example./"],
      ["san-uri-leading-dot.der", "2.5.29.17", generalName(0x86, Buffer.from("https://.gw.example/")), generalName(0x86, Buffer.from("https://gw.example/")), "URI:https://.gw.example/"], // current Go
      ["san-uri-port.der", "2.5.29.17", generalName(0x86, Buffer.from("https://gw.example:44x/")), generalName(0x86, Buffer.from("https://gw.example:443/")), "URI:https://gw.example:44x/"],
      ["san-uri-bracket.der", "2.5.29.17", generalName(0x86, Buffer.from("https://[2001:db8::1/")), generalName(0x86, Buffer.from("https://[2001:db8::1]/")), "URI:https://[2001:db8::1/"],
      ["san-uri-host-char.der", "2.5.29.17", generalName(0x86, Buffer.from("https://g{w}.example/")), generalName(0x86, Buffer.from("https://g-w.example/")), "URI:https://g{w}.example/"],
      ["san-uri-host-escape.der", "2.5.29.17", generalName(0x86, Buffer.from("https://gw%41.example/")), generalName(0x86, Buffer.from("https://gwA.example/")), "URI:https://gw%41.example/"],
      ["san-uri-escape.der", "2.5.29.17", generalName(0x86, Buffer.from("spiffe://gw.example/%zz")), generalName(0x86, Buffer.from("spiffe://gw.example/%7a")), "URI:spiffe://gw.example/%zz"],
      ["san-uri-user.der", "2.5.29.17", generalName(0x86, Buffer.from("https://a b@gw.example/")), generalName(0x86, Buffer.from("https://a%20b@gw.example/")), "URI:https://a b@gw.example/"],
      ["san-uri-control.der", "2.5.29.17", generalName(0x86, Buffer.from("spiffe://gw.example/\x7f")), generalName(0x86, Buffer.from("spiffe://gw.example/~")), "URI:spiffe://gw.example/"],
      ["san-uri-no-scheme.der", "2.5.29.17", generalName(0x86, Buffer.from("://gw.example")), generalName(0x86, Buffer.from("//gw.example")), "URI:://gw.example"],
      ["san-uri-colon.der", "2.5.29.17", generalName(0x86, Buffer.from("1gw:x")), generalName(0x86, Buffer.from("gw:x")), "URI:1gw:x"],
      ["san-uri-bracket-ipv4.der", "2.5.29.17", generalName(0x86, Buffer.from("https://[192.0.2.1]/")), generalName(0x86, Buffer.from("https://[2001:db8::1]:443/")), "URI:https://[192.0.2.1]/"], // current Go
      ["san-uri-colons.der", "2.5.29.17", generalName(0x86, Buffer.from("https://2001:db8::1/")), generalName(0x86, Buffer.from("spiffe://2001:db8::1/")), "URI:https://2001:db8::1/"], // current Go
    ])("%s (%s) is refused as Go refuses it", (file, oid, value, fixed, shown) => {
      writeFileSync(path(file), certificate([extension(oid, value)]));
      expect(openssl(["x509", "-inform", "DER", "-in", path(file), "-noout", "-text"])).toContain(shown);
      expect(() => new Certificate(readFileSync(path(file)), file)).toThrow(expect.objectContaining({
        code: "CERTIFICATE_INVALID", message: `${file} has a malformed value in its extension ${oid}, which AWS's certificate parser refuses`,
      }));
      expect(new Certificate(certificate([extension(oid, fixed)])).subject).toBe("CN=gw");
    });

    // A CA's nameConstraints as Go's parseNameConstraintsExtension reads it (go1.19.8 refuses each but the one marked
    // "current Go", and reads each fixed one): no subtree in either list (one empty list beside another is read:
    // name-constraints-go-reads.test.ts), an IP range of neither 8 nor 32 bytes or whose
    // mask is not ones then zeros, a DNS/URI/email domain that is not IA5, has an empty label (after one leading dot) or
    // ends with a dot (domainNameValid), a mailbox that is not IA5. OpenSSL prints each.
    const constraints = (...names: Buffer[]) => derSequence(derTlv(0xa0, Buffer.concat(names.map((n) => derSequence(n)))));
    const ip = (...bytes: number[]) => derTlv(0x87, Buffer.from(bytes));
    const text = (tag: number, value: string) => derTlv(tag, Buffer.from(value, "latin1"));
    it.each([
      ["nc-empty.der", derSequence(derTlv(0xa0, Buffer.alloc(0))), constraints(text(0x82, ".gw.example")), "X509v3 Name Constraints: \n\n"],
      ["nc-ip-4.der", constraints(ip(192, 0, 2, 0)), constraints(ip(192, 0, 2, 0, 255, 255, 255, 0)), "IP:"],
      ["nc-ip-16.der", constraints(ip(...Array(16).fill(0xfd))), constraints(ip(...Array(16).fill(0xfd), ...Array(8).fill(0xff), ...Array(8).fill(0))), "IP:"],
      ["nc-mask-gap.der", constraints(ip(192, 0, 2, 0, 255, 0, 255, 0)), constraints(ip(192, 0, 2, 0, 255, 255, 254, 0)), "IP:192.0.2.0/255.0.255.0"],
      ["nc-mask-bits.der", constraints(ip(192, 0, 2, 0, 255, 255, 255, 0x81)), constraints(ip(192, 0, 2, 0, 255, 255, 255, 0x80)), "IP:192.0.2.0/255.255.255.129"],
      ["nc-mask-v6.der", constraints(ip(...Array(16).fill(0xfd), ...Array(15).fill(0xff), 0x7f)), constraints(ip(...Array(16).fill(0xfd), ...Array(16).fill(0xff))), "IP:"],
      ["nc-dns-utf8.der", constraints(derTlv(0x82, Buffer.from(".gw.exampl\u00e9"))), constraints(text(0x82, "gw.example")), "DNS:.gw.exampl"],
      ["nc-dns-label.der", constraints(text(0x82, "gw..example")), constraints(text(0x82, "")), "DNS:gw..example"],
      ["nc-dns-dots.der", constraints(text(0x82, "..")), constraints(text(0x82, "gw")), "DNS:.."],
      ["nc-uri-dots.der", constraints(text(0x86, "..gw.example")), constraints(text(0x86, ".gw.example")), "URI:..gw.example"], // current Go
      ["nc-dns-dot.der", constraints(text(0x82, "gw.example.")), constraints(text(0x82, ".gw.example")), "DNS:gw.example."],
      ["nc-dns-space.der", constraints(text(0x82, "gw example")), constraints(text(0x82, "gw-example")), "DNS:gw example"],
      ["nc-uri-latin1.der", constraints(text(0x86, ".gw.exampl\u00e9")), constraints(text(0x86, ".gw.example")), "URI:.gw.exampl"],
      ["nc-email-domain.der", constraints(text(0x81, "gw.example.")), constraints(text(0x81, ".gw.example")), "email:gw.example."],
      ["nc-email-latin1.der", constraints(text(0x81, "a\u00ff@gw.example")), constraints(text(0x81, "a@gw.example")), "email:a"],
      // A mailbox Go's parseRFC2821Mailbox refuses: DEL, a space or '(' unquoted, two dots, a quote then more, no '@', a domain ending with a dot.
      ["nc-mailbox-del.der", constraints(text(0x81, "a\x7f@gw.example")), constraints(text(0x81, "a~@gw.example")), "email:a"],
      ["nc-mailbox-space.der", constraints(text(0x81, "a b@gw.example")), constraints(text(0x81, "\"a b\"@gw.example")), "email:a b@gw.example"],
      ["nc-mailbox-paren.der", constraints(text(0x81, "a(b@gw.example")), constraints(text(0x81, "a\\(b@gw.example")), "email:a(b@gw.example"],
      ["nc-mailbox-dots.der", constraints(text(0x81, "a..b@gw.example")), constraints(text(0x81, "a.b@gw.example")), "email:a..b@gw.example"],
      ["nc-mailbox-quote.der", constraints(text(0x81, "\"a\"b@gw.example")), constraints(text(0x81, "\"a\"@gw.example")), "email:\"a\"b@gw.example"],
      ["nc-mailbox-escaped-at.der", constraints(text(0x81, "a\\@gw.example")), constraints(text(0x81, "a\\@b@gw.example")), "email:a\\@gw.example"],
      ["nc-mailbox-escaped-latin1.der", constraints(text(0x81, "a\\\u00e9@gw.example")), constraints(text(0x81, "a\\e@gw.example")), "email:a"],
      ["nc-mailbox-domain-dot.der", constraints(text(0x81, "a@gw.example.")), constraints(text(0x81, "a@.gw.example")), "email:a@gw.example."],
      // A URI constraint that is an IP address ("cannot be IP address"); not one with a leading dot or leading zeros.
      ["nc-uri-ipv4.der", constraints(text(0x86, "192.0.2.1")), constraints(text(0x86, ".192.0.2.1")), "URI:192.0.2.1"],
      ["nc-uri-ipv6.der", constraints(text(0x86, "2001:db8::1")), constraints(text(0x86, "fe80::1%eth0")), "URI:2001:db8::1"],
      ["nc-uri-ip-mapped.der", constraints(text(0x86, "::ffff:192.0.2.1")), constraints(text(0x86, "192.0.2.01")), "URI:::ffff:192.0.2.1"],
      // An IPv4-mapped IPv6 range: current Go refuses it, go1.19.8 reads it.
      ["nc-ip-v4-mapped.der", constraints(ip(...Array(10).fill(0), 0xff, 0xff, 192, 0, 2, 0, ...Array(15).fill(0xff), 0)), constraints(ip(...Array(12).fill(0), 192, 0, 2, 0, ...Array(15).fill(0xff), 0)), "IP:0:0:0:0:0:FFFF:C000:200/"],
    ])("%s: a name constraint Go refuses is refused", (file, value, fixed, shown) => {
      writeFileSync(path(file), certificate([extension("2.5.29.30", value)]));
      expect(openssl(["x509", "-inform", "DER", "-in", path(file), "-noout", "-text"])).toContain(shown);
      expect(() => new Certificate(readFileSync(path(file)), file)).toThrow(expect.objectContaining({
        code: "CERTIFICATE_INVALID", message: `${file} has a malformed value in its extension 2.5.29.30, which AWS's certificate parser refuses`,
      }));
      expect(new Certificate(certificate([extension("2.5.29.30", fixed)])).subject).toBe("CN=gw");
    });

    it("an extension OID with an arc of 2^31 or more is refused as Go refuses it; a policy's is read, as Go 1.22+ reads it", () => {
      const vendor = (oid: string) => extension(oid, Buffer.from([0x05, 0x00]));
      writeFileSync(path("ext-arc-2-31.der"), certificate([vendor("1.3.6.1.4.1.2147483648")]));
      expect(openssl(["x509", "-inform", "DER", "-in", path("ext-arc-2-31.der"), "-noout", "-text"])).toContain("1.3.6.1.4.1.2147483648:");
      expect(() => new Certificate(readFileSync(path("ext-arc-2-31.der")), "ext-arc-2-31.der")).toThrow(expect.objectContaining({
        // As an extKeyUsage's arc is (before: `… it has an OID arc of 2^31 or more`, named no extension; the DER is valid).
        code: "CERTIFICATE_INVALID", message: "ext-arc-2-31.der has a malformed value in its extension 1.3.6.1.4.1.2147483648, which AWS's certificate parser refuses",
      }));
      expect(new Certificate(certificate([vendor("1.3.6.1.4.1.2147483647")])).subject).toBe("CN=gw");
      const uuid = "2.25.329800735698586629295641978511506172918"; // X.667: a UUID as one arc
      expect(new Certificate(certificate([extension("2.5.29.32", derSequence(policy(derOid(uuid))))])).subject).toBe("CN=gw");
      // A policy is an x509.OID of any size in current Go (go1.19.8 refused an arc of 2^31 or more); before, an arc of
      // more than 140 bits was refused.
      const arc162 = oidOf(`2a03${"82".padEnd(46, "80")}00`); // 1.2.3.(2^162)
      writeFileSync(path("policy-162.der"), certificate([extension("2.5.29.32", derSequence(policy(arc162)))]));
      expect(openssl(["x509", "-inform", "DER", "-in", path("policy-162.der"), "-noout", "-text"])).toContain(`Policy: 1.2.3.${2n ** 162n}`);
      expect(new Certificate(readFileSync(path("policy-162.der"))).subject).toBe("CN=gw");
      // 16384 is 81 80 00: an 80 inside a subidentifier is not a leading one.
      expect(new Certificate(certificate([extension("2.5.29.32", derSequence(policy(derOid("1.2.3.16384"))))])).subject).toBe("CN=gw");
    });

    it("a certificate with an extension twice (a standard one, a vendor's) is refused as Go refuses it (RFC 5280 §4.2)", () => {
      const keyUsage = extension("2.5.29.15", derTlv(0x03, Buffer.from([0x07, 0x80])));
      const vendor = extension("1.3.6.1.4.1.99999.1", Buffer.from([0x05, 0x00]));
      for (const [file, extensions, oid] of [["key-usage-twice.der", [keyUsage, vendor, keyUsage], "2.5.29.15"], ["vendor-twice.der", [vendor, keyUsage, vendor], "1.3.6.1.4.1.99999.1"]] as const) {
        writeFileSync(path(file), certificate([...extensions]));
        expect(openssl(["x509", "-inform", "DER", "-in", path(file), "-noout", "-text"]).split(oid === "2.5.29.15" ? "X509v3 Key Usage" : oid)).toHaveLength(3);
        expect(() => new Certificate(readFileSync(path(file)), file)).toThrow(expect.objectContaining({
          code: "CERTIFICATE_INVALID", message: `${file} has the extension ${oid} twice`,
          hint: "RFC 5280 allows each extension once and AWS's parser refuses the certificate: have it issued again",
        }));
      }
      expect(new Certificate(certificate([keyUsage, vendor])).subject).toBe("CN=gw");
    });

    it("a vendor's extension (critical or not) is not read, as Go does not: raw bytes or BER in it are sent as they are", () => {
      const raw = extension("1.3.6.1.4.1.41482.3.8", Buffer.from([0x01, 0x01])); // a YubiKey attestation's PIN and touch policies
      const ber = derSequence(derOid("1.3.6.1.4.1.99999.1"), derTlv(0x01, Buffer.from([0xff])), derTlv(0x04, longForm(derSequence(derTlv(0x02, Buffer.from([5]))))));
      expect(new Certificate(certificate([raw, ber])).subject).toBe("CN=gw");
    });
  });

  it("reads a bundle with comments, keeping order", async () => {
    const bundle = await readCertificateBundle(path("bundle-with-comments.pem"));
    expect(bundle.certificates.map((c) => c.subject)).toEqual(["CN=Read Root", "CN=Read Root"]);
  });

  it("a certificate file of a leaf and more than 100 CA certificates is refused as it is read, before any is parsed (its #103 is no certificate)", async () => {
    const broken = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"; // 30 03 02 01 01: DER, no certificate
    writeFileSync(path("leaf-and-1000.pem"), leaf.certPem + root.certPem.repeat(101) + broken + root.certPem.repeat(897));
    const e = await expectAgentError(readCertificateFile(path("leaf-and-1000.pem")), "CHAIN_INVALID");
    expect(e.message).toBe(`invalid certificate chain: 999 certificates, more than the 100 sent at most (the 101st is ${path("leaf-and-1000.pem")} (certificate #102))`);
    writeFileSync(path("leaf-and-100.pem"), leaf.certPem + root.certPem.repeat(100));
    expect((await readCertificateFile(path("leaf-and-100.pem"))).certificates).toHaveLength(101);
  });

  it("a bundle that is not sent (doctor's --trust-anchors) of more than 101 certificates is read whole: the chain's cap is not its", async () => {
    writeFileSync(path("anchors-150.pem"), root.certPem.repeat(150));
    expect((await readCertificateBundle(path("anchors-150.pem"), "--trust-anchors", false)).certificates).toHaveLength(150);
  });

  it("a bundle with a non-certificate block: CHAIN_INVALID naming the block", async () => {
    const e = await expectAgentError(readCertificateBundle(path("bundle-with-key.pem")), "CHAIN_INVALID");
    expect(e.message).toContain("invalid certificate chain");
    expect(e.message).toContain("PRIVATE KEY");
    expect(e.hint).toBe("--intermediates must hold only CERTIFICATE blocks"); // the option by default (a library caller's, install-certificate)
  });

  // Round 33: doctor's one read (checks.ts readIntermediates) is judged as the signer's own read of the file would be.
  it("certificateBundle (an input read already, doctor's): the same cap, hint and wiped bytes as readCertificateBundle", async () => {
    const stamp = { mtimeMs: 0, size: 0, ino: 0 };
    const over = Buffer.from(root.certPem.repeat(101));
    const e = await expectAgentError(Promise.resolve().then(() => certificateBundle({ bytes: over, stamp }, "chain.pem")), "CHAIN_INVALID");
    expect(e.message).toBe("invalid certificate chain: 101 certificates, more than the 100 sent at most (the 101st is chain.pem (certificate #101))");
    expect(over.every((b) => b === 0)).toBe(true);
    const empty = await expectAgentError(Promise.resolve().then(() => certificateBundle({ bytes: Buffer.from("no PEM\n"), stamp }, "empty.pem")), "CHAIN_INVALID");
    expect(empty.hint).toBe("--intermediates must be a PEM bundle of CA certificates");
    expect(certificateBundle({ bytes: Buffer.from(root.certPem.repeat(100)), stamp }, "chain.pem").certificates).toHaveLength(100);
  });

  it.each([
    ["X509 CRL", 'a PEM block labelled "X509 CRL"'],
    ["CERTIFICATE REQUEST", 'a PEM block labelled "CERTIFICATE REQUEST"'],
    ["EC PRIVATE KEY", 'a PEM block labelled "EC PRIVATE KEY"'],
    ["\u001b[2J\u009bX", "a PEM block that is not a CERTIFICATE"],
    ["X".repeat(65), "a PEM block that is not a CERTIFICATE"],
  ])("a bundle with a %j block: one grammatical line, no control characters", async (label, expected) => {
    writeFileSync(path("stray.pem"), `${root.certPem}-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`, "latin1");
    const e = await expectAgentError(readCertificateBundle(path("stray.pem")), "CHAIN_INVALID");
    expect(e.message).toBe(`invalid certificate chain: ${path("stray.pem")} contains ${expected}`);
  });

  it("an empty or broken bundle: CHAIN_INVALID", async () => {
    await expectAgentError(readCertificateBundle(path("empty.pem")), "CHAIN_INVALID");
    await expectAgentError(readCertificateBundle(path("bad-der.pem")), "CHAIN_INVALID");
    await expectAgentError(readCertificateBundle(path("absent.pem")), "FILE_NOT_FOUND");
  });
});

describe("reading certificates from plain JavaScript", () => {
  it("a path that is not a string is a USAGE error naming the argument, not a TypeError", async () => {
    for (const path of [null, undefined, 5, {}]) {
      for (const [name, read] of [["readCertificateFile", readCertificateFile], ["readCertificateBundle", readCertificateBundle]] as const) {
        const e = await expectAgentError(read(path as string), "USAGE");
        expect(e.message).toBe(`${name}: path must be a string`);
      }
    }
  });

  it("new Certificate of what is not bytes (a path, a number, null) is a USAGE error, not a TypeError", () => {
    for (const der of ["cert.pem", 5, null, undefined, {}]) {
      expect(() => new Certificate(der as never)).toThrow(
        expect.objectContaining({ code: "USAGE", message: "new Certificate: der must be bytes (a Buffer)" }),
      );
    }
  });
});

describe("PEM and DER outlines", () => {
  it("decodes headers and rejects bad base64", () => {
    const [block] = decodePemBlocks("-----BEGIN RSA PRIVATE KEY-----\nComment: by hand\nX-Note: a\n\nAAAA\n-----END RSA PRIVATE KEY-----\n", "x");
    expect(block?.headers).toEqual({ Comment: "by hand", "X-Note": "a" });
    expect(block?.der).toEqual(Buffer.from([0, 0, 0]));
    expect(() => decodePemBlocks("-----BEGIN X-----\nA*A=\n-----END X-----", "x")).toThrow(/not valid base64/);
  });

  it("refuses a legacy-encrypted block of any label in one line, exit 3 (was: its ciphertext read as the certificate)", async () => {
    const { main } = await import("../../src/cli/main.js");
    const { dir, cleanup } = makeTempDir("raa-pem-encrypted-");
    try {
      const leafPem = issueLeaf(createCa(join(dir, "ca"), { name: "Enc CA" }), dir, { name: "enc", keyType: "p256" }).certPem;
      const encrypt = (pem: string) => pem.replace(/-----\n/, "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n");
      const file = join(dir, "encrypted-cert.pem");
      writeFileSync(file, encrypt(leafPem));
      const message = `${file}: a PEM block labelled "CERTIFICATE" is encrypted (Proc-Type: 4,ENCRYPTED), which is not supported`;
      const e = await expectAgentError(readCertificateFile(file), "PEM_INVALID");
      expect(e.message).toBe(message);
      expect(e.hint).toContain("certificates are never encrypted: export it again without encryption");
      let stderr = "";
      const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
      expect(await main(["read-certificate-data", "--certificate", file], io)).toBe(3);
      expect(stderr).toBe(`roles-anywhere-agent: ${message} (certificates are never encrypted: export it again without encryption)\n`);
      expect(stderr).not.toMatch(/\n\s+at |internal error/);
      const tss2 = encrypt("-----BEGIN TSS2 PRIVATE KEY-----\nMAA=\n-----END TSS2 PRIVATE KEY-----\n");
      expect(() => decodePemBlocks(tss2, "k.pem")).toThrow(/^k\.pem: a PEM block labelled "TSS2 PRIVATE KEY" is encrypted/);
      // Other headers are skipped, as before: the certificate is read.
      writeFileSync(file, leafPem.replace(/-----\n/, "-----\nComment: exported by hand\n\n"));
      expect((await readCertificateFile(file)).certificates).toHaveLength(1);
    } finally {
      cleanup();
    }
  });

  it("classifies DER structures by outline", () => {
    expect(classifyDer(Buffer.from("300602010102010a", "hex"))).toBeUndefined();
    expect(classifyDer(Buffer.from("3003020103", "hex"))).toBeUndefined();
    expect(classifyDer(Buffer.from("hello"))).toBeUndefined();
  });
});

describe("an empty path", () => {
  it("is named as empty, not as a file '' that does not exist (before: 'certificate file  does not exist')", async () => {
    for (const read of [readCertificateFile, readCertificateBundle]) {
      await expect(read("")).rejects.toMatchObject({ code: "FILE_NOT_FOUND", message: expect.stringMatching(/^no (certificate|intermediates) file given: the path is empty$/) });
    }
  });
});

describe("read-certificate-data --certificate", () => {
  it("takes a PKCS11: URI in any case as a token URI, as every other command does (before: 'certificate file … does not exist')", async () => {
    const { main } = await import("../../src/cli/main.js");
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
    expect(await main(["read-certificate-data", "--certificate", "PKCS11:bogus=1"], io)).toBe(3);
    expect(stderr).toMatch(/^roles-anywhere-agent: invalid pkcs11: URI: unknown attribute bogus \(/);
  });
});
