import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { loadKeyFile } from "../../../src/signers/file/key-material.js";
import { makeTempDir } from "../../helpers/pki.js";
import { children, readSingle } from "../../../src/encoding/der.js";
import { derTlv } from "../../../src/encoding/der-writer.js";
import { decodeDer, der, encodeDer, integerBytes, type DerNode } from "../../fuzz/der-tree.js";
import { pemOf } from "../../fuzz/engine.js";
import { expectAgentError, makeCa, makeKeyFixture, openssl, PASSWORD, readFileSync, run, type KeyFixture } from "./fixtures.js";

describe("private key errors", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let ec: KeyFixture;
  const path = (name: string) => join(tmp.dir, name);

  beforeAll(() => {
    tmp = makeTempDir("raa-keyerr-");
    ec = makeKeyFixture(makeCa(tmp.dir), tmp.dir, "p256");
    const encrypt = (out: string, extra: string[]) =>
      run(["pkcs8", "-topk8", "-in", ec.keyPath, "-out", path(out), "-passout", `pass:${PASSWORD}`, ...extra]);
    encrypt("aes.pem", ["-v2", "aes-256-cbc"]);
    encrypt("scrypt.pem", ["-scrypt"]);
    encrypt("camellia.pem", ["-v2", "camellia-256-cbc"]);
    run(["pkcs8", "-topk8", "-in", ec.keyPath, "-outform", "DER", "-out", path("aes.der"), "-passout", `pass:${PASSWORD}`, "-v2", "aes-256-cbc"]);
    const gen = (out: string, args: string[]) => run(["genpkey", ...args, "-out", path(out)]);
    gen("ed25519.pem", ["-algorithm", "ed25519"]);
    gen("ed448.pem", ["-algorithm", "ed448"]);
    gen("x25519.pem", ["-algorithm", "x25519"]);
    gen("secp256k1.pem", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"]);
    gen("p224.pem", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-224"]);
    gen("rsa-pss.pem", ["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"]);
    gen("rsa512.pem", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512"]);
    gen("rsa1024.pem", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]);
    run(["genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024", "-out", path("dsa.params")]);
    run(["genpkey", "-paramfile", path("dsa.params"), "-out", path("dsa.pem")]);
    run(["rsa", "-in", path("rsa1024.pem"), "-aes256", "-traditional", "-passout", `pass:${PASSWORD}`, "-out", path("legacy-encrypted.pem")]);
    const pem = readFileSync(ec.keyPath, "utf8");
    const lines = pem.split("\n");
    writeFileSync(path("garbled-base64.pem"), [lines[0], "!!!! not base64 ####", ...lines.slice(2)].join("\n"));
    writeFileSync(path("truncated.pem"), lines.slice(0, 3).join("\n") + "\n");
    writeFileSync(path("corrupt-body.pem"), `note text\n-----BEGIN PRIVATE KEY-----\n${Buffer.from("this is not DER at all").toString("base64")}\n-----END PRIVATE KEY-----\n`);
    writeFileSync(path("random.bin"), Buffer.from("just some text, neither PEM nor DER"));
    writeFileSync(path("cert-only.pem"), readFileSync(ec.certPath));
    writeFileSync(path("openssh.pem"), "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
  }, 60_000);
  afterAll(() => tmp.cleanup());
  afterEach(() => vi.unstubAllEnvs());

  it.each(["aes.pem", "scrypt.pem", "aes.der"])("%s with a wrong password: PASSWORD_INCORRECT, password not echoed", async (name) => {
    const wrong = "Tr0ub4dor&3-wrong";
    const e = await expectAgentError(loadKeyFile(path(name), { keyPassword: { kind: "value", value: wrong } }), "PASSWORD_INCORRECT", wrong);
    expect(e.message).toContain("incorrect PKCS#8 private key password");
    expect(e.toOneLine()).not.toContain(PASSWORD);
  });

  it("an encrypted key without a password and without a terminal: PASSWORD_REQUIRED naming the options", async () => {
    vi.stubEnv("CI", "true");
    const e = await expectAgentError(loadKeyFile(path("aes.pem"), {}), "PASSWORD_REQUIRED");
    expect(e.message).toContain(path("aes.pem"));
    expect(e.hint).toContain("--pkcs8-password-file");
    expect(e.hint).toContain("--pkcs8-password-env");
  });

  it("reads the password from a file and from the environment", async () => {
    writeFileSync(path("password.txt"), `${PASSWORD}\n`);
    await expect(loadKeyFile(path("aes.pem"), { keyPassword: { kind: "file", path: path("password.txt") } })).resolves.toBeDefined();
    vi.stubEnv("RAA_TEST_KEY_PASSWORD", PASSWORD);
    await expect(loadKeyFile(path("aes.pem"), { keyPassword: { kind: "env", name: "RAA_TEST_KEY_PASSWORD" } })).resolves.toBeDefined();
  });

  it("accepts a password for an unencrypted key, saying so under --debug", async () => {
    const lines: string[] = [];
    await loadKeyFile(ec.keyPath, { keyPassword: { kind: "value", value: "unused-secret" }, debug: (l) => lines.push(l) });
    expect(lines.join("\n")).toContain("not encrypted");
    expect(lines.join("\n")).not.toContain("unused-secret");
  });

  it.each([
    ["ed25519.pem", "Ed25519"],
    ["ed448.pem", "Ed448"],
    ["x25519.pem", "X25519"],
    ["dsa.pem", "DSA"],
    ["rsa-pss.pem", "RSA-PSS"],
    ["secp256k1.pem", "secp256k1"],
    ["p224.pem", "secp224r1"],
    ["rsa512.pem", "RSA 512-bit"],
    ["openssh.pem", "OPENSSH PRIVATE KEY"],
  ])("%s: PRIVATE_KEY_UNSUPPORTED naming %s", async (name, type) => {
    const e = await expectAgentError(loadKeyFile(path(name), {}), "PRIVATE_KEY_UNSUPPORTED");
    expect(e.message).toContain(type);
    expect(e.hint).toMatch(/RSA|ECDSA/);
  });

  it.each([
    ["OPENSSH PRIVATE KEY", 'holds a PEM block labelled "OPENSSH PRIVATE KEY", which is not supported'],
    ["\u001b]0;x\u0007 PRIVATE KEY", "holds a private key block of another kind, which is not supported"],
  ])("a %j block: one grammatical line, no control characters", async (label, expected) => {
    writeFileSync(path("other.pem"), `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`, "latin1");
    const e = await expectAgentError(loadKeyFile(path("other.pem"), {}), "PRIVATE_KEY_UNSUPPORTED");
    expect(e.message).toBe(`${path("other.pem")} ${expected}`);
  });

  it("a block without its END line is named by a printable label only", async () => {
    writeFileSync(path("no-end.pem"), "-----BEGIN \u001b[2J-----\nAAAA\n", "latin1");
    const e = await expectAgentError(loadKeyFile(path("no-end.pem"), {}), "PEM_INVALID");
    expect(e.message).toContain("a PEM block has no END line");
    expect(e.message).not.toContain("\u001b");
  });

  it("legacy OpenSSL PEM encryption is refused with a conversion hint", async () => {
    const e = await expectAgentError(loadKeyFile(path("legacy-encrypted.pem"), { keyPassword: { kind: "value", value: PASSWORD } }), "PRIVATE_KEY_UNSUPPORTED");
    expect(e.hint).toContain("openssl pkcs8 -topk8");
  });

  it.each(["PRIVATE KEY", "ENCRYPTED PRIVATE KEY"])("legacy PEM encryption under a %s label (openssl decrypts it): the same refusal", async (label) => {
    const legacy = readFileSync(path("legacy-encrypted.pem"), "utf8").replaceAll("RSA PRIVATE KEY", label);
    writeFileSync(path("legacy-relabelled.pem"), legacy);
    // The oracle: openssl reads it with the password.
    expect(openssl(["pkey", "-in", path("legacy-relabelled.pem"), "-passin", `pass:${PASSWORD}`, "-pubout"])).toContain("PUBLIC KEY");
    const options = { keyPassword: { kind: "value" as const, value: PASSWORD } };
    const e = await expectAgentError(loadKeyFile(path("legacy-relabelled.pem"), options), "PRIVATE_KEY_UNSUPPORTED", PASSWORD);
    expect(e.message).toBe(`${path("legacy-relabelled.pem")} uses legacy OpenSSL PEM encryption, which is not supported`);
  });

  it("an unsupported PBES2 cipher (Camellia) is named", async () => {
    const e = await expectAgentError(loadKeyFile(path("camellia.pem"), { keyPassword: { kind: "value", value: PASSWORD } }), "PRIVATE_KEY_UNSUPPORTED");
    expect(e.message).toContain("PBES2 cipher");
  });

  it("RSA 1024 is accepted (as the Go helper does) with a --debug note", async () => {
    const lines: string[] = [];
    const { key } = await loadKeyFile(path("rsa1024.pem"), { debug: (l) => lines.push(l) });
    expect(key.description).toBe("RSA 1024");
    expect(lines.some((l) => l.includes("1024-bit key accepted"))).toBe(true);
  });

  it.each([
    ["garbled-base64.pem", "PEM_INVALID"],
    ["truncated.pem", "PEM_INVALID"],
    ["corrupt-body.pem", "PRIVATE_KEY_INVALID"],
    ["random.bin", "PRIVATE_KEY_INVALID"],
    ["cert-only.pem", "PRIVATE_KEY_INVALID"],
  ] as const)("%s: %s", async (name, code) => {
    const e = await expectAgentError(loadKeyFile(path(name), {}), code);
    expect(e.message).toContain(path(name));
  });

  it("a missing file: FILE_NOT_FOUND naming the path", async () => {
    const e = await expectAgentError(loadKeyFile(path("nope.pem"), {}), "FILE_NOT_FOUND");
    expect(e.message).toContain(path("nope.pem"));
  });

  it("a directory: FILE_UNREADABLE", async () => {
    await expectAgentError(loadKeyFile(tmp.dir, {}), "FILE_UNREADABLE");
  });

  it("openssl itself agrees the garbled files are unusable (fixtures are really broken)", () => {
    expect(() => openssl(["pkey", "-in", path("corrupt-body.pem"), "-noout"])).toThrow();
  });
  it.each([
    ["PKCS#8", ["pkcs8", "-topk8", "-nocrypt"], "PRIVATE KEY"],
    ["SEC1", ["ec"], "EC PRIVATE KEY"],
    ["encrypted PKCS#8", ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", `pass:${PASSWORD}`], "ENCRYPTED PRIVATE KEY"],
  ])("a DER %s key that openssl reads although it is followed by bytes, or BER: one line saying which", async (_, args, label) => {
    run([...args, "-in", ec.keyPath, "-outform", "DER", "-out", path("plain.der")]);
    const der = readFileSync(path("plain.der"));
    const body = der.subarray(2 + (der[1]! & 0x80 ? der[1]! & 0x7f : 0));
    const variants = [
      ["trailing.der", Buffer.concat([der, Buffer.from("\0\0junk")]), `holds a DER ${label} followed by 6 bytes that are not part of it`],
      ["ber.der", Buffer.concat([Buffer.from([0x30, 0x80]), body, Buffer.alloc(2)]), "is not DER-encoded: it has an indefinite length (BER, not DER)"],
      // Both (round 33, scripts/fuzz-pkcs12.mjs: it was 'holds no private key').
      ["ber-trailing.der", Buffer.concat([Buffer.from([0x30, 0x80]), body, Buffer.alloc(2), Buffer.alloc(2)]), "is not DER-encoded: it has an indefinite length (BER, not DER)"],
      ["trailing.pem", Buffer.from(`-----BEGIN ${label}-----\n${Buffer.concat([der, Buffer.alloc(1)]).toString("base64")}\n-----END ${label}-----\n`), label === "ENCRYPTED PRIVATE KEY" ? "unusable: trailing data after DER element" : "(trailing data after DER element)"],
    ] as const;
    for (const [name, bytes, expected] of variants) {
      writeFileSync(path(name), bytes);
      // The oracle: openssl reads the same key from these bytes.
      expect(openssl(["pkey", "-in", path(name), "-passin", `pass:${PASSWORD}`, "-pubout"])).toContain("PUBLIC KEY");
      const e = await expectAgentError(loadKeyFile(path(name), { keyPassword: { kind: "value", value: PASSWORD } }), "PRIVATE_KEY_INVALID", PASSWORD);
      expect(e.message).toContain(`${path(name)} `);
      expect(e.message).toContain(expected);
      if (name === "trailing.der") expect(e.hint).toBe("export the key again as DER or PEM (`openssl pkey -in KEY -out NEW`)");
    }
  });
  it.each([
    ["PKCS#8", ["pkcs8", "-topk8", "-nocrypt"], "openssl pkey -in KEY -out NEW", "PRIVATE KEY"],
    ["SEC1", ["ec"], "openssl pkey -in KEY -out NEW", undefined],
    ["encrypted PKCS#8", ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", `pass:${PASSWORD}`], "openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW", "ENCRYPTED PRIVATE KEY"],
  ])("a DER %s key that openssl reads with BER inside (an OCTET STRING in pieces, an indefinite length), or a PEM one: named, with the command that converts it", async (_, args, fix, label) => {
    run([...args, "-in", ec.keyPath, "-outform", "DER", "-out", path("inner.der")]);
    const items = children(readSingle(readFileSync(path("inner.der"))));
    const raws = items.map((i) => i.raw);
    const at = (tag: number) => items.findIndex((i) => i.tag === tag);
    const octets = items[at(0x04)]!.content;
    const pieces = Buffer.concat([Buffer.from([0x04, 8]), octets.subarray(0, 8), derTlv(0x04, octets.subarray(8))]);
    const indefinite = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag, 0x80]), content, Buffer.alloc(2)]);
    const withItem = (index: number, item: Buffer) => derTlv(0x30, Buffer.concat(raws.map((r, i) => (i === index ? item : r))));
    const variants: Array<[string, Buffer, string]> = [
      ["pieces.der", withItem(at(0x04), derTlv(0x24, pieces)), "a string in constructed form"],
      ["pieces-indefinite.der", withItem(at(0x04), indefinite(0x24, pieces)), "an indefinite length (BER, not DER)"],
      ...(at(0x30) < 0 ? [] : [["inner-indefinite.der", withItem(at(0x30), indefinite(0x30, items[at(0x30)]!.content)), "an indefinite length (BER, not DER)"] as [string, Buffer, string]]),
    ];
    // The same bytes in a PEM block (before: 'the encryption parameters … are unusable', 'a malformed PKCS#8 key').
    if (label) variants.push(...variants.map(([name, bytes, what]): [string, Buffer, string] => [`${name}.pem`, Buffer.from(pemOf(label, bytes)), what]));
    for (const [name, bytes, what] of variants) {
      writeFileSync(path(name), bytes);
      // The oracle: openssl reads the same key from these bytes (but for a plain PKCS#8 in PEM whose key is in pieces:
      // the line is right for it too).
      const reads = (() => {
        try {
          return openssl(["pkey", "-in", path(name), "-passin", `pass:${PASSWORD}`, "-pubout"]).includes("PUBLIC KEY");
        } catch {
          return false;
        }
      })();
      expect(reads, name).toBe(!(label === "PRIVATE KEY" && /^pieces.*\.pem$/.test(name)));
      const e = await expectAgentError(loadKeyFile(path(name), { keyPassword: { kind: "value", value: PASSWORD } }), "PRIVATE_KEY_INVALID", PASSWORD);
      expect(e.message).toBe(`unable to parse private key: ${path(name)} is not DER-encoded: it has ${what}`);
      expect(e.hint).toContain(fix);
    }
  });
  it("a DER key whose length field is longer than 4 bytes (non-minimal: zeros first), outside or inside: named as not DER, not 'no private key'", async () => {
    run(["pkcs8", "-topk8", "-nocrypt", "-in", ec.keyPath, "-outform", "DER", "-out", path("long.der")]);
    const items = children(readSingle(readFileSync(path("long.der"))));
    const long = (tag: number, content: Buffer, n: number) => {
      const length = Buffer.alloc(n);
      length.writeUInt32BE(content.length, n - 4);
      return Buffer.concat([Buffer.from([tag, 0x80 | n]), length, content]);
    };
    const octets = items.findIndex((i) => i.tag === 0x04);
    const inner = Buffer.concat(items.map((i, at) => (at === octets ? long(0x04, i.content, 5) : i.raw)));
    const variants: Array<[string, Buffer, number, boolean]> = [
      // The oracle: openssl reads a length of up to 8 bytes (sizeof(long)), not 9.
      ["outer-5.der", long(0x30, Buffer.concat(items.map((i) => i.raw)), 5), 5, true],
      ["inner-5.der", derTlv(0x30, inner), 5, true],
      ["outer-9.der", long(0x30, Buffer.concat(items.map((i) => i.raw)), 9), 9, false],
    ];
    for (const [name, bytes, n, reads] of variants) {
      writeFileSync(path(name), bytes);
      const opensslReads = (() => {
        try {
          return openssl(["pkey", "-inform", "DER", "-in", path(name), "-pubout"]).includes("PUBLIC KEY");
        } catch {
          return false;
        }
      })();
      expect(opensslReads, name).toBe(reads);
      const e = await expectAgentError(loadKeyFile(path(name), {}), "PRIVATE_KEY_INVALID");
      expect(e.message).toBe(`unable to parse private key: ${path(name)} is not DER-encoded: it has a ${n}-byte length field (more than 4)`);
      expect(e.hint).toContain("openssl pkey -in KEY -out NEW");
    }
  });
  it("a DER file that is not a key, followed by other bytes (a certificate, a PKCS#12 file, a SEQUENCE of an INTEGER), a certificate in BER, a SEQUENCE cut short, an OCTET STRING with a long length: 'holds no private key', not a DER key or BER named", async () => {
    const cert = readFileSync(ec.certPath, "utf8").split("\n").filter((l) => !l.startsWith("-----")).join("");
    const certDer = Buffer.from(cert, "base64");
    run(["pkcs12", "-export", "-inkey", ec.keyPath, "-in", ec.certPath, "-out", path("id.p12"), "-passout", `pass:${PASSWORD}`]);
    const certBody = certDer.subarray(2 + (certDer[1]! & 0x7f));
    const variants: Array<[string, Buffer]> = [
      ["cert-trailing.der", Buffer.concat([certDer, Buffer.from("\0\0junk")])],
      ["p12-trailing.der", Buffer.concat([readFileSync(path("id.p12")), Buffer.from("\0\0junk")])],
      ["integer-trailing.der", Buffer.from([0x30, 3, 2, 1, 0, 0, 0])],
      ["cert-ber.der", Buffer.concat([Buffer.from([0x30, 0x80]), certBody, Buffer.alloc(2)])],
      // Not a key in BER either: cut short, or not a SEQUENCE (whatever its length's form).
      ["truncated.der", Buffer.from([0x30, 5, 2, 1])],
      ["octets-5.der", Buffer.from("048500000000" + "01aa", "hex")],
    ];
    for (const [name, bytes] of variants) {
      writeFileSync(path(name), bytes);
      const e = await expectAgentError(loadKeyFile(path(name), {}), "PRIVATE_KEY_INVALID");
      expect(e.message, name).toBe(`unable to parse private key: ${path(name)} holds no private key`);
    }
  });
  it("a DER key with another version number: refused with the version named (PKCS#8 beyond RFC 5958's v2, SEC1), not 'no private key'", async () => {
    const withVersion = (name: string, args: string[], version: number) => {
      run([...args, "-in", ec.keyPath, "-outform", "DER", "-out", path(name)]);
      const der = readFileSync(path(name));
      const at = 2 + (der[1]! & 0x80 ? der[1]! & 0x7f : 0);
      expect(der.subarray(at, at + 2)).toEqual(Buffer.from([2, 1]));
      der[at + 2] = version;
      writeFileSync(path(name), der);
    };
    // PKCS#8 version 2: OpenSSL 3.0 (Node 20) and Go read it, OpenSSL 3.5 (Node 22, 24) refuses it, as the agent's
    // ML-DSA reader does; before, the agent followed whichever Node ran it. The versions RFC 5958 defines: pkcs8-versions.test.ts.
    withVersion("v2.p8", ["pkcs8", "-topk8", "-nocrypt"], 2);
    const p8 = await expectAgentError(loadKeyFile(path("v2.p8"), {}), "PRIVATE_KEY_INVALID");
    expect(p8.message).toBe(`unable to parse private key: ${path("v2.p8")} holds a malformed PKCS#8 key (its version is 2; RFC 5958 defines only 0 and 1)`);
    withVersion("v2.sec1", ["ec"], 2);
    expect(openssl(["pkey", "-in", path("v2.sec1"), "-pubout"])).toContain("PUBLIC KEY"); // OpenSSL reads it
    const e = await expectAgentError(loadKeyFile(path("v2.sec1"), {}), "PRIVATE_KEY_INVALID");
    expect(e.message).toBe(`unable to parse private key: ${path("v2.sec1")} holds a malformed EC PRIVATE KEY (ECPrivateKey version is not 1)`);
  });
  it.each([
    ["a second PRF after PBKDF2's", "aes.der", [0, 1, 0, 1], 2],
    ["a second IV in the cipher's AlgorithmIdentifier", "aes.der", [0, 1, 1], 1],
    ["a second cipher after PBES2's", "aes.der", [0, 1], 1],
    ["a sixth scrypt parameter", "scrypt.der", [0, 1, 0, 1], 0],
    ["a third field in EncryptedPrivateKeyInfo", "aes.der", [], 1],
  ] as const)("encryption parameters with %s (openssl refuses them): refused, not read past", async (_, name, at, copy) => {
    if (name === "scrypt.der") run(["pkcs8", "-in", path("scrypt.pem"), "-passin", `pass:${PASSWORD}`, "-topk8", "-scrypt", "-outform", "DER", "-out", path(name), "-passout", `pass:${PASSWORD}`]);
    const tree = decodeDer(readFileSync(path(name)))!;
    const parent = at.reduce((node, i) => node.children![i]!, tree);
    // scrypt's fifth field (keyLength) is optional: a sixth is the surplus.
    for (const _ of name === "scrypt.der" ? [1, 2] : [1]) parent.children!.push(structuredClone(parent.children![copy]!));
    writeFileSync(path("surplus.der"), pemOf("ENCRYPTED PRIVATE KEY", encodeDer(tree)));
    // The oracle: openssl refuses it, even with the right password.
    expect(() => run(["pkey", "-in", path("surplus.der"), "-passin", `pass:${PASSWORD}`, "-noout"])).toThrow();
    const options = { keyPassword: { kind: "value" as const, value: PASSWORD } };
    const e = await expectAgentError(loadKeyFile(path("surplus.der"), options), "PRIVATE_KEY_INVALID", PASSWORD);
    expect(e.message).toMatch(/^unable to parse private key: the encryption parameters of .* are unusable: (\d elements where at most \d belong|PBKDF2 parameters after the PRF)$/);
  });
  it("an encrypted key whose decrypted PrivateKeyInfo is followed by bytes (openssl reads it): says so, not 'incorrect password'", async () => {
    // Found by the differential fuzzer (seed 105005, case #1885): ciphertext blocks repeated after the last one leave
    // the padding valid, and the plaintext is the key, its old padding and other blocks.
    const der = readFileSync(path("aes.der"));
    const ciphertext = children(readSingle(der))[1]!.content;
    const tree = decodeDer(der)!;
    tree.children![1] = { tag: 4, value: Buffer.concat([ciphertext, ciphertext.subarray(-32)]) };
    writeFileSync(path("decrypted-trailing.der"), encodeDer(tree));
    expect(openssl(["pkey", "-in", path("decrypted-trailing.der"), "-passin", `pass:${PASSWORD}`, "-pubout"])).toContain("PUBLIC KEY");
    const options = { keyPassword: { kind: "value" as const, value: PASSWORD } };
    const e = await expectAgentError(loadKeyFile(path("decrypted-trailing.der"), options), "PRIVATE_KEY_INVALID", PASSWORD);
    expect(e.message).toBe(
      `unable to parse private key: the decrypted PKCS#8 private key in ${path("decrypted-trailing.der")} is followed by 32 bytes that are not part of it`,
    );
  });
  it.each([
    ["an empty INTEGER (seed 157229, case #877)", [2, 0], "an empty or non-minimal INTEGER"],
    ["an INTEGER with a leading zero byte", [2, 2, 0, 5], "an empty or non-minimal INTEGER"],
    ["an empty BOOLEAN", [1, 0], "a BOOLEAN that is not one byte"],
    ["a BIT STRING claiming 8 unused bits", [3, 1, 8], "a BIT STRING without its unused-bits count"],
    ["an empty OID", [6, 0], "a malformed OID"],
    ["an OID arc with a leading 0x80", [6, 2, 0x80, 1], "a malformed OID"],
    ["a BMPString of odd length", [0x1e, 1, 0x41], "a truncated string"],
  ])("a PBKDF2 PRF whose parameters are %s (openssl refuses them): refused as malformed, not read", async (_, tlv, problem) => {
    const tree = decodeDer(readFileSync(path("aes.der")))!;
    const prf = tree.children![0]!.children![1]!.children![0]!.children![1]!.children![2]!;
    prf.children![1] = decodeDer(Buffer.from(tlv)) ?? { tag: tlv[0]!, value: Buffer.from(tlv.slice(2)) };
    writeFileSync(path("prf-params.pem"), pemOf("ENCRYPTED PRIVATE KEY", encodeDer(tree)));
    expect(() => run(["pkey", "-in", path("prf-params.pem"), "-passin", `pass:${PASSWORD}`, "-noout"])).toThrow();
    const options = { keyPassword: { kind: "value" as const, value: PASSWORD } };
    const e = await expectAgentError(loadKeyFile(path("prf-params.pem"), options), "PRIVATE_KEY_INVALID", PASSWORD);
    expect(e.message).toMatch(new RegExp(`are unusable: AlgorithmIdentifier parameters that are ${problem}$`));
  });
  it("a PBKDF2 iteration count with a leading zero byte (openssl refuses it): refused as malformed", async () => {
    const tree = decodeDer(readFileSync(path("aes.der")))!;
    const iterations = tree.children![0]!.children![1]!.children![0]!.children![1]!.children![1]!;
    iterations.value = Buffer.concat([Buffer.alloc(1), iterations.value!]);
    writeFileSync(path("iterations.pem"), pemOf("ENCRYPTED PRIVATE KEY", encodeDer(tree)));
    expect(() => run(["pkey", "-in", path("iterations.pem"), "-passin", `pass:${PASSWORD}`, "-noout"])).toThrow();
    const options = { keyPassword: { kind: "value" as const, value: PASSWORD } };
    const e = await expectAgentError(loadKeyFile(path("iterations.pem"), options), "PRIVATE_KEY_INVALID", PASSWORD);
    expect(e.message).toMatch(/are unusable: an INTEGER with a leading zero byte$/);
  });
  it("a PBKDF2 PRF whose NULL parameters hold bytes (openssl refuses it): refused, not read past", async () => {
    const tree = decodeDer(readFileSync(path("aes.der")))!;
    const prf = tree.children![0]!.children![1]!.children![0]!.children![1]!.children![2]!;
    expect(prf.children![1]).toEqual({ tag: 5, value: Buffer.alloc(0) });
    prf.children![1]!.value = Buffer.from("junk!");
    writeFileSync(path("prf-null.pem"), pemOf("ENCRYPTED PRIVATE KEY", encodeDer(tree)));
    expect(() => run(["pkey", "-in", path("prf-null.pem"), "-passin", `pass:${PASSWORD}`, "-noout"])).toThrow();
    const options = { keyPassword: { kind: "value" as const, value: PASSWORD } };
    const e = await expectAgentError(loadKeyFile(path("prf-null.pem"), options), "PRIVATE_KEY_INVALID", PASSWORD);
    expect(e.message).toMatch(/are unusable: a NULL with content$/);
  });
  it("a wrong IV or key length for the cipher, a salt from elsewhere: said so, not 'incorrect password'", async () => {
    const options = { keyPassword: { kind: "value" as const, value: PASSWORD } };
    type Code = "PRIVATE_KEY_INVALID" | "PRIVATE_KEY_UNSUPPORTED";
    const load = async (name: string, edit: (params: DerNode) => void, code: Code = "PRIVATE_KEY_INVALID") => {
      const tree = decodeDer(readFileSync(path("aes.der")))!;
      edit(tree.children![0]!.children![1]!); // PBES2-params { keyDerivationFunc, encryptionScheme }
      writeFileSync(path(name), pemOf("ENCRYPTED PRIVATE KEY", encodeDer(tree)));
      return (await expectAgentError(loadKeyFile(path(name), options), code, PASSWORD)).message;
    };
    // PBKDF2-params { salt, iterationCount, keyLength OPTIONAL, prf }
    const pbkdf2 = (params: DerNode) => params.children![0]!.children![1]!.children!;
    const shortIv = (params: DerNode) => {
      const iv = params.children![1]!.children![1]!;
      iv.value = iv.value!.subarray(0, 8);
    };
    expect(await load("iv8.pem", shortIv)).toMatch(/are unusable: IV of 8 bytes for aes-\d+-cbc$/);
    const keyLength = (params: DerNode) => pbkdf2(params).splice(2, 0, der.int(15));
    const unfit = /are unusable: KDF key length 15 does not fit the cipher \(\d+\)$/;
    expect(await load("keylength.pem", keyLength)).toMatch(unfit);
    const otherSalt = (params: DerNode) => {
      pbkdf2(params)[0] = der.seq(der.oid("1.2.3.4")); // salt CHOICE otherSource AlgorithmIdentifier
    };
    const message = await load("salt-other.pem", otherSalt, "PRIVATE_KEY_UNSUPPORTED");
    expect(message).toMatch(/a KDF salt that is not an OCTET STRING/);
  });
  it("a PKCS#12-PBE (3DES) key asking over 1,000,000 iterations of its slow KDF: refused before any", async () => {
    const args = ["-v1", "PBE-SHA1-3DES", "-outform", "DER", "-passout", `pass:${PASSWORD}`];
    run(["pkcs8", "-topk8", "-in", ec.keyPath, ...args, "-out", path("3des.der")]);
    const tree = decodeDer(readFileSync(path("3des.der")))!;
    tree.children![0]!.children![1]!.children![1]!.value = integerBytes(1_000_001n); // pkcs-12PbeParams iterations
    writeFileSync(path("3des-iter.pem"), pemOf("ENCRYPTED PRIVATE KEY", encodeDer(tree)));
    const options = { keyPassword: { kind: "value" as const, value: PASSWORD } };
    const e = await expectAgentError(loadKeyFile(path("3des-iter.pem"), options), "PRIVATE_KEY_INVALID", PASSWORD);
    expect(e.message).toMatch(/are unusable: iteration count 1000001 is more than the 1000000 this agent accepts$/);
  });
});
