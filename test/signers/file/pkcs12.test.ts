import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createHmac, createPublicKey, type KeyObject } from "node:crypto";
import { readPkcs12 } from "../../../src/signers/file/pkcs12.js";
import { createSigner } from "../../../src/signers/factory.js";
import { decodeDer, encodeDer, integerValue, type DerNode } from "../../fuzz/der-tree.js";
import { PKCS12_KEY_ID, pkcs12DeriveBytes } from "../../../src/signers/file/pkcs12-kdf.js";
import { Secret } from "../../../src/secrets/secret.js";
import { createCa, issueLeaf, makeTempDir, openssl, type CaHandle, type IssuedCertificate } from "../../helpers/pki.js";
import { expectAgentError, opensslVerifies, run } from "./fixtures.js";

describe("PKCS#12", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let root: CaHandle;
  let inter: CaHandle;
  let ecLeaf: IssuedCertificate;
  let rsaLeaf: IssuedCertificate;
  const path = (name: string) => join(tmp.dir, name);
  const p12 = (name: string) => readFileSync(path(name));
  const value = (v: string) => ({ keyPassword: { kind: "value" as const, value: v } });

  beforeAll(() => {
    tmp = makeTempDir("raa-p12-");
    root = createCa(join(tmp.dir, "ca"), { name: "P12 Root" });
    inter = createCa(join(tmp.dir, "ca"), { name: "P12 Issuing", parent: root });
    ecLeaf = issueLeaf(inter, tmp.dir, { name: "p12-ec", keyType: "p256" });
    rsaLeaf = issueLeaf(inter, tmp.dir, { name: "p12-rsa", keyType: "rsa2048" });
    writeFileSync(path("cas.pem"), inter.certPem + root.certPem);
    const exp = (out: string, leaf: IssuedCertificate, pass: string, extra: string[]) =>
      run(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-passout", `pass:${pass}`, "-out", path(out), ...extra]);
    exp("default.p12", ecLeaf, "s3cret", ["-certfile", path("cas.pem")]);
    exp("legacy-empty.p12", rsaLeaf, "", ["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"]);
    exp("legacy-pass.p12", ecLeaf, "test", ["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-certfile", path("cas.pem")]);
    exp("sha512-aes128.p12", rsaLeaf, "s3cret", ["-macalg", "sha512", "-keypbe", "AES-128-CBC", "-certpbe", "AES-128-CBC"]);
    exp("nomac.p12", ecLeaf, "s3cret", ["-nomac"]);
    exp("rc2.p12", ecLeaf, "s3cret", ["-legacy"]);
    exp("nocerts.p12", ecLeaf, "s3cret", ["-nocerts"]);
    run(["pkcs12", "-export", "-nokeys", "-in", ecLeaf.certPath, "-passout", "pass:s3cret", "-out", path("nokeys.p12")]);
    writeFileSync(path("truncated.p12"), p12("default.p12").subarray(0, 200));
  }, 60_000);
  afterAll(() => tmp.cleanup());
  afterEach(() => vi.unstubAllEnvs());

  it("reads OpenSSL 3's default (PBES2 AES-256-CBC, PBKDF2, SHA-256 MAC): leaf by key, chain without the leaf", async () => {
    const id = await readPkcs12(p12("default.p12"), path("default.p12"), value("s3cret"));
    expect(id.certificate.serialDecimal).toBe(ecLeaf.serialDecimal);
    expect(id.chain.map((c) => c.subject)).toEqual(["CN=P12 Issuing", "CN=P12 Root"]);
    // Named in messages (the chain cap's "the 101st is …") by file and position, as a PEM file's (before: "the certificate").
    expect([id.certificate, ...id.chain].map((c) => c.what)).toEqual([1, 2, 3].map((n) => `${path("default.p12")} (certificate #${n})`));
    const message = Buffer.from("p12 message");
    const pub = path("ec.pub");
    run(["pkey", "-in", ecLeaf.keyPath, "-pubout", "-out", pub]);
    expect(opensslVerifies(pub, message, id.key.sign(message, "SHA256"), "sha256", tmp.dir)).toBe(true);
  });

  it("reads the legacy form (3DES, SHA-1 MAC) with the empty password and no password option", async () => {
    const id = await readPkcs12(p12("legacy-empty.p12"), path("legacy-empty.p12"), {});
    expect(id.certificate.serialDecimal).toBe(rsaLeaf.serialDecimal);
    expect(id.chain).toEqual([]);
    expect(id.key.keyType).toBe("RSA");
  });

  it("reads the legacy form with a password, and a SHA-512 MAC with AES-128", async () => {
    const legacy = await readPkcs12(p12("legacy-pass.p12"), path("legacy-pass.p12"), value("test"));
    expect(legacy.certificate.serialDecimal).toBe(ecLeaf.serialDecimal);
    expect(legacy.chain).toHaveLength(2);
    const modern = await readPkcs12(p12("sha512-aes128.p12"), path("sha512-aes128.p12"), value("s3cret"));
    expect(modern.certificate.serialDecimal).toBe(rsaLeaf.serialDecimal);
  });

  it("a password that is not UTF-8 (a file's bytes): opens the file OpenSSL wrote with it, MAC and legacy 3DES key", async () => {
    writeFileSync(path("latin1.pw"), Buffer.from("p\xe4ss", "latin1"));
    const legacy = ["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"];
    run(["pkcs12", "-export", "-inkey", ecLeaf.keyPath, "-in", ecLeaf.certPath, "-passout", `file:${path("latin1.pw")}`, "-out", path("latin1.p12"), ...legacy]);
    const id = await readPkcs12(p12("latin1.p12"), path("latin1.p12"), { keyPassword: { kind: "file", path: path("latin1.pw") } });
    expect(id.certificate.serialDecimal).toBe(ecLeaf.serialDecimal);
  });

  it("a password whose bytes encode a surrogate (Java's modified UTF-8): opens the file OpenSSL wrote with it", async () => {
    writeFileSync(path("surrogate.pw"), Buffer.from("61eda08062", "hex"));
    run(["pkcs12", "-export", "-inkey", ecLeaf.keyPath, "-in", ecLeaf.certPath, "-passout", `file:${path("surrogate.pw")}`, "-out", path("surrogate.p12")]);
    const id = await readPkcs12(p12("surrogate.p12"), path("surrogate.p12"), { keyPassword: { kind: "file", path: path("surrogate.pw") } });
    expect(id.certificate.serialDecimal).toBe(ecLeaf.serialDecimal);
  });

  it("reads a file without a MAC, saying so under --debug", async () => {
    const lines: string[] = [];
    const id = await readPkcs12(p12("nomac.p12"), path("nomac.p12"), { ...value("s3cret"), debug: (l) => lines.push(l) });
    expect(id.certificate.serialDecimal).toBe(ecLeaf.serialDecimal);
    expect(lines.some((l) => l.includes("no MAC"))).toBe(true);
  });

  it("a wrong password: PASSWORD_INCORRECT (MAC checked), without the password in the message", async () => {
    await expectAgentError(readPkcs12(p12("default.p12"), path("default.p12"), value("wr0ng-guess")), "PASSWORD_INCORRECT", "wr0ng-guess");
    await expectAgentError(readPkcs12(p12("legacy-pass.p12"), path("legacy-pass.p12"), value("wr0ng-guess")), "PASSWORD_INCORRECT", "wr0ng-guess");
    await expectAgentError(readPkcs12(p12("nomac.p12"), path("nomac.p12"), value("wr0ng-guess")), "PASSWORD_INCORRECT", "wr0ng-guess");
  });

  it("a protected file with no password and no terminal: PASSWORD_REQUIRED", async () => {
    vi.stubEnv("CI", "true");
    const e = await expectAgentError(readPkcs12(p12("default.p12"), path("default.p12"), {}), "PASSWORD_REQUIRED");
    expect(e.hint).toContain("--pkcs8-password-file");
  });

  it("a protected file without a MAC, no password and no terminal: PASSWORD_REQUIRED, not a wrong password nobody gave", async () => {
    vi.stubEnv("CI", "true");
    const e = await expectAgentError(readPkcs12(p12("nomac.p12"), path("nomac.p12"), {}), "PASSWORD_REQUIRED");
    expect(e.message).toBe(`${path("nomac.p12")} is password-protected and no password was given`);
  });

  it("a protected file without a MAC and no password option: the password is asked for after the empty one fails", async () => {
    const prompt = vi.fn(async () => Secret.fromUtf8("s3cret"));
    vi.doMock("../../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal: prompt }));
    try {
      const id = await readPkcs12(p12("nomac.p12"), path("nomac.p12"), {});
      expect(id.certificate.serialDecimal).toBe(ecLeaf.serialDecimal);
      expect(prompt).toHaveBeenCalledTimes(1);
    } finally {
      vi.doUnmock("../../../src/secrets/terminal-prompt.js");
    }
  });

  it("RC2-40 (openssl -legacy) is refused with a clear message", async () => {
    const e = await expectAgentError(readPkcs12(p12("rc2.p12"), path("rc2.p12"), value("s3cret")), "PRIVATE_KEY_UNSUPPORTED");
    expect(e.message).toContain("RC2-40");
  });

  it("a file without certificates or without a key is refused", async () => {
    await expectAgentError(readPkcs12(p12("nocerts.p12"), path("nocerts.p12"), value("s3cret")), "CERTIFICATE_MISSING");
    await expectAgentError(readPkcs12(p12("nokeys.p12"), path("nokeys.p12"), value("s3cret")), "PKCS12_INVALID");
  });

  it("two key bags (Go: \"expected exactly one key bag\"): PKCS12_INVALID saying how many, not the first key", async () => {
    // Two unencrypted exports, their AuthenticatedSafes joined: one file holding two keys and both certificates.
    const trees = [ecLeaf, rsaLeaf].map((leaf, i) => {
      const out = path(`plain-${i}.p12`);
      const pbe = ["-keypbe", "NONE", "-certpbe", "NONE", "-nomac", "-passout", "pass:"];
      run(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, ...pbe, "-out", out]);
      return decodeDer(readFileSync(out))!;
    });
    const safeOf = (tree: DerNode) => tree.children![1]!.children![1]!.children![0]!.children![0]!;
    safeOf(trees[0]!).children!.push(...safeOf(trees[1]!).children!);
    writeFileSync(path("two-keys.p12"), encodeDer(trees[0]!));
    const keys = openssl(["pkcs12", "-in", path("two-keys.p12"), "-nodes", "-passin", "pass:"]).toString();
    expect(keys.match(/BEGIN PRIVATE KEY/g)).toHaveLength(2); // the oracle: openssl sees both keys
    const e = await expectAgentError(readPkcs12(p12("two-keys.p12"), path("two-keys.p12"), {}), "PKCS12_INVALID");
    expect(e.message).toBe(`PKCS#12 file ${path("two-keys.p12")} holds 2 private keys; the agent signs with one`);
    expect(e.hint).toContain("openssl pkcs12 -export -inkey KEY -in CERT -certfile CHAIN");
  });

  it("a chain certificate that is not an issuer on the leaf's path is not sent (the chain is the path)", async () => {
    const other = createCa(join(tmp.dir, "ca"), { name: "P12 Unrelated" });
    writeFileSync(path("extra.pem"), root.certPem + other.certPem + rsaLeaf.certPem + inter.certPem);
    const args = ["-inkey", ecLeaf.keyPath, "-in", ecLeaf.certPath, "-certfile", path("extra.pem"), "-passout", "pass:s3cret"];
    run(["pkcs12", "-export", ...args, "-out", path("extra.p12")]);
    const lines: string[] = [];
    const id = await readPkcs12(p12("extra.p12"), path("extra.p12"), { ...value("s3cret"), debug: (l) => lines.push(l) });
    expect(id.certificate.serialDecimal).toBe(ecLeaf.serialDecimal);
    expect(id.chain.map((c) => c.subject)).toEqual(["CN=P12 Issuing", "CN=P12 Root"]);
    expect(lines.join("\n")).toContain("2 certificate(s) not on the leaf's issuer path left out");
  });

  it("a truncated file: PKCS12_INVALID", async () => {
    await expectAgentError(readPkcs12(p12("truncated.p12"), path("truncated.p12"), value("s3cret")), "PKCS12_INVALID");
  });
  it("openssl reads a PFX with a BER (indefinite) outer length and one followed by bytes: the same key, or one clear line", async () => {
    const der = p12("default.p12");
    const body = der.subarray(2 + (der[1]! & 0x7f));
    writeFileSync(path("ber.p12"), Buffer.concat([Buffer.from([0x30, 0x80]), body, Buffer.alloc(2)]));
    writeFileSync(path("trailing.p12"), Buffer.concat([der, Buffer.from("\0\0")]));
    const keyOf = (args: string[]) => createPublicKey(openssl(["pkey", "-pubout"], openssl(args))).export({ type: "spki", format: "der" });
    const expected = keyOf(["pkey", "-in", ecLeaf.keyPath]);
    for (const name of ["ber.p12", "trailing.p12"]) {
      // The oracle: openssl reads both, with the leaf's key.
      expect(keyOf(["pkcs12", "-in", path(name), "-nocerts", "-nodes", "-passin", "pass:s3cret"])).toEqual(expected);
    }
    const signer = await createSigner({ certificate: path("ber.p12"), ...value("s3cret") });
    expect(((await signer.publicKey()) as KeyObject).export({ type: "spki", format: "der" })).toEqual(expected);
    const e = await expectAgentError(createSigner({ certificate: path("trailing.p12"), ...value("s3cret") }), "PKCS12_INVALID", "s3cret");
    expect(e.message).toBe(`could not parse PKCS#12 file ${path("trailing.p12")}: it is followed by 2 bytes that are not part of it`);
  });
  it("BER as NSS (Firefox, pk12util) writes and openssl reads: indefinite lengths, OCTET STRINGs in pieces", async () => {
    // Before: 'incorrect PKCS#12 password' (the pieces misread, so the MAC did not match) and 'malformed encrypted
    // content' (BER inside). Inside the authSafe only without a MAC (which covers those bytes as they are).
    run(["pkcs12", "-export", "-inkey", ecLeaf.keyPath, "-in", ecLeaf.certPath, "-passout", "pass:s3cret", "-nomac",
      "-certpbe", "AES-256-CBC", "-out", path("nomac-aes.p12")]);
    const pieces = (b: Buffer) =>
      [0, 100, 200].map((at) => encodeDer({ tag: 0x04, value: b.subarray(at, at === 200 ? b.length : at + 100) }));
    const indefinite = (tag: number, parts: Buffer[]) =>
      Buffer.concat([Buffer.from([tag, 0x80]), ...parts, Buffer.alloc(2)]);
    const ber = (n: DerNode, inside: boolean): Buffer => n.children === undefined ? encodeDer(n)
      : n.encapsulated && n.tag !== 0x04 ? encodeDer(n)
        : n.encapsulated ? indefinite(0x24, pieces(inside ? ber(n.children[0]!, inside) : encodeDer(n.children[0]!)))
          : indefinite(n.tag, n.children.map((c) => ber(c, inside)));
    writeFileSync(path("nss-mac.p12"), ber(decodeDer(p12("default.p12"))!, false));
    writeFileSync(path("nss-nomac.p12"), ber(decodeDer(p12("nomac-aes.p12"))!, true));
    const keyOf = (args: string[]) => createPublicKey(openssl(["pkey", "-pubout"], openssl(args))).export({ type: "spki", format: "der" });
    const expected = keyOf(["pkey", "-in", ecLeaf.keyPath]);
    // Only the outer length definite (before: 'holds no certificate or PKCS#12' as --certificate, 'holds no private key' as --private-key).
    const definiteOuter = (name: string) => encodeDer({ tag: 0x30, value: readFileSync(path(name)).subarray(2, -2) });
    writeFileSync(path("nss-mac-definite.p12"), definiteOuter("nss-mac.p12"));
    writeFileSync(path("nss-nomac-definite.p12"), definiteOuter("nss-nomac.p12"));
    for (const name of ["nss-mac.p12", "nss-nomac.p12", "nss-mac-definite.p12", "nss-nomac-definite.p12"]) {
      expect(keyOf(["pkcs12", "-in", path(name), "-nocerts", "-nodes", "-passin", "pass:s3cret"]), name).toEqual(expected);
      for (const ref of [{ certificate: path(name) }, { privateKey: path(name) }]) {
        const signer = await createSigner({ ...ref, ...value("s3cret") });
        expect(((await signer.publicKey()) as KeyObject).export({ type: "spki", format: "der" }), name).toEqual(expected);
      }
    }
  });
  it("hostile BER in a PFX: one line saying what is wrong, quickly", async () => {
    const pfx = (inner: Buffer) => Buffer.concat([Buffer.from("30800201033080", "hex"), inner, Buffer.alloc(4)]);
    const cases = {
      "deep.p12": [pfx(Buffer.concat([Buffer.alloc(400_000, "3080", "hex"), Buffer.alloc(400_000)])),
        "BER nested more than 32 deep"],
      "no-eoc.p12": [pfx(Buffer.from("0500", "hex")).subarray(0, -4), "truncated DER header (BER without its end-of-contents?)"],
      "primitive.p12": [pfx(Buffer.from("04800000", "hex")), "an indefinite length on a primitive element"],
      "past-end.p12": [pfx(Buffer.from("04847fffffff", "hex")), "DER element longer than its container"],
      "piece.p12": [pfx(Buffer.from("2480020100", "hex")), "a piece of an OCTET STRING that is not one"],
      "many.p12": [pfx(Buffer.alloc(8_000_000, "0500", "hex")), "more than 10,000 elements"], // before: 5 s, 1 GB
    } as const;
    for (const [name, [bytes, why]] of Object.entries(cases)) {
      writeFileSync(path(name), bytes);
      const e = await expectAgentError(createSigner({ certificate: path(name), ...value("s3cret") }), "PKCS12_INVALID");
      expect(e.message).toBe(`could not parse PKCS#12 file ${path(name)}: not a PKCS#12 structure: ${why}`);
    }
  });
  it("a field after the last one of the PFX or of its MacData (openssl refuses both): PKCS12_INVALID, not skipped", async () => {
    const tree = decodeDer(p12("default.p12"))!;
    const macData = tree.children![2]!;
    const surplus = {
      "mac-surplus.p12": { ...tree, children: [...tree.children!.slice(0, 2), { ...macData, children: [...macData.children!, macData.children![2]!] }] },
      "pfx-surplus.p12": { ...tree, children: [...tree.children!, macData] },
    };
    for (const [name, node] of Object.entries(surplus)) {
      writeFileSync(path(name), encodeDer(node));
      expect(() => run(["pkcs12", "-in", path(name), "-passin", "pass:s3cret", "-nodes", "-noout"]), name).toThrow();
      const e = await expectAgentError(readPkcs12(p12(name), path(name), value("s3cret")), "PKCS12_INVALID", "s3cret");
      expect(e.message).toBe(`could not parse PKCS#12 file ${path(name)}: a field follows the last one of the PFX or its MacData`);
    }
  });

  it("a MAC without its iterations field (DEFAULT 1, openssl -nomaciter) is checked with one iteration", async () => {
    const args = ["-inkey", ecLeaf.keyPath, "-in", ecLeaf.certPath, "-passout", "pass:s3cret", "-nomaciter"];
    run(["pkcs12", "-export", ...args, "-out", path("nomaciter.p12")]);
    expect(decodeDer(p12("nomaciter.p12"))!.children![2]!.children).toHaveLength(2); // MacData { mac, macSalt }
    const id = await readPkcs12(p12("nomaciter.p12"), path("nomaciter.p12"), value("s3cret"));
    expect(id.certificate.serialDecimal).toBe(ecLeaf.serialDecimal);
  });

  it.each([
    ["PBMAC1", "2a864886f70d01050e", "the PBMAC1 integrity scheme is not supported"],
    ["SHA3-256", "608648016503040208", "MAC digest OID 2.16.840.1.101.3.4.2.8 is not supported"],
  ])("a MAC algorithm %s: PKCS12_INVALID saying so", async (_name, oid, problem) => {
    const bytes = Buffer.from(p12("default.p12"));
    const at = bytes.lastIndexOf(Buffer.from("0609608648016503040201", "hex")); // the MAC's SHA-256
    expect(at).toBeGreaterThan(bytes.length - 80);
    Buffer.from(`0609${oid}`, "hex").copy(bytes, at);
    const e = await expectAgentError(readPkcs12(bytes, "mac.p12", value("s3cret")), "PKCS12_INVALID");
    expect(e.message).toBe(`could not parse PKCS#12 file mac.p12: ${problem}`);
  });

  it("a MAC digest cut short to its first 16 bytes (right ones) does not pass: PASSWORD_INCORRECT", async () => {
    const t = decodeDer(p12("default.p12"))!;
    // MacData { DigestInfo { algorithm, digest }, macSalt, iterations }
    const digest = t.children![2]!.children![0]!.children![1]!;
    expect(digest.value).toHaveLength(32);
    digest.value = digest.value!.subarray(0, 16);
    await expectAgentError(readPkcs12(encodeDer(t), "short-mac.p12", value("s3cret")), "PASSWORD_INCORRECT");
  });

  it("a PFX of version 2, or in public-key integrity mode (signedData): PKCS12_INVALID saying so", async () => {
    const v2 = decodeDer(p12("default.p12"))!;
    v2.children![0]!.value = Buffer.from([2]);
    const e = await expectAgentError(readPkcs12(encodeDer(v2), "v2.p12", value("s3cret")), "PKCS12_INVALID");
    expect(e.message).toBe("could not parse PKCS#12 file v2.p12: version 2 is not supported (expected 3)");
    const signed = decodeDer(p12("default.p12"))!;
    signed.children![1]!.children![0]!.value = Buffer.from("2a864886f70d010702", "hex"); // 1.2.840.113549.1.7.2
    const s = await expectAgentError(readPkcs12(encodeDer(signed), "signed.p12", value("s3cret")), "PKCS12_INVALID");
    const mode = "public-key integrity mode (signedData)";
    expect(s.message).toBe(`could not parse PKCS#12 file signed.p12: ${mode} is not supported`);
  });

  it("an empty password MAC'd as zero bytes (no BMP terminator, as some writers do) opens without asking; so does OpenSSL's", async () => {
    run(["pkcs12", "-export", "-inkey", ecLeaf.keyPath, "-in", ecLeaf.certPath, "-passout", "pass:", "-keypbe", "NONE", "-certpbe", "NONE", "-out", path("empty-plain.p12")]);
    await expect(readPkcs12(p12("empty-plain.p12"), "bmp-empty.p12", {})).resolves.toMatchObject({ key: { description: "EC P-256" } });
    const t = decodeDer(p12("empty-plain.p12"))!;
    const octets = t.children![1]!.children![1]!.children![0]!; // ContentInfo { data, [0] OCTET STRING { AuthenticatedSafe } }
    const authSafe = octets.value ?? encodeDer(octets.children![0]!);
    const [digestInfo, salt, iterations] = t.children![2]!.children!; // MacData
    expect(digestInfo!.children![1]!.value).toHaveLength(32); // OpenSSL 3's SHA-256 MAC
    const key = await pkcs12DeriveBytes("sha256", Buffer.alloc(0), salt!.value!, Number(integerValue(iterations!)), PKCS12_KEY_ID.mac, 32);
    digestInfo!.children![1]!.value = createHmac("sha256", key).update(authSafe).digest();
    await expect(readPkcs12(encodeDer(t), "zero-bytes-empty.p12", {})).resolves.toMatchObject({ key: { description: "EC P-256" } });
    await expect(readPkcs12(encodeDer(t), "zero-bytes-empty.p12", value(""))).resolves.toMatchObject({ key: { description: "EC P-256" } });
  });

  // Before round 30: no warning for any PKCS#12 file, as if all were encrypted. Round 30 warned about one whose key
  // needs no password only; round 31: a password-encrypted one too, as an encrypted PKCS#8 key file (a copy's
  // password can be guessed offline).
  it("a PKCS#12 file readable by others: one warning, as for a key file, encrypted or not; none at 0600", async () => {
    const exp = (out: string, pass: string, extra: string[] = []) =>
      run(["pkcs12", "-export", "-inkey", ecLeaf.keyPath, "-in", ecLeaf.certPath, "-passout", `pass:${pass}`, "-out", path(out), ...extra]);
    exp("open-empty.p12", "");
    exp("open-keybag.p12", "s3cret", ["-keypbe", "NONE", "-certpbe", "NONE"]); // a MAC password, the key in clear
    exp("closed.p12", "s3cret");
    exp("empty-600.p12", "");
    const modes: Record<string, number> = { "open-empty.p12": 0o644, "open-keybag.p12": 0o640, "closed.p12": 0o644, "empty-600.p12": 0o600 };
    const warnings: string[] = [];
    const listener = (w: Error) => warnings.push(w.message);
    process.on("warning", listener);
    try {
      for (const [name, mode] of Object.entries(modes)) {
        (await import("node:fs")).chmodSync(path(name), mode);
        const signer = await createSigner({ certificate: path(name), ...(name.startsWith("empty") || name === "open-empty.p12" ? {} : value("s3cret")) });
        await signer.close();
      }
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
    } finally {
      process.off("warning", listener);
    }
    const line = (name: string, mode: string) => `PKCS#12 file ${path(name)} can be read or changed by other users (mode ${mode}): run chmod 600 ${path(name)}`;
    expect(warnings).toEqual([line("open-empty.p12", "644"), line("open-keybag.p12", "640"), line("closed.p12", "644")]);
  });
});
