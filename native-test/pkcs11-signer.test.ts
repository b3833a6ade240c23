/**
 * The PKCS#11 back-end against real SoftHSM tokens made by softhsm/create-test-token.sh: every key type,
 * every way of finding the key, every PIN source, always-authenticate keys, two tokens with the same
 * labels, the error cases, p11tool's URIs, the token chain and the certificate listing.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { execFileSync } from "node:child_process";
import { verify, type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Pkcs11SignerOptions } from "../src/signers/options.js";
import type { DigestAlgorithm, Signer } from "../src/signers/signer.js";
import { createPkcs11Signer, listPkcs11Certificates, Pkcs11AmbiguousError, parsePkcs11Uri } from "../src/signers/pkcs11/index.js";
import { createSoftHsmFixture, type SoftHsmFixture, WRONG_PIN } from "./helpers/softhsm-fixture.js";
import { failure } from "../test/helpers/agent-error.js";
import { readTbsFields } from "../src/x509/tbs-fields.js";

let hsm: SoftHsmFixture;
const open: Signer[] = [];

beforeAll(() => {
  hsm = createSoftHsmFixture("raa-pkcs11-signer-");
  process.env["SOFTHSM2_CONF"] = hsm.conf;
});

afterAll(async () => {
  for (const signer of open) await signer.close();
  hsm.cleanup();
});

/** A signer on the test token with the PIN from a file unless the options say otherwise. */
async function signer(options: Partial<Pkcs11SignerOptions> & { keyUri: string }): Promise<Signer> {
  const s = await createPkcs11Signer({ library: hsm.module, pin: { kind: "file", path: hsm.pinFile() }, ...options });
  open.push(s);
  return s;
}

const MESSAGE = Buffer.from("AWS4-X509-ECDSA-SHA256\n20261123T000000Z\n20261123/us-east-1/rolesanywhere/aws4_request\nabc");

function verifies(key: KeyObject, signature: Buffer, digest: DigestAlgorithm = "SHA256", message = MESSAGE): boolean {
  return verify(digest.toLowerCase(), message, key, signature);
}

/** The same check done by OpenSSL's command line, independent of node:crypto. */
function opensslVerifies(certPath: string, signature: Buffer, digest: DigestAlgorithm): boolean {
  const pub = join(hsm.dir, "verify-pub.pem");
  const sig = join(hsm.dir, "verify.sig");
  const msg = join(hsm.dir, "verify.msg");
  writeFileSync(pub, execFileSync("openssl", ["x509", "-in", certPath, "-noout", "-pubkey"]));
  writeFileSync(sig, signature);
  writeFileSync(msg, MESSAGE);
  try {
    execFileSync("openssl", ["dgst", `-${digest.toLowerCase()}`, "-verify", pub, "-signature", sig, msg], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

const tokenUri = (object: string) => `pkcs11:token=rolesanywhere;object=${object}`;

describe("every key type, certificate and key on the token", () => {
  it.each([
    ["rsa-key", "RSA"],
    ["ec-key", "EC"],
    ["ec384-key", "EC"],
    ["ec521-key", "EC"],
  ] as const)("%s signs SHA-256/384/512 and both node:crypto and openssl verify", async (name, keyType) => {
    const uri = tokenUri(name);
    const s = await signer({ keyUri: uri, certificateUri: uri });
    expect(s.keyType).toBe(keyType);
    expect(s.backend).toBe("pkcs11");
    const cert = await s.certificate();
    expect(cert?.der.equals(hsm.certificate(`${name}.pem`).der)).toBe(true);
    for (const digest of ["SHA256", "SHA384", "SHA512"] as const) {
      const signature = await s.sign(MESSAGE, digest);
      expect(verifies(cert!.publicKey!, signature, digest)).toBe(true);
      expect(opensslVerifies(hsm.file(`${name}.pem`), signature, digest)).toBe(true);
      if (keyType === "EC") expect(signature[0]).toBe(0x30); // DER, not r||s
    }
    expect(verifies(cert!.publicKey!, await s.sign(Buffer.from("another message")), "SHA256", Buffer.from("another message"))).toBe(true);
  });

  it("signs many times on the one session it opened", async () => {
    const s = await signer({ keyUri: tokenUri("ec-key"), certificateUri: tokenUri("ec-key") });
    const key = (await s.publicKey())!;
    const signatures = await Promise.all(Array.from({ length: 50 }, (_, i) => s.sign(Buffer.from(`message ${i}`))));
    signatures.forEach((sig, i) => expect(verifies(key, sig, "SHA256", Buffer.from(`message ${i}`))).toBe(true));
  });

  it("close() is idempotent and a closed signer refuses to sign", async () => {
    const s = await signer({ keyUri: tokenUri("ec-key"), certificateUri: tokenUri("ec-key") });
    await s.close();
    await s.close();
    expect((await failure(s.sign(MESSAGE))).code).toBe("PKCS11_ERROR");
  });
});

describe("finding the key", () => {
  it("certificate from a file, key on the token by label (hybrid)", async () => {
    const s = await signer({ keyUri: tokenUri("ec-key"), certificate: hsm.certificate("ec-key.pem") });
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
  });

  it("key by id (RSA)", async () => {
    const s = await signer({ keyUri: "pkcs11:token=rolesanywhere;id=%01", certificate: hsm.certificate("rsa-key.pem") });
    expect(s.keyType).toBe("RSA");
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
  });

  it.each(["ec-key", "rsa-key", "ec384-key", "always-auth"])("key found by its certificate alone (%s): the URI names only the token", async (name) => {
    const s = await signer({ keyUri: "pkcs11:token=rolesanywhere", certificate: hsm.certificate(`${name}.pem`), reusePin: true });
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
  });

  it("a certificate URI with an id shared by a PIV attestation certificate picks the real one", async () => {
    const uri = "pkcs11:token=rolesanywhere;id=%02";
    const s = await signer({ keyUri: uri, certificateUri: uri });
    expect((await s.certificate())?.subject).toContain("CN=ec-key");
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
  });

  it("the attestation certificate matches when named explicitly", async () => {
    const list = await listPkcs11Certificates({ uri: "pkcs11:token=rolesanywhere;object=X.509%20Certificate%20for%20PIV%20Attestation%209a", library: hsm.module });
    expect(list).toHaveLength(1);
    expect(list[0]!.subject).toBe("CN=attestation");
  });

  it("a key without certificate (sign-string): public key from the token's public key object", async () => {
    const s = await signer({ keyUri: tokenUri("no-cert") });
    expect(await s.certificate()).toBeUndefined();
    expect(await s.certificateChain()).toEqual([]);
    const key = await s.publicKey();
    expect(key?.asymmetricKeyType).toBe("ec");
    expect(verifies(key!, await s.sign(MESSAGE))).toBe(true);
  });

  it("a certificate that belongs to no key on the token is a mismatch, not a wrong signature", async () => {
    const error = await failure(signer({ keyUri: tokenUri("ec-key"), certificate: hsm.certificate("ec-key-2.pem") }));
    expect(error.code).toBe("KEY_CERTIFICATE_MISMATCH");
    expect(error.message).toContain("object=ec-key");
  });

  it("an unknown object label is not found; the hint names the nearest keys, not every object on the token", async () => {
    const typo = await failure(signer({ keyUri: tokenUri("ec-kye") }));
    expect(typo.code).toBe("PKCS11_OBJECT_NOT_FOUND");
    expect(typo.hint).toMatch(/^nearest objects on the token: object=ec-key;id=%02;type=private/);
    const unrelated = await failure(signer({ keyUri: tokenUri("no-such-key") }));
    expect(unrelated.code).toBe("PKCS11_OBJECT_NOT_FOUND");
    expect(unrelated.hint).toMatch(/^the token holds \d+ private key\(s\), none close to that name; list them with/);
  });

  it("an unknown certificate label without any PIN is 'not found', not 'PIN needed'", async () => {
    const uri = tokenUri("no-such-cert");
    const error = await failure(createPkcs11Signer({ keyUri: uri, certificateUri: uri, library: hsm.module }));
    expect(error.code).toBe("PKCS11_OBJECT_NOT_FOUND");
    expect(error.hint).toMatch(/give the PIN/);
  });

  it("an unknown token is reported with the tokens present", async () => {
    const error = await failure(signer({ keyUri: "pkcs11:token=nope;object=ec-key" }));
    expect(error.code).toBe("PKCS11_TOKEN_NOT_FOUND");
    expect(error.hint).toContain("token=rolesanywhere");
    expect(error.hint).toContain("token=second-token");
  });
});

describe("two tokens with the same object label", () => {
  it("an URI without the token is ambiguous and lists each candidate's full URI", async () => {
    const error = await failure(signer({ keyUri: "pkcs11:object=ec-key", certificateUri: "pkcs11:object=ec-key" }));
    expect(error).toBeInstanceOf(Pkcs11AmbiguousError);
    expect(error.code).toBe("PKCS11_AMBIGUOUS");
    const candidates = (error as Pkcs11AmbiguousError).candidates;
    expect(candidates).toHaveLength(2);
    expect(candidates.some((c) => c.includes(`serial=${hsm.serial};token=rolesanywhere`))).toBe(true);
    expect(candidates.some((c) => c.includes(`serial=${hsm.serial2};token=second-token`))).toBe(true);
    for (const c of candidates) expect(error.toOneLine()).toContain(c);
  });

  it("a key URI without the token and a certificate from a file is ambiguous between the tokens", async () => {
    const error = await failure(signer({ keyUri: "pkcs11:object=ec-key", certificate: hsm.certificate("ec-key.pem") }));
    expect(error.code).toBe("PKCS11_AMBIGUOUS");
    expect((error as Pkcs11AmbiguousError).candidates).toHaveLength(2);
  });

  it("token= resolves it", async () => {
    const uri = "pkcs11:token=second-token;object=ec-key";
    const s = await signer({ keyUri: uri, certificateUri: uri });
    expect((await s.certificate())?.der.equals(hsm.certificate("ec-key-2.pem").der)).toBe(true);
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
  });

  it("serial= resolves it", async () => {
    const uri = `pkcs11:serial=${hsm.serial};object=ec-key`;
    const s = await signer({ keyUri: uri, certificateUri: uri });
    expect((await s.certificate())?.der.equals(hsm.certificate("ec-key.pem").der)).toBe(true);
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
  });
});

describe("PIN sources", () => {
  const uri = tokenUri("ec-key");
  const sign = async (s: Signer) => expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);

  it("pin-value in the URI", async () => {
    await sign(await createTracked({ keyUri: `${uri}?pin-value=1234`, certificateUri: `${uri}?pin-value=1234`, library: hsm.module }));
  });
  it("pin-source as a file path", async () => {
    const path = hsm.pinFile();
    await sign(await createTracked({ keyUri: `${uri}?pin-source=${path}`, library: hsm.module, certificate: hsm.certificate("ec-key.pem") }));
  });
  it("pin-source as a file: URI", async () => {
    const path = hsm.pinFile();
    await sign(await createTracked({ keyUri: `${uri}?pin-source=file://${path}`, library: hsm.module, certificate: hsm.certificate("ec-key.pem") }));
  });
  it("--pkcs11-pin-file", async () => {
    await sign(await createTracked({ keyUri: uri, certificateUri: uri, library: hsm.module, pin: { kind: "file", path: hsm.pinFile() } }));
  });
  it("--pkcs11-pin-env, read from process.env (the options' env gives the module's defaults only)", async () => {
    vi.stubEnv("TEST_TOKEN_PIN", "1234");
    try {
      await sign(await createTracked({ keyUri: uri, certificateUri: uri, library: hsm.module, pin: { kind: "env", name: "TEST_TOKEN_PIN" }, env: {} }));
    } finally {
      vi.unstubAllEnvs();
    }
  });
  it("a value (argv, for drop-in compatibility)", async () => {
    await sign(await createTracked({ keyUri: uri, certificateUri: uri, library: hsm.module, pin: { kind: "value", value: "1234" } }));
  });
  it("the URI's PIN wins over the options'", async () => {
    await sign(await createTracked({ keyUri: `${uri}?pin-value=1234`, certificateUri: `${uri}?pin-value=1234`, library: hsm.module, pin: { kind: "value", value: "0000" } }));
  });
  it("no PIN and no terminal: a clear error, no hidden prompt", async () => {
    const error = await failure(createTracked({ keyUri: uri, certificateUri: uri, library: hsm.module }));
    expect(error.code).toBe("PASSWORD_REQUIRED");
    expect(error.toOneLine()).toMatch(/no terminal/);
    expect(error.toOneLine()).toMatch(/pin-source=|--pkcs11-pin-file/);
  });
  it("an unset PIN environment variable is named", async () => {
    const error = await failure(createTracked({ keyUri: uri, certificateUri: uri, library: hsm.module, pin: { kind: "env", name: "NOT_SET_PIN" }, env: {} }));
    expect(error.code).toBe("PASSWORD_REQUIRED");
    expect(error.message).toContain("NOT_SET_PIN");
  });
  it("an unsupported pin-source scheme is rejected before anything is loaded", async () => {
    const error = await failure(createTracked({ keyUri: `${uri}?pin-source=https://example.com/pin`, library: hsm.module, certificate: hsm.certificate("ec-key.pem") }));
    expect(error.code).toBe("PKCS11_URI_INVALID");
  });

  async function createTracked(options: Pkcs11SignerOptions): Promise<Signer> {
    const s = await createPkcs11Signer(options);
    open.push(s);
    return s;
  }
});

describe("CKA_ALWAYS_AUTHENTICATE", () => {
  const uri = tokenUri("always-auth");

  it("with --reuse-pin, every signature logs in context-specifically with the user PIN", async () => {
    const s = await signer({ keyUri: uri, certificateUri: uri, reusePin: true });
    const key = (await s.publicKey())!;
    for (let i = 0; i < 3; i++) expect(verifies(key, await s.sign(MESSAGE))).toBe(true);
  });

  it("with a context-specific PIN file", async () => {
    const s = await signer({ keyUri: uri, certificateUri: uri, contextPin: { kind: "file", path: hsm.pinFile() } });
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
  });

  it("without --reuse-pin or a context PIN, and no terminal: says what to pass", async () => {
    const error = await failure(signer({ keyUri: uri, certificateUri: uri }));
    expect(error.code).toBe("PASSWORD_REQUIRED");
    expect(error.toOneLine()).toMatch(/--reuse-pin/);
  });

  it("a wrong context-specific PIN is an auth error naming the context-specific PIN, without the PIN", async () => {
    // The key shows no public key, so no test signature is made: the wrong PIN surfaces at the first real one.
    const s = await signer({ keyUri: uri, certificate: hsm.certificate("always-auth.pem"), contextPin: { kind: "value", value: WRONG_PIN } });
    const error = await failure(s.sign(MESSAGE));
    expect(error.code).toBe("PIN_INCORRECT");
    expect(error.category).toBe("auth");
    expect(error.message).toContain("context-specific");
    expect(error.message).not.toContain(WRONG_PIN);
  });
});

describe("errors", () => {
  it("a missing module: the error lists the modules installed here", async () => {
    const error = await failure(signer({ keyUri: tokenUri("ec-key"), library: "/nonexistent/libnothing-pkcs11.so" }));
    expect(error.code).toBe("PKCS11_MODULE_NOT_FOUND");
    expect(error.category).toBe("device");
    expect(error.message).toContain("/nonexistent/libnothing-pkcs11.so");
    expect(error.hint).toContain("libsofthsm2.so");
  });

  it("a module named in the URI (module-path) is used without --pkcs11-lib", async () => {
    const uri = `${tokenUri("ec-key")}?module-path=${hsm.module}`;
    const s = await createPkcs11Signer({ keyUri: uri, certificateUri: uri, pin: { kind: "file", path: hsm.pinFile() } });
    open.push(s);
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
  });

  it("module-name=softhsm2 resolves through p11-kit's registration", async () => {
    const uri = `${tokenUri("ec-key")}?module-name=softhsm2`;
    const s = await createPkcs11Signer({ keyUri: uri, certificateUri: uri, pin: { kind: "file", path: hsm.pinFile() } });
    open.push(s);
    expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
  });

  it("an ambiguous certificate URI lists every candidate", async () => {
    const error = await failure(signer({ keyUri: "pkcs11:token=rolesanywhere", certificateUri: "pkcs11:token=rolesanywhere" }));
    expect(error.code).toBe("PKCS11_AMBIGUOUS");
    const candidates = (error as Pkcs11AmbiguousError).candidates;
    for (const name of ["rsa-key", "ec-key", "ec384-key", "always-auth", "no-sign", "ec521-key", "Roles%20Anywhere%20Test%20CA"]) {
      expect(candidates.some((c) => c.includes(`object=${name};`))).toBe(true);
    }
    expect(candidates.every((c) => /^pkcs11:id=%[0-9A-F]{2};manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=[^;]+;serial=[0-9a-f]+;token=rolesanywhere;type=cert$/.test(c))).toBe(true);
  });

  it("a key without CKA_SIGN: PKCS11_KEY_CANNOT_SIGN", async () => {
    const error = await failure(signer({ keyUri: tokenUri("no-sign"), certificateUri: tokenUri("no-sign") }));
    expect(error.code).toBe("PKCS11_KEY_CANNOT_SIGN");
    expect(error.message).toContain("CKA_SIGN=false");
  });

  it("a URI naming a data object is refused", async () => {
    expect((await failure(signer({ keyUri: "pkcs11:token=rolesanywhere;type=data" }))).code).toBe("PKCS11_URI_INVALID");
  });
});

describe("chain from the token", () => {
  it("a leaf issued by the intermediate CA on the token gets that intermediate, not the root or anything else", async () => {
    const s = await signer({ keyUri: tokenUri("ec384-key"), certificateUri: tokenUri("ec384-key") });
    const chain = await s.certificateChain();
    expect(chain.map((c) => c.subject)).toEqual(["CN=Roles Anywhere Test Intermediate CA"]);
  });

  it("an intermediate whose CKA_SUBJECT is not its subject is still found (the token is then read whole)", async () => {
    // SoftHSM keeps CKA_SUBJECT read-only: the object is made again with the given one. In a child process: a second
    // C_Initialize/C_Finalize here would end the sessions of this file's signers.
    const setSubject = (subjectHex: string) =>
      execFileSync(process.execPath, ["-e", `
        const { PKCS11 } = require("pkcs11js");
        const p = new PKCS11(); p.load(${JSON.stringify(hsm.module)}); p.C_Initialize();
        const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === "rolesanywhere");
        const session = p.C_OpenSession(slot, 6); p.C_Login(session, 1, "1234");
        const label = "Roles Anywhere Test Intermediate CA";
        p.C_FindObjectsInit(session, [{ type: 0, value: 1 }, { type: 3, value: label }]);
        const [cert] = p.C_FindObjects(session, 2); p.C_FindObjectsFinal(session);
        const [id, value] = p.C_GetAttributeValue(session, cert, [{ type: 0x102 }, { type: 0x11 }]);
        p.C_DestroyObject(session, cert);
        p.C_CreateObject(session, [{ type: 0, value: 1 }, { type: 0x80, value: 0 }, { type: 1, value: true }, { type: 3, value: label },
          { type: 0x102, value: id.value }, { type: 0x11, value: value.value }, { type: 0x101, value: Buffer.from("${subjectHex}", "hex") }]);
        p.C_Logout(session); p.C_CloseSession(session); p.C_Finalize();`], { env: process.env, cwd: join(import.meta.dirname, "..") });
    const intermediate = hsm.certificate("int-ca.pem");
    // SEQUENCE { SET { SEQUENCE { CN, "other" } } }
    setSubject("3010310e300c06035504030c056f74686572");
    try {
      const s = await signer({ keyUri: tokenUri("ec384-key"), certificateUri: tokenUri("ec384-key") });
      expect((await s.certificateChain()).map((c) => c.sha256Fingerprint())).toEqual([intermediate.sha256Fingerprint()]);
    } finally {
      setSubject(readTbsFields(intermediate.der).subject.raw.toString("hex"));
    }
  });

  it("a leaf issued by the root gets no chain (the root is the trust anchor)", async () => {
    const s = await signer({ keyUri: tokenUri("ec-key"), certificateUri: tokenUri("ec-key") });
    expect(await s.certificateChain()).toEqual([]);
  });

  it("--intermediates replaces the token's chain", async () => {
    const intermediate = hsm.certificate("int-ca.pem");
    const s = await signer({ keyUri: tokenUri("ec-key"), certificateUri: tokenUri("ec-key"), intermediates: [intermediate] });
    expect((await s.certificateChain()).map((c) => c.sha256Fingerprint())).toEqual([intermediate.sha256Fingerprint()]);
  });
});

describe("p11tool's URIs", () => {
  function p11tool(listing: string): string[] {
    const out = execFileSync("p11tool", ["--provider", hsm.module, "--login", listing, "--only-urls", "pkcs11:token=rolesanywhere"], {
      env: { ...process.env, GNUTLS_PIN: hsm.pin },
      encoding: "utf8",
    });
    return out.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("pkcs11:"));
  }

  it("every certificate URL printed by p11tool is accepted verbatim as --certificate and key locator", async () => {
    const urls = p11tool("--list-all-certs").filter((u) => /object=(rsa-key|ec-key|ec384-key|ec521-key);/.test(u));
    expect(urls).toHaveLength(4);
    for (const url of urls) {
      const s = await signer({ keyUri: url, certificateUri: url });
      expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
    }
  });

  it("every private-key URL printed by p11tool is accepted verbatim as --private-key", async () => {
    const urls = p11tool("--list-all-privkeys");
    const byName = ["rsa-key", "ec-key", "ec384-key", "ec521-key", "no-cert"].map((n) => urls.find((u) => u.includes(`object=${n};`)));
    for (const url of byName) {
      expect(url).toBeDefined();
      const uri = parsePkcs11Uri(url!);
      const name = uri.object!;
      const s = await signer({ keyUri: url!, ...(name === "no-cert" ? {} : { certificate: hsm.certificate(`${name}.pem`) }) });
      expect(verifies((await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
    }
  });
});

describe("listPkcs11Certificates (read-certificate-data)", () => {
  it("lists a certificate with the Go helper's fields and its full sorted URI", async () => {
    const entries = await listPkcs11Certificates({ uri: tokenUri("ec-key"), library: hsm.module });
    expect(entries).toHaveLength(1);
    const [entry] = entries;
    const pem = hsm.file("ec-key.pem");
    const fingerprint = execFileSync("openssl", ["x509", "-in", pem, "-noout", "-fingerprint", "-sha1"], { encoding: "utf8" });
    const serial = execFileSync("openssl", ["x509", "-in", pem, "-noout", "-serial"], { encoding: "utf8" });
    expect(entry!.sha1Fingerprint).toBe(fingerprint.split("=")[1]!.trim().replace(/:/g, "").toLowerCase());
    expect(entry!.serialHex).toBe(serial.split("=")[1]!.trim().replace(/^0+/, ""));
    expect(entry!.subject).toBe("CN=ec-key");
    expect(entry!.issuer).toBe("CN=Roles Anywhere Test CA");
    expect(entry!.uri).toBe(`pkcs11:id=%02;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=ec-key;serial=${hsm.serial};token=rolesanywhere;type=cert`);
  });

  it("lists matches on every token, each with its own token's URI", async () => {
    const entries = await listPkcs11Certificates({ uri: "pkcs11:object=ec-key", library: hsm.module });
    expect(entries.map((e) => e.uri).sort()).toEqual(
      [
        `pkcs11:id=%02;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=ec-key;serial=${hsm.serial};token=rolesanywhere;type=cert`,
        `pkcs11:id=%02;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=ec-key;serial=${hsm.serial2};token=second-token;type=cert`,
      ].sort(),
    );
  });

  it("leaves the PIV attestation certificate out: it is no identity (the service would answer 403)", async () => {
    const entries = await listPkcs11Certificates({ uri: "pkcs11:token=rolesanywhere;id=%02", library: hsm.module });
    expect(entries.map((e) => e.subject)).toEqual(["CN=ec-key"]);
  });

  it("an empty list when nothing matches", async () => {
    expect(await listPkcs11Certificates({ uri: tokenUri("nothing"), library: hsm.module })).toEqual([]);
  });

  it("every listed URI finds exactly its certificate again", async () => {
    const entries = await listPkcs11Certificates({ uri: "pkcs11:token=rolesanywhere", library: hsm.module });
    expect(entries.length).toBeGreaterThanOrEqual(8);
    for (const entry of entries) {
      const again = await listPkcs11Certificates({ uri: entry.uri, library: hsm.module });
      expect(again.map((e) => e.sha1Fingerprint)).toEqual([entry.sha1Fingerprint]);
    }
  });
});
