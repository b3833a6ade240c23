import { verify, X509Certificate } from "node:crypto";
import { chmodSync, copyFileSync, readFileSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createFileSigner as createWithFiles, type FileSignerOptions } from "../../../src/signers/file/file-signer.js";
import { readCertificateBundle, readCertificateFile } from "../../../src/x509/read-certificates.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle } from "../../helpers/pki.js";
import { expectAgentError, makeCa, makeKeyFixture, opensslVerifies, PASSWORD, run, type KeyFixture } from "./fixtures.js";

/** A terminal nobody watches: a prompt would wait forever, so it is recorded and refused here. */
const promptOnTerminal = vi.hoisted(() => vi.fn(async (): Promise<never> => Promise.reject(new Error("prompted on the terminal"))));
vi.mock("../../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal }));
/** stampOf (a stat by name) calls, counted. */
const stamps = vi.hoisted(() => ({ count: 0 }));
vi.mock("../../../src/io/input-file.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../../src/io/input-file.js")>();
  return { ...actual, stampOf: (...args: Parameters<typeof actual.stampOf>) => (stamps.count++, actual.stampOf(...args)) };
});

/** createFileSigner with the certificate and intermediates named by path, read here as the signer factory reads them. */
async function createFileSigner(o: Omit<FileSignerOptions, "certificate" | "intermediates"> & { certificate?: string; intermediates?: string }) {
  const certificate = o.certificate === undefined ? undefined : await readCertificateFile(o.certificate);
  const intermediates = o.intermediates === undefined ? undefined : await readCertificateBundle(o.intermediates);
  return createWithFiles({ ...o, certificate, intermediates });
}

/** A signer after its first use (a CreateSession at start-up), which takes the files as just read. */
async function startedSigner(o: Parameters<typeof createFileSigner>[0]) {
  const signer = await createFileSigner(o);
  await signer.certificate();
  await signer.certificateChain();
  return signer;
}

let bump = 0;
/** Replaces `dest` atomically and gives it a distinct mtime, as a renewal tool would. */
function replaceFile(dest: string, content: Buffer | string): void {
  const tmp = `${dest}.new`;
  writeFileSync(tmp, content);
  const when = new Date(Date.now() + ++bump * 2000);
  utimesSync(tmp, when, when);
  renameSync(tmp, dest);
}

function serialOf(path: string): string {
  return BigInt(`0x${new X509Certificate(readFileSync(path)).serialNumber}`).toString(10);
}

describe("file signer", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let ca: CaHandle;
  let rsa: KeyFixture;
  let ec: KeyFixture;
  const path = (name: string) => join(tmp.dir, name);

  beforeAll(() => {
    tmp = makeTempDir("raa-filesigner-");
    ca = makeCa(tmp.dir);
    rsa = makeKeyFixture(ca, tmp.dir, "rsa2048");
    ec = makeKeyFixture(ca, tmp.dir, "p384");
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it("signs with the key and returns the certificate it belongs to", async () => {
    const signer = await createFileSigner({ keyPath: rsa.keyPath, certificate: rsa.certPath });
    expect(signer.backend).toBe("file");
    expect(signer.keyType).toBe("RSA");
    expect((await signer.certificate())?.serialDecimal).toBe(rsa.serialDecimal);
    expect(await signer.certificateChain()).toEqual([]);
    const message = Buffer.from("GET\n/\n\nhost:example\n");
    const signature = await signer.sign(message);
    expect(opensslVerifies(rsa.publicKeyPath, message, signature, "sha256", tmp.dir)).toBe(true);
    const ecSigner = await createFileSigner({ keyPath: ec.keyPath, certificate: ec.certPath });
    const ecSig = await ecSigner.sign(message, "SHA384");
    expect(ecSig[0]).toBe(0x30); // DER SEQUENCE { r, s }
    expect(opensslVerifies(ec.publicKeyPath, message, ecSig, "sha384", tmp.dir)).toBe(true);
  });

  it.each(["sha256", "SHA1", "toString", ""])("sign() with digest %j from plain JavaScript: PRIVATE_KEY_UNSUPPORTED and its hint, on and off the thread pool", async (digest) => {
    for (const [fixture, signOffThread] of [[rsa, false], [ec, true]] as const) {
      const signer = await createFileSigner({ keyPath: fixture.keyPath, certificate: fixture.certPath, signOffThread });
      await expect(signer.sign(Buffer.from("m"), digest as never)).rejects.toMatchObject({
        code: "PRIVATE_KEY_UNSUPPORTED",
        message: `digest ${digest} is not supported`,
        hint: "use SHA256, SHA384 or SHA512",
      });
    }
  });

  it("works without a certificate (sign-string), certificate() is undefined", async () => {
    const signer = await createFileSigner({ keyPath: ec.keyPath });
    expect(await signer.certificate()).toBeUndefined();
    const message = Buffer.from("x");
    expect(verify("sha256", message, (await signer.publicKey())!, await signer.sign(message))).toBe(true);
  });

  it("refuses a key that does not match the certificate, naming both", async () => {
    const e = await expectAgentError(createFileSigner({ keyPath: rsa.keyPath, certificate: ec.certPath }), "KEY_CERTIFICATE_MISMATCH");
    expect(e.message).toContain(rsa.keyPath);
    expect(e.message).toContain(ec.certPath);
    expect(e.message).toContain(`serial ${ec.serialDecimal}`);
    expect(e.message.match(/sha256:[0-9a-f]{16}/g)).toHaveLength(2);
  });

  it("refuses a key of the same type that is not the certificate's, then still loads keys normally", async () => {
    const other = makeKeyFixture(ca, tmp.dir, "p384", "other-p384");
    await expectAgentError(createFileSigner({ keyPath: other.keyPath, certificate: ec.certPath }), "KEY_CERTIFICATE_MISMATCH");
    const signer = await createFileSigner({ keyPath: ec.keyPath, certificate: ec.certPath });
    expect((await signer.certificate())?.serialDecimal).toBe(ec.serialDecimal);
  });

  it("says so when a later certificate in the file is the key's (leaf not first)", async () => {
    writeFileSync(path("wrong-order.pem"), readFileSync(ec.certPath, "utf8") + readFileSync(rsa.certPath, "utf8"));
    const e = await expectAgentError(createFileSigner({ keyPath: rsa.keyPath, certificate: path("wrong-order.pem") }), "KEY_CERTIFICATE_MISMATCH");
    expect(e.hint).toContain("certificate #2");
  });

  it("takes the chain from the certificate file, and --intermediates overrides it", async () => {
    const inter = createCa(join(tmp.dir, "inter"), { name: "Issuing CA", parent: ca });
    const leaf = issueLeaf(inter, tmp.dir, { name: "chained", keyType: "p256" });
    writeFileSync(path("full-chain.pem"), `${leaf.certPem}comment between blocks\n${inter.certPem}`);
    const signer = await createFileSigner({ keyPath: leaf.keyPath, certificate: path("full-chain.pem") });
    expect((await signer.certificate())?.serialDecimal).toBe(leaf.serialDecimal);
    expect((await signer.certificateChain()).map((c) => c.subject)).toEqual(["CN=Issuing CA"]);
    const overridden = await createFileSigner({ keyPath: leaf.keyPath, certificate: path("full-chain.pem"), intermediates: ca.certPath });
    expect((await overridden.certificateChain()).map((c) => c.subject)).toEqual(["CN=Test Root"]);
  });

  it("a chain of more than 100 CA certificates is refused before it is sent, naming the file; 100 are sent (before: any number: 30,094 made a 30 MB header)", async () => {
    const { signingMaterialFor } = await import("../../../src/rolesanywhere/signed-request.js");
    const caPem = readFileSync(ca.certPath, "utf8");
    writeFileSync(path("chain-100.pem"), caPem.repeat(100));
    writeFileSync(path("chain-101.pem"), caPem.repeat(101));
    writeFileSync(path("leaf-and-101.pem"), readFileSync(ec.certPath, "utf8") + caPem.repeat(101));
    const sent = await createFileSigner({ keyPath: ec.keyPath, certificate: ec.certPath, intermediates: path("chain-100.pem") });
    expect((await signingMaterialFor(sent, new Date())).chain).toHaveLength(100);
    for (const [certificate, intermediates, where] of [[ec.certPath, path("chain-101.pem"), `${path("chain-101.pem")} (certificate #101)`],
      [path("leaf-and-101.pem"), undefined, `${path("leaf-and-101.pem")} (certificate #102)`]] as const) {
      const material = async () => signingMaterialFor(await createFileSigner({ keyPath: ec.keyPath, certificate, intermediates }), new Date());
      const e = await expectAgentError(material(), "CHAIN_INVALID");
      expect(e.toOneLine()).toBe(`invalid certificate chain: 101 certificates, more than the 100 sent at most (the 101st is ${where}) (give only the CA certificates between the leaf and the trust anchor (AWS's verifier stops after 100 signature checks))`);
      expect(e.category).toBe("input");
    }
  });

  it("--intermediates of 5,000 certificates is refused as it is read, before any is parsed: its #102 is no certificate (before: each was parsed, and #102 refused)", async () => {
    const caPem = readFileSync(ca.certPath, "utf8");
    const broken = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"; // 30 03 02 01 01: DER, no certificate
    writeFileSync(path("chain-5000.pem"), caPem.repeat(101) + broken + caPem.repeat(4898));
    const e = await expectAgentError(readCertificateBundle(path("chain-5000.pem")), "CHAIN_INVALID");
    expect(e.message).toBe(`invalid certificate chain: 5000 certificates, more than the 100 sent at most (the 101st is ${path("chain-5000.pem")} (certificate #101))`);
    const e2 = await expectAgentError(createFileSigner({ keyPath: ec.keyPath, certificate: ec.certPath, intermediates: path("chain-5000.pem") }), "CHAIN_INVALID");
    expect(e2.message).toBe(e.message);
    writeFileSync(path("chain-100-broken.pem"), caPem.repeat(99) + broken);
    expect((await expectAgentError(readCertificateBundle(path("chain-100-broken.pem")), "CHAIN_INVALID")).message).toContain("(certificate #100) is not a valid X.509 certificate");
  });

  it("the first certificate() and certificateChain() use the files as just read: no stat by name, later calls stat", async () => {
    const signer = await createFileSigner({ keyPath: ec.keyPath, certificate: ec.certPath, intermediates: ca.certPath });
    stamps.count = 0;
    expect((await signer.certificate())?.serialDecimal).toBe(serialOf(ec.certPath));
    expect(await signer.certificateChain()).toHaveLength(1);
    expect(stamps.count).toBe(0);
    await signer.certificate();
    expect(stamps.count).toBe(3); // key, certificate, intermediates
  });

  it("picks up a renewed certificate without a restart", async () => {
    const key = path("renew.key");
    const cert = path("renew.pem");
    const first = issueLeaf(ca, join(tmp.dir, "renew1"), { name: "renew", keyType: "p256" });
    copyFileSync(first.keyPath, key);
    copyFileSync(first.certPath, cert);
    const signer = await createFileSigner({ keyPath: key, certificate: cert });
    expect((await signer.certificate())?.serialDecimal).toBe(first.serialDecimal);

    const renewed = issueLeaf(ca, join(tmp.dir, "renew2"), { name: "renew", keyPath: key });
    replaceFile(cert, readFileSync(renewed.certPath));
    expect((await signer.certificate())?.serialDecimal).toBe(renewed.serialDecimal);
    expect(renewed.serialDecimal).not.toBe(first.serialDecimal);
  });

  it("follows a rotation of key and certificate; a half-done rotation fails, then recovers", async () => {
    const key = path("rotate.key");
    const cert = path("rotate.pem");
    const first = issueLeaf(ca, join(tmp.dir, "rot1"), { name: "rotate", keyType: "p256" });
    copyFileSync(first.keyPath, key);
    copyFileSync(first.certPath, cert);
    const signer = await startedSigner({ keyPath: key, certificate: cert });
    expect(signer.keyType).toBe("EC");

    const next = issueLeaf(ca, join(tmp.dir, "rot2"), { name: "rotate", keyType: "rsa2048" });
    replaceFile(cert, readFileSync(next.certPath)); // certificate first: the key has not arrived yet
    await expectAgentError(signer.certificate(), "KEY_CERTIFICATE_MISMATCH");
    replaceFile(key, readFileSync(next.keyPath));
    expect((await signer.certificate())?.serialDecimal).toBe(next.serialDecimal);
    expect(signer.keyType).toBe("RSA");
    const message = Buffer.from("after rotation");
    const pub = join(tmp.dir, "rot2.pub");
    run(["pkey", "-in", next.keyPath, "-pubout", "-out", pub]);
    expect(opensslVerifies(pub, message, await signer.sign(message), "sha256", tmp.dir)).toBe(true);
    expect(serialOf(cert)).toBe(next.serialDecimal);
  });

  it("a key replaced by one other users can read is warned about at its reload, once (before: never; only the factory's first read warned)", async () => {
    const key = path("exposed.key");
    writeFileSync(key, readFileSync(ec.keyPath), { mode: 0o600 });
    const signer = await startedSigner({ keyPath: key, certificate: ec.certPath });
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => void (w.code === "RAA_EXPOSED_FILE" && w.message.includes(key) && warnings.push(w.message)); // not the rotation test's 0644 key
    process.on("warning", onWarning);
    try {
      const settle = () => new Promise((r) => setImmediate(r));
      await signer.certificate();
      await settle();
      expect(warnings).toEqual([]);
      replaceFile(key, readFileSync(ec.keyPath));
      chmodSync(key, 0o644);
      for (let i = 0; i < 3; i++) await signer.certificate(); // one reload, then unchanged refreshes
      await settle();
      const told = `private key file ${key} can be read or changed by other users (mode 644): run chmod 600 ${key}`;
      expect(warnings).toEqual([told]);
      replaceFile(key, readFileSync(ec.keyPath)); // replaced again, still 0644: not told twice
      chmodSync(key, 0o644);
      await signer.certificate();
      await settle();
      expect(warnings).toEqual([told]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("decrypts an encrypted key once, however often it is used", async () => {
    const encrypted = path("once.key");
    run(["pkcs8", "-topk8", "-in", ec.keyPath, "-out", encrypted, "-scrypt", "-passout", `pass:${PASSWORD}`]);
    const lines: string[] = [];
    const decryptions = () => lines.filter((line) => line.includes("decrypted the PKCS#8 key")).length;
    const passwordFile = path("once.pw");
    writeFileSync(passwordFile, PASSWORD);
    const signer = await createFileSigner({
      keyPath: encrypted,
      certificate: ec.certPath,
      keyPassword: { kind: "file", path: passwordFile },
      debug: (line) => lines.push(line),
    });
    for (let i = 0; i < 5; i++) {
      await signer.certificate();
      await signer.certificateChain();
      await signer.publicKey();
      await signer.sign(Buffer.from(`message ${i}`), "SHA256");
    }
    expect(decryptions()).toBe(1);
    // The key is decrypted again only when its file is replaced.
    replaceFile(encrypted, readFileSync(encrypted));
    await signer.certificate();
    expect(decryptions()).toBe(2);
  });

  it.each([
    [{}, "give it with --pkcs8-password-file FILE or --pkcs8-password-env NAME, or restart to be asked for it"],
    [{ names: "options", prompt: false } as const, "give it with keyPassword"], // as fromRolesAnywhere sets them
  ])("a key file replaced by an encrypted one while running: never a prompt (it would stop every request), a clear error", async (given, hint) => {
    const key = path("to-encrypt.key");
    copyFileSync(ec.keyPath, key);
    const signer = await startedSigner({ keyPath: key, certificate: ec.certPath, ...given });
    const encrypted = path("encrypted-now.key");
    run(["pkcs8", "-topk8", "-in", ec.keyPath, "-out", encrypted, "-passout", `pass:${PASSWORD}`]);
    replaceFile(key, readFileSync(encrypted));
    promptOnTerminal.mockClear();
    const e = await expectAgentError(signer.certificate(), "PASSWORD_REQUIRED");
    expect(promptOnTerminal).not.toHaveBeenCalled();
    expect(e.message).toBe(`${key} was replaced by an encrypted key, whose password a running signer does not ask for`);
    expect(e.hint).toBe(hint);
    replaceFile(key, readFileSync(ec.keyPath)); // put back: the next call recovers
    expect((await signer.certificate())?.serialDecimal).toBe(ec.serialDecimal);
  });

  it("refuses to sign after close(): the caller's mistake (USAGE), not an internal error", async () => {
    const signer = await createFileSigner({ keyPath: ec.keyPath, certificate: ec.certPath });
    await signer.close();
    await expectAgentError(signer.sign(Buffer.from("x")), "USAGE");
  });

  it("a certificate file removed after start-up is reported, not fatal to the process", async () => {
    const cert = path("vanishing.pem");
    copyFileSync(ec.certPath, cert);
    const signer = await startedSigner({ keyPath: ec.keyPath, certificate: cert });
    replaceFile(path("elsewhere.pem"), "x");
    renameSync(cert, path("vanished.pem"));
    await expectAgentError(signer.certificate(), "FILE_NOT_FOUND");
  });

  it.each([
    ["options" as const, /^certificate must be a PEM or DER/, "intermediates must hold only CERTIFICATE blocks"],
    [undefined, /^--certificate must be a PEM or DER/, "--intermediates must hold only CERTIFICATE blocks"],
  ])("a certificate or chain file replaced by a key, names %s: the hint names the option as the caller gives it", async (names, leafHint, chainHint) => {
    const [cert, chain] = [path(`replaced-${names}.pem`), path(`replaced-chain-${names}.pem`)];
    copyFileSync(ec.certPath, cert);
    copyFileSync(ca.certPath, chain);
    const signer = await startedSigner({ keyPath: ec.keyPath, certificate: cert, names });
    replaceFile(cert, readFileSync(ec.keyPath));
    await expect(signer.certificate()).rejects.toMatchObject({ code: "PEM_INVALID", hint: expect.stringMatching(leafHint) });
    const withChain = await startedSigner({ keyPath: ec.keyPath, certificate: ec.certPath, intermediates: chain, names });
    replaceFile(chain, readFileSync(ec.keyPath));
    await expect(withChain.certificateChain()).rejects.toMatchObject({ code: "CHAIN_INVALID", hint: chainHint });
  });
});
