import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AgentError } from "../../src/errors.js";
import { createSigner, parseTpmHandle } from "../../src/signers/factory.js";
import { createPkcs11Signer } from "../../src/signers/pkcs11/open-signer.js";
import { listPkcs11Certificates } from "../../src/signers/pkcs11/list-certificates.js";
import { isPkcs11Uri, parsePkcs11Uri } from "../../src/pkcs11/uri.js";
import { parseArn, parseProfileArn, parseRoleArn, parseTrustAnchorArn, regionOf } from "../../src/arn.js";
import { createTpmSigner } from "../../src/signers/tpm/tpm-signer.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle, type IssuedCertificate } from "../helpers/pki.js";
import { copiesHolding } from "../helpers/copies-made.js";
import { expectAgentError, opensslVerifies, PASSWORD, run } from "./file/fixtures.js";

describe("createSigner (file keys)", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let root: CaHandle;
  let inter: CaHandle;
  let leaf: IssuedCertificate;
  let other: IssuedCertificate;
  const path = (name: string) => join(tmp.dir, name);

  beforeAll(() => {
    tmp = makeTempDir("raa-factory-");
    root = createCa(join(tmp.dir, "ca"), { name: "Factory Root" });
    inter = createCa(join(tmp.dir, "ca"), { name: "Factory Issuing", parent: root });
    leaf = issueLeaf(inter, tmp.dir, { name: "leaf", keyType: "p256" });
    other = issueLeaf(inter, tmp.dir, { name: "other", keyType: "rsa2048" });
    const key = readFileSync(leaf.keyPath, "utf8");
    writeFileSync(path("key-then-cert.pem"), key + leaf.certPem + inter.certPem);
    writeFileSync(path("cert-then-key.pem"), leaf.certPem + inter.certPem + key);
    run(["pkcs8", "-topk8", "-in", leaf.keyPath, "-out", path("enc.key"), "-passout", `pass:${PASSWORD}`]);
    writeFileSync(path("combined-encrypted.pem"), readFileSync(path("enc.key"), "utf8") + leaf.certPem);
    writeFileSync(path("chain.pem"), inter.certPem + root.certPem);
    run(["x509", "-in", leaf.certPath, "-outform", "DER", "-out", path("leaf.der")]);
    run(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-certfile", path("chain.pem"), "-passout", "pass:p12pass", "-out", path("id.p12")]);
    writeFileSync(path("garbage.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    writeFileSync(path("key-and-params.pem"), "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n");
    run(["pkey", "-in", leaf.keyPath, "-pubout", "-out", path("leaf.pub")]);
    run(["pkcs12", "-export", "-nokeys", "-in", leaf.certPath, "-passout", "pass:", "-out", path("no-key.p12")]);
  }, 60_000);
  afterAll(() => tmp.cleanup());

  async function expectWorking(signer: Awaited<ReturnType<typeof createSigner>>, chainSubjects: string[]) {
    expect((await signer.certificate())?.serialDecimal).toBe(leaf.serialDecimal);
    expect((await signer.certificateChain()).map((c) => c.subject)).toEqual(chainSubjects);
    const message = Buffer.from("factory");
    expect(opensslVerifies(path("leaf.pub"), message, await signer.sign(message), "sha256", tmp.dir)).toBe(true);
  }

  it("separate key and certificate files", async () => {
    await expectWorking(await createSigner({ certificate: leaf.certPath, privateKey: leaf.keyPath }), []);
  });

  it("a DER certificate", async () => {
    await expectWorking(await createSigner({ certificate: path("leaf.der"), privateKey: leaf.keyPath }), []);
  });

  it.each(["key-then-cert.pem", "cert-then-key.pem"])("combined PEM %s with only --certificate", async (name) => {
    await expectWorking(await createSigner({ certificate: path(name) }), ["CN=Factory Issuing"]);
  });

  it.each(["key-then-cert.pem", "cert-then-key.pem"])("combined PEM %s with only --private-key (Go fails here)", async (name) => {
    await expectWorking(await createSigner({ privateKey: path(name) }), ["CN=Factory Issuing"]);
  });

  it("combined PEM with an encrypted key", async () => {
    const signer = await createSigner({ certificate: path("combined-encrypted.pem"), keyPassword: { kind: "value", value: PASSWORD } });
    await expectWorking(signer, []);
  });

  it("--intermediates replaces the chain found in the certificate file", async () => {
    const signer = await createSigner({ certificate: path("cert-then-key.pem"), intermediates: path("chain.pem") });
    await expectWorking(signer, ["CN=Factory Issuing", "CN=Factory Root"]);
  });

  it("a PKCS#12 file as --certificate: chain without the leaf; --intermediates overrides it", async () => {
    const password = { kind: "value" as const, value: "p12pass" };
    await expectWorking(await createSigner({ certificate: path("id.p12"), keyPassword: password }), ["CN=Factory Issuing", "CN=Factory Root"]);
    await expectWorking(
      await createSigner({ certificate: path("id.p12"), keyPassword: password, intermediates: inter.certPath }),
      ["CN=Factory Issuing"],
    );
  });

  it("a PKCS#12 file as --private-key alone", async () => {
    await expectWorking(await createSigner({ privateKey: path("id.p12"), keyPassword: { kind: "value", value: "p12pass" } }), [
      "CN=Factory Issuing",
      "CN=Factory Root",
    ]);
  });

  it("a key without a certificate (sign-string)", async () => {
    const signer = await createSigner({ privateKey: leaf.keyPath });
    expect(await signer.certificate()).toBeUndefined();
  });

  it("no key at all: USAGE", async () => {
    const e = await expectAgentError(createSigner({}), "USAGE");
    expect(e.hint).toContain("--private-key");
  });

  it("a certificate-only file as --certificate without --private-key: USAGE", async () => {
    const e = await expectAgentError(createSigner({ certificate: leaf.certPath }), "USAGE");
    expect(e.message).toContain(leaf.certPath);
  });

  it.each([
    ["no key at all", () => ({}), "(pass privateKey (a key file, pkcs11: URI or handle:0x…), or certificate with",
      "(pass --private-key (a key file, pkcs11: URI or handle:0x…), or --certificate with"],
    ["two inputs from -", () => ({ certificate: "-", privateKey: "-" }), "only one of certificate, privateKey and intermediates can",
      "only one of --certificate, --private-key and --intermediates can"],
    ["a certificate-only file alone", () => ({ certificate: leaf.certPath }), "holds no private key (pass privateKey (a key file",
      "holds no private key (pass --private-key (a key file"],
    ["a PKCS#12 key with a certificate", () => ({ certificate: leaf.certPath, privateKey: path("id.p12") }),
      "alone, as certificate or privateKey)", "alone, as --certificate or --private-key)"],
    // Before: "… is neither PEM nor a DER X.509 certificate (--certificate must be … a PKCS#12 file …)", which it was.
    ["a PKCS#12 certificate with a key", () => ({ certificate: path("id.p12"), privateKey: leaf.keyPath }),
      "which brings its own key (pass the PKCS#12 file alone, as certificate or privateKey)",
      "which brings its own key (pass the PKCS#12 file alone, as --certificate or --private-key)"],
    ["a PKCS#12 file without a key", () => ({ certificate: path("no-key.p12") }), "-inkey KEY …`), or pass privateKey)",
      "-inkey KEY …`), or pass --private-key)"],
    ["an encrypted key, no terminal", () => ({ privateKey: path("enc.key") }), "no terminal to prompt on: pass keyPassword)",
      "no terminal to prompt on: pass --pkcs8-password-file FILE or --pkcs8-password-env NAME)"],
    ["a certificate that is a key file", () => ({ certificate: leaf.keyPath }), "(certificate must be a PEM or DER",
      "(--certificate must be a PEM or DER"],
    ["intermediates that hold a key", () => ({ certificate: leaf.certPath, privateKey: leaf.keyPath, intermediates: leaf.keyPath }),
      "(intermediates must hold only CERTIFICATE blocks)", "(--intermediates must hold only CERTIFICATE blocks)"],
    ["a TPM simulator that is not there", () => ({ privateKey: "handle:0x81000101", tpm: { device: `unix:${path("no.sock")}`, noKeyPassword: true } }),
      "running? Check tpm.device / TPM_DEVICE)", "running? Check --tpm-device / TPM_DEVICE)"],
  ])("%s: the hint names the options as the caller gives them (names), the CLI's flags by default", async (_, options, sdk, cli) => {
    vi.stubEnv("CI", "true"); // no terminal to ask on, even when the tests run in one
    const line = async (names?: "options") =>
      createSigner({ ...options(), names }).then(() => "no error", (e: AgentError) => e.toOneLine());
    try {
      expect(await line("options")).toContain(sdk);
      expect(await line("options")).not.toContain(" --");
      expect(await line()).toContain(cli);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("a key that does not match: KEY_CERTIFICATE_MISMATCH before any network call", async () => {
    await expectAgentError(createSigner({ certificate: other.certPath, privateKey: leaf.keyPath }), "KEY_CERTIFICATE_MISMATCH");
  });

  it("missing and broken certificate files", async () => {
    const missing = await expectAgentError(createSigner({ certificate: path("absent.pem"), privateKey: leaf.keyPath }), "FILE_NOT_FOUND");
    expect(missing.message).toContain(path("absent.pem"));
    await expectAgentError(createSigner({ certificate: path("garbage.pem"), privateKey: leaf.keyPath }), "CERTIFICATE_INVALID");
    await expectAgentError(createSigner({ certificate: path("key-and-params.pem"), privateKey: leaf.keyPath }), "PEM_INVALID");
    await expectAgentError(createSigner({ certificate: leaf.keyPath, privateKey: leaf.keyPath }), "PEM_INVALID");
    await expectAgentError(createSigner({ certificate: path("leaf.pub"), privateKey: leaf.keyPath }), "PEM_INVALID");
  });

  // The chain after the leaf is capped as --intermediates is: before any certificate is parsed (before: all were parsed,
  // so #103, no certificate, was refused first; 30,094 took 12 s), whether the file is given as the certificate or the key.
  it("a certificate file of a leaf and more than 100 CA certificates is refused before any is parsed", async () => {
    const broken = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"; // 30 03 02 01 01: DER, no certificate
    writeFileSync(path("leaf-and-2000.pem"), readFileSync(leaf.keyPath, "utf8") + leaf.certPem + inter.certPem.repeat(101) + broken + inter.certPem.repeat(1898));
    const message = `invalid certificate chain: 2000 certificates, more than the 100 sent at most (the 101st is ${path("leaf-and-2000.pem")} (certificate #102))`;
    expect((await expectAgentError(createSigner({ certificate: path("leaf-and-2000.pem"), privateKey: leaf.keyPath }), "CHAIN_INVALID")).message).toBe(message);
    expect((await expectAgentError(createSigner({ privateKey: path("leaf-and-2000.pem") }), "CHAIN_INVALID")).message).toBe(message);
    writeFileSync(path("leaf-and-100.pem"), leaf.certPem + inter.certPem.repeat(100));
    await expectWorking(await createSigner({ certificate: path("leaf-and-100.pem"), privateKey: leaf.keyPath }), Array(100).fill("CN=Factory Issuing"));
  });

  it("a combined key and certificate file whose certificate is refused: no buffer made while reading it holds the key", async () => {
    // Before: 1 (the file's read buffer: the key's PEM text), left until the garbage collector took it.
    const key = readFileSync(leaf.keyPath, "utf8");
    writeFileSync(path("key-and-broken.pem"), key + "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n", { mode: 0o600 });
    const body = Buffer.from(key.split("\n")[1]!); // the key's first base64 line
    for (const options of [{ privateKey: path("key-and-broken.pem") }, { certificate: path("key-and-broken.pem"), privateKey: path("key-and-broken.pem") }]) {
      const { left } = await copiesHolding(body, () => expectAgentError(createSigner(options), "CERTIFICATE_INVALID"));
      expect(left, JSON.stringify(options)).toBe(0);
    }
  });

  it("a non-certificate in --intermediates: CHAIN_INVALID", async () => {
    const e = await expectAgentError(
      createSigner({ certificate: leaf.certPath, privateKey: leaf.keyPath, intermediates: path("key-then-cert.pem") }),
      "CHAIN_INVALID",
    );
    expect(e.message).toContain("invalid certificate chain");
  });

  it("from plain JavaScript, a wrong type is a USAGE error naming the option, not a TypeError; never the secret", async () => {
    const cases: [unknown, string][] = [
      [null, "the options must be an object"],
      [undefined, "the options must be an object"],
      [{ privateKey: 5 }, "privateKey must be a non-empty string"],
      [{ certificate: {}, privateKey: leaf.keyPath }, "certificate must be a non-empty string"],
      [{ certificate: leaf.certPath, privateKey: "" }, "privateKey must be a non-empty string (a path"],
      [{ privateKey: leaf.keyPath, intermediates: 7 }, "intermediates must be a string"],
      [{ privateKey: leaf.keyPath, keyPassword: "hunter2" }, "keyPassword must be { kind: \"file\", path }"],
      [{ privateKey: "pkcs11:token=t", pkcs11: "x" }, "pkcs11 must be an object"],
      [{ privateKey: "pkcs11:token=t", pkcs11: { pin: { kind: "value", value: 1234 } } }, "pkcs11.pin must be"],
      [{ privateKey: "handle:0x81000001", tpm: null }, "tpm must be an object"],
      [{ privateKey: "handle:0x81000001", tpm: { noKeyPassword: "yes" } }, "tpm.noKeyPassword must be a boolean"],
      [{ privateKey: leaf.keyPath, waitForDeviceMs: "10" }, "waitForDeviceMs must be a number"],
      [{ privateKey: leaf.keyPath, debug: "yes" }, "debug must be a function"],
      [{ privateKey: leaf.keyPath, env: { TPM_DEVICE: 5 } }, "env must be an object of strings"],
      // Before: anything but "options" (a typo, true, null) silently meant the CLI's flags in hints.
      [{ privateKey: leaf.keyPath, names: "option" }, 'names must be "flags" or "options"'],
      [{ privateKey: leaf.keyPath, names: null }, 'names must be "flags" or "options"'],
      [{ privateKey: leaf.keyPath, names: true }, 'names must be "flags" or "options"'],
    ];
    for (const [options, message] of cases) {
      const e = await expectAgentError(createSigner(options as Parameters<typeof createSigner>[0]), "USAGE");
      expect(e.message, JSON.stringify(options)).toContain(message);
      expect(e.message).not.toContain("hunter2");
      expect(e.hint, JSON.stringify(options)).toBe("see SignerOptions in the type definitions");
    }
  });

  it("a signal ends a --wait-for-device wait at once, with its reason (a closed credential source)", async () => {
    // Before: nothing could end the wait: a source closed while its TPM was not up waited up to waitForDeviceMs.
    const controller = new AbortController();
    const reason = new Error("closed");
    const tpm = { device: `unix:${path("no-such-tpm.sock")}`, noKeyPassword: true };
    // The pauses between tries run on a virtual clock that does not move: the wait ends with no pause run out, and none
    // is left behind (a pause that went on would end the wait when it did: 1 s later, or never).
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      let pausing!: () => void;
      const began = new Promise<void>((resolve) => (pausing = resolve));
      const options = { privateKey: "handle:0x81000101", tpm, waitForDeviceMs: 86_400_000, onDeviceWait: () => pausing() };
      let outcome: unknown = "still waiting";
      createSigner(options, controller.signal).then(() => (outcome = "a signer"), (e: unknown) => (outcome = e));
      await began; // the first pause (1 s) is set
      expect(vi.getTimerCount()).toBe(1);
      controller.abort(reason);
      await new Promise((resolve) => setImmediate(resolve));
      expect(outcome).toBe(reason);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("--wait-for-device tries the device again, not the files: each is read once (standard input cannot be read twice)", async () => {
    // Before: every try read the certificate and intermediates again: the files removed once the wait began were then
    // FILE_NOT_FOUND (and standard input, read already, "standard input is empty", exit 3, on the second try).
    writeFileSync(path("once-cert.pem"), leaf.certPem);
    writeFileSync(path("once-chain.pem"), inter.certPem);
    const tpm = { device: `unix:${path("no-such-tpm.sock")}`, noKeyPassword: true };
    const waited: string[] = [];
    const onDeviceWait = (line: string) => {
      waited.push(line);
      ["once-cert.pem", "once-chain.pem"].forEach((name) => rmSync(path(name)));
    };
    const options = { certificate: path("once-cert.pem"), intermediates: path("once-chain.pem"), privateKey: "handle:0x81000101", tpm, waitForDeviceMs: 1_200, onDeviceWait };
    await expectAgentError(createSigner(options), "TPM_UNAVAILABLE");
    expect(waited).toEqual([expect.stringMatching(/^waiting up to 1 s for the device: /)]);
  });

  it("a missing key file: FILE_NOT_FOUND naming it", async () => {
    const e = await expectAgentError(createSigner({ certificate: leaf.certPath, privateKey: path("absent.key") }), "FILE_NOT_FOUND");
    expect(e.message).toContain(path("absent.key"));
  });

  it("a pkcs11: URI's scheme in any case is a PKCS#11 key, as parsePkcs11Uri and the config read it (RFC 3986)", async () => {
    // Before: "PKCS11:…" was taken for a file name here (FILE_NOT_FOUND) while isPkcs11Uri said it was a URI.
    for (const privateKey of ["PKCS11:token=t;object=k", "Pkcs11:token=t;object=k"]) {
      expect(isPkcs11Uri(privateKey)).toBe(true);
      await expectAgentError(createSigner({ privateKey, pkcs11: { library: "/nonexistent.so" } }), "PKCS11_MODULE_NOT_FOUND");
    }
  });
});

describe("createPkcs11Signer and createTpmSigner from plain JavaScript", () => {
  it("junk options are a USAGE error naming the option, before any module or device is opened", async () => {
    const key = { kind: "handle", handle: 0x81000001 };
    const cases: [(o: never) => Promise<unknown>, unknown, string][] = [
      [createPkcs11Signer, null, "createPkcs11Signer: the options must be an object"],
      [createPkcs11Signer, {}, "createPkcs11Signer: keyUri must be a string"],
      [createPkcs11Signer, { keyUri: 5 }, "createPkcs11Signer: keyUri must be a string"],
      [createPkcs11Signer, { keyUri: "pkcs11:token=t", library: 5 }, "createPkcs11Signer: library must be a string"],
      [createPkcs11Signer, { keyUri: "pkcs11:token=t", certificate: "cert.pem" }, "certificate must be a Certificate"],
      [createPkcs11Signer, { keyUri: "pkcs11:token=t", env: { PIN: 1234 } }, "env must be an object of strings"],
      // Before: refused only after the module had loaded (here: PKCS11_MODULE_NOT_FOUND), as "the token's user PIN".
      [createPkcs11Signer, { keyUri: "pkcs11:token=t", library: "/nonexistent.so", pin: "1234" }, "createPkcs11Signer: pin must be {"],
      [createPkcs11Signer, { keyUri: "pkcs11:token=t", library: "/nonexistent.so", contextPin: 1234 }, "contextPin must be {"],
      [createTpmSigner, undefined, "createTpmSigner: the options must be an object"],
      [createTpmSigner, {}, 'createTpmSigner: key must be { kind: "tss2-pem", path, pem } or { kind: "handle", handle: 0x81… }'],
      [createTpmSigner, { key: { kind: "handle", handle: -1 } }, "createTpmSigner: key must be"],
      [createTpmSigner, { key: { kind: "handle", handle: 2 ** 40 + 0x81000001 } }, "createTpmSigner: key must be"],
      [createTpmSigner, { key: "handle:0x81000001" }, "createTpmSigner: key must be"],
      [createTpmSigner, { key: { kind: "tss2-pem", path: 5, pem: 5 } }, "createTpmSigner: key must be"],
      [createTpmSigner, { key, device: 5 }, "createTpmSigner: device must be a string"],
      // Before: a string parentPassword was ignored, then "TPM key password is needed but there is no terminal".
      [createTpmSigner, { key, device: "tcp:127.0.0.1:1", parentPassword: "1234" }, "createTpmSigner: parentPassword must be {"],
      [createTpmSigner, { key, device: "tcp:127.0.0.1:1", keyPassword: "1234" }, "createTpmSigner: keyPassword must be {"],
      [createTpmSigner, { key, intermediates: [{}] }, "createTpmSigner: intermediates must be an array of Certificates"],
      // Before: any value (a typo, true, null) silently meant the CLI's flags in hints.
      [createPkcs11Signer, { keyUri: "pkcs11:token=t", library: "/nonexistent.so", names: "option" }, 'names must be "flags" or "options"'],
      [createTpmSigner, { key, device: "tcp:127.0.0.1:1", names: true }, 'createTpmSigner: names must be "flags" or "options"'],
    ];
    for (const [create, options, message] of cases) {
      const e = await expectAgentError(create(options as never), "USAGE");
      expect(e.message, JSON.stringify(options)).toContain(message);
      expect(e.message).not.toContain("1234");
    }
  });
});

describe("the other library entries from plain JavaScript", () => {
  it("are USAGE errors, not raw TypeErrors (before: 'Cannot read properties of null (reading …)')", async () => {
    const usage = (f: () => unknown, message: string) => expect(f).toThrow(expect.objectContaining({ code: "USAGE", message }));
    for (const junk of [null, undefined, 5, {}]) {
      usage(() => parseArn(junk as never), "the ARN must be a string");
      usage(() => parseRoleArn(junk as never), "the role ARN must be a string");
      usage(() => parseTrustAnchorArn(junk as never), "the trust anchor ARN must be a string");
      usage(() => parseProfileArn(junk as never), "the profile ARN must be a string");
      usage(() => regionOf(junk as never), "the ARN must be a string");
      usage(() => parseTpmHandle(junk as never), "parseTpmHandle: the handle must be a string (handle:0x81…)");
      usage(() => parsePkcs11Uri(junk as never), "parsePkcs11Uri: the URI must be a string");
      expect(isPkcs11Uri(junk as never)).toBe(false);
    }
    const list = (o: unknown) => expectAgentError(listPkcs11Certificates(o as never), "USAGE");
    expect((await list(null)).message).toBe("listPkcs11Certificates: the options must be an object");
    expect((await list({})).message).toBe("listPkcs11Certificates: uri must be a string");
    const pin = await list({ uri: "pkcs11:token=t", library: "/nonexistent.so", pin: "1234" });
    expect(pin.message).toMatch(/^listPkcs11Certificates: pin must be \{ kind: "file", path \}/);
  });
});

describe("parseTpmHandle", () => {
  it.each([
    ["handle:0x81000001", 0x81000001],
    ["handle:0X81000101", 0x81000101],
    // The Go helper's other form, also in docs/tpm.md: hex without 0x (not the decimal number 81000101).
    ["handle:81000101", 0x81000101],
    ["handle:2164260865", 0x81000001],
    ["handle:0x81ffffff", 0x81ffffff],
  ])("%s", (ref, value) => {
    expect(parseTpmHandle(ref)).toBe(value);
  });

  it.each(["handle:", "handle:0x", "handle:0x1000000000", "handle:xyz", "handle:-1", "handle:0x81000001 1"])(
    "%s is TPM_KEY_INVALID: not a TPM handle",
    async (ref) => {
      const e = await expectAgentError(Promise.resolve().then(() => parseTpmHandle(ref)), "TPM_KEY_INVALID");
      expect(e.message).toBe(`${ref} is not a TPM handle`);
    },
  );

  // Hierarchies, transient objects (gone with the connection that loaded them), sessions, NV indices, PCRs.
  it.each(["handle:0x40000001", "handle:0x80000001", "handle:0x02000000", "handle:0x01000001", "handle:0x00000000", "handle:0xffffffff",
    "handle:0x82000000", "handle:6459228417"])("%s is TPM_KEY_INVALID: not a persistent handle", async (ref) => {
    const e = await expectAgentError(Promise.resolve().then(() => parseTpmHandle(ref)), "TPM_KEY_INVALID");
    expect(e.message).toBe(`${ref} is outside the persistent TPM handles, 0x81000000-0x81ffffff`);
    expect(e.hint).toMatch(/handle:0x81000101/);
  });

  it("a non-persistent handle is refused before the TPM is opened", async () => {
    const e = await expectAgentError(createSigner({ privateKey: "handle:0x40000001", tpm: { device: "unix:/nonexistent/tpm.sock" } }), "TPM_KEY_INVALID");
    expect(e.category).toBe("input");
  });

  it("keygen's parent and target: any range (keygen checks its own), named as the user wrote them", async () => {
    expect(parseTpmHandle("40000001", { anyRange: true })).toBe(0x40000001);
    const e = await expectAgentError(Promise.resolve().then(() => parseTpmHandle("zz", { anyRange: true, name: "--tpm-parent zz" })), "TPM_KEY_INVALID");
    expect(e.message).toBe("--tpm-parent zz is not a TPM handle");
  });
});
