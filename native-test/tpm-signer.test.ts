/**
 * The TPM signer against swtpm with keys made by other people's tools (tpm2-openssl, tpm2-tools), every
 * signature checked with `openssl dgst -verify` against the public key those tools exported.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { join } from "node:path";
import * as fs from "node:fs";
import { readFileSync } from "node:fs";
import { Certificate } from "../src/x509/certificate.js";
import type { TpmSignerOptions } from "../src/signers/options.js";
import { createTpmSigner, openTpmSigner, type TpmSigner } from "../src/signers/tpm/tpm-signer.js";
import { openTpmTransport } from "../src/tpm/transport/open-transport.js";
import type { TpmTransport } from "../src/tpm/transport/transport.js";
import { createCa, issueLeaf } from "../test/helpers/pki.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import {
  encodeObject,
  genpkey,
  lockoutCounter,
  opensslVerifies,
  persistentKey,
  persistSrk,
  readPcr,
  sessionHandles,
  tpm2Create,
  transientHandles,
  trialPolicy,
  writeTss2File,
} from "./helpers/tpm-keys.js";

const SRK = 0x81000001;
const PROTECTED_PARENT = 0x81000002;
const PARENT_PASSWORD = "parent-Secret-7";
const KEY_PASSWORD = "Corr3ct-Horse-Battery";
const message = Buffer.from("roles anywhere: sign me");

let tpm: Swtpm;
let tcpTpm: Swtpm;
interface KeyFixture {
  pem: string;
  path: string;
  publicKeyPath: string;
  password?: string;
}
const keys: Record<string, KeyFixture> = {};
let persistentPub: { plain: string; withPassword: string };
let pcrKeys: { pcrOnly: string; pcrAndAuth: string; password: string; publicKeyPath: string; publicKeyPathAuth: string };
let ca: ReturnType<typeof createCa>;

function fileOptions(name: string, extra: Partial<TpmSignerOptions> = {}): TpmSignerOptions {
  const k = keys[name]!;
  return {
    key: { kind: "tss2-pem", path: k.path, pem: k.pem },
    device: tpm.device,
    ...(k.password ? { keyPassword: { kind: "value", value: k.password } } : {}),
    ...extra,
  };
}

async function withSigner<T>(opts: TpmSignerOptions, fn: (s: TpmSigner) => Promise<T>): Promise<T> {
  const signer = await openTpmSigner(opts);
  try {
    return await fn(signer);
  } finally {
    await signer.close();
  }
}

beforeAll(async () => {
  [tpm, tcpTpm] = await Promise.all([startSwtpm({ transport: "unix" }), startSwtpm({ transport: "tcp" })]);
  await persistSrk(tpm, SRK);
  await persistSrk(tpm, PROTECTED_PARENT, { password: PARENT_PASSWORD });
  const made = async (name: string, o: Parameters<typeof genpkey>[2]) => {
    const k = await genpkey(tpm, name, o);
    keys[name] = { pem: k.pem, path: k.keyPath, publicKeyPath: k.publicKeyPath, ...(o.userAuth ? { password: o.userAuth } : {}) };
  };
  await made("ec-p256", { algorithm: "EC", curve: "P-256" });
  await made("ec-p384", { algorithm: "EC", curve: "P-384" });
  await made("rsa", { algorithm: "RSA", bits: 2048 });
  await made("ec-auth", { algorithm: "EC", curve: "P-256", userAuth: KEY_PASSWORD });
  await made("rsa-auth", { algorithm: "RSA", bits: 2048, userAuth: "rsa-pw" });
  await made("ec-persist-parent", { algorithm: "EC", curve: "P-256", parent: SRK });
  await made("ec-protected-parent", { algorithm: "EC", curve: "P-256", parent: PROTECTED_PARENT, parentAuth: PARENT_PASSWORD, userAuth: KEY_PASSWORD });
  await made("ec-protected-parent-nopw", { algorithm: "EC", curve: "P-256", parent: PROTECTED_PARENT, parentAuth: PARENT_PASSWORD });

  // tpm2-tools persistent keys, with and without password.
  persistentPub = {
    plain: (await persistentKey(tpm, "persist-ec", 0x81000101, { alg: "ecc256", attributes: "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", parent: SRK })).publicKeyPath,
    withPassword: (
      await persistentKey(tpm, "persist-rsa", 0x81000102, {
        alg: "rsa2048",
        attributes: "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|decrypt",
        parent: SRK,
        password: "persist-pw",
      })
    ).publicKeyPath,
  };

  // tpm2_encodeobject files (Debian 12's tpm2-tools 5.4 writes emptyAuth inverted): an RSA decrypt-only key
  // (no sign attribute, like openssl_tpm2_engine's) without password, and an ECC key with password.
  const decryptOnly = await tpm2Create(tpm, "rsa-decrypt-only", { alg: "rsa2048:null:null", attributes: "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt", parent: SRK });
  keys["rsa-decrypt-only"] = { pem: await encodeObject(tpm, "rsa-decrypt-only", decryptOnly, SRK, false), path: join(tpm.dir, "rsa-decrypt-only.pem"), publicKeyPath: await pubOf("rsa-decrypt-only") };
  const encAuth = await tpm2Create(tpm, "ec-encoded-auth", { alg: "ecc256", attributes: "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", parent: SRK, password: "enc-pw" });
  keys["ec-encoded-auth"] = { pem: await encodeObject(tpm, "ec-encoded-auth", encAuth, SRK, true), path: join(tpm.dir, "ec-encoded-auth.pem"), publicKeyPath: await pubOf("ec-encoded-auth"), password: "enc-pw" };

  // PCR-policy keys: tpm2-tools trial sessions + tpm2_create, TSS2 files written with openssl asn1parse -genconf.
  const pcrDigest = createHash("sha256").update(await readPcr(tpm, 16)).digest("hex");
  const selection16 = "00000001000b03000001";
  const pcrPolicy = await trialPolicy(tpm, "pcr16", { pcr: 16 });
  const pcrBlobs = await tpm2Create(tpm, "pcr-only", { alg: "ecc256", attributes: "fixedtpm|fixedparent|sensitivedataorigin|sign", parent: SRK, policyDigestPath: pcrPolicy });
  const pcrAuthPolicy = await trialPolicy(tpm, "pcr16-auth", { pcr: 16, then: "authvalue" });
  const pcrAuthBlobs = await tpm2Create(tpm, "pcr-auth", {
    alg: "ecc256",
    attributes: "fixedtpm|fixedparent|sensitivedataorigin|sign",
    parent: SRK,
    policyDigestPath: pcrAuthPolicy,
    password: "pcr-pw",
  });
  pcrKeys = {
    pcrOnly: await writeTss2File(tpm, "pcr-only", { blobs: pcrBlobs, parent: SRK, emptyAuth: true, policy: [{ commandCode: 0x17f, bodyHex: selection16 + pcrDigest }] }),
    pcrAndAuth: await writeTss2File(tpm, "pcr-auth", {
      blobs: pcrAuthBlobs,
      parent: SRK,
      emptyAuth: false,
      policy: [
        { commandCode: 0x17f, bodyHex: selection16 + pcrDigest },
        { commandCode: 0x16b, bodyHex: "" },
      ],
    }),
    password: "pcr-pw",
    publicKeyPath: await pubOfBlob("pcr-only", pcrBlobs),
    publicKeyPathAuth: await pubOfBlob("pcr-auth", pcrAuthBlobs),
  };
  ca = createCa(join(tpm.dir, "ca"), { name: "TPM Test CA" });
}, 120_000);

/** Public key (PEM) of a tpm2_create TPM2B_PUBLIC blob, printed by tpm2_print. */
async function pubOfBlob(name: string, blobs: { pub: string }): Promise<string> {
  const out = join(tpm.dir, `${name}.pub.pem`);
  fs.writeFileSync(out, await tpm.run("tpm2_print", ["-t", "TPM2B_PUBLIC", "-f", "pem", blobs.pub]));
  return out;
}

async function pubOf(name: string): Promise<string> {
  return pubOfBlob(name, { pub: join(tpm.dir, `${name}.tpub`) });
}

afterAll(async () => {
  await Promise.all([tpm?.stop(), tcpTpm?.stop()]);
});

describe("keys made by tpm2-openssl (parent 0x40000001: the SRK is re-created from the standard template)", () => {
  const cases: [string, ("SHA256" | "SHA384" | "SHA512")[]][] = [
    ["ec-p256", ["SHA256", "SHA384", "SHA512"]],
    ["ec-p384", ["SHA256", "SHA384", "SHA512"]],
    ["rsa", ["SHA256", "SHA384", "SHA512"]],
    ["ec-auth", ["SHA256"]],
    ["rsa-auth", ["SHA256", "SHA512"]],
    ["ec-persist-parent", ["SHA256"]],
  ];
  for (const [name, digests] of cases) {
    it(`${name}: signatures verify with openssl (${digests.join(", ")})`, async () => {
      const sigs = await withSigner(fileOptions(name), async (s) => {
        expect(s.keyType).toBe(name.startsWith("rsa") ? "RSA" : "EC");
        const pub = (await s.publicKey())!.export({ type: "spki", format: "pem" });
        expect(pub).toBe(readFileSync(keys[name]!.publicKeyPath, "utf8"));
        const out: [string, Buffer][] = [];
        for (const d of digests) out.push([d, await s.sign(message, d)]);
        return out;
      });
      for (const [d, sig] of sigs) {
        expect(await opensslVerifies(tpm, keys[name]!.publicKeyPath, message, sig, d.toLowerCase() as "sha256")).toBe(true);
      }
    });
  }

  it("the certificate may be absent, and a certificate issued for the TPM key is accepted", async () => {
    const leaf = issueLeaf(ca, join(tpm.dir, "leaf"), { name: "tpm-ec", publicKeyPath: keys["ec-p256"]!.publicKeyPath });
    const cert = new Certificate(new (await import("node:crypto")).X509Certificate(readFileSync(leaf.certPath)).raw);
    await withSigner(fileOptions("ec-p256", { certificate: cert }), async (s) => {
      expect((await s.certificate())?.serialDecimal).toBe(leaf.serialDecimal);
      expect(await s.certificateChain()).toEqual([]);
    });
    await withSigner(fileOptions("ec-p256"), async (s) => expect(await s.certificate()).toBeUndefined());
  });

  it("a certificate for another key is refused before any signature", async () => {
    const leaf = issueLeaf(ca, join(tpm.dir, "leaf-other"), { name: "other", publicKeyPath: keys["ec-p384"]!.publicKeyPath });
    const cert = new Certificate(new (await import("node:crypto")).X509Certificate(readFileSync(leaf.certPath)).raw);
    await expect(createTpmSigner(fileOptions("ec-p256", { certificate: cert }))).rejects.toMatchObject({ code: "KEY_CERTIFICATE_MISMATCH" });
  });

  it("createTpmSigner (the factory entry point) gives the same signer", async () => {
    const s = await createTpmSigner(fileOptions("ec-p256"));
    try {
      expect(s.backend).toBe("tpm");
      expect(await opensslVerifies(tpm, keys["ec-p256"]!.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("the key as DER, which tpm2-openssl writes (pkey -outform DER) and reads: createSigner sends it to the TPM, same key", async () => {
    const derPath = join(tpm.dir, "ec-p256.der");
    await tpm.run("openssl", ["pkey", "-provider", "tpm2", "-provider", "default", "-in", keys["ec-p256"]!.path, "-outform", "DER", "-out", derPath]);
    fs.chmodSync(derPath, 0o600);
    const { createSigner } = await import("../src/signers/factory.js");
    const s = await createSigner({ privateKey: derPath, tpm: { device: tpm.device, noKeyPassword: true } });
    try {
      expect(s.backend).toBe("tpm");
      expect((await s.publicKey())!.export({ type: "spki", format: "pem" })).toBe(readFileSync(keys["ec-p256"]!.publicKeyPath, "utf8"));
      expect(await opensslVerifies(tpm, keys["ec-p256"]!.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("the key stays loaded: many signatures, concurrent callers, one Load", async () => {
    await withSigner(fileOptions("ec-auth"), async (s) => {
      const handle = s.handle;
      const sigs = await Promise.all(Array.from({ length: 12 }, (_, i) => s.sign(Buffer.from(`m${i}`))));
      expect(s.handle).toBe(handle);
      const { verify, createPublicKey } = await import("node:crypto");
      const pub = createPublicKey(readFileSync(keys["ec-auth"]!.publicKeyPath));
      sigs.forEach((sig, i) => expect(verify("sha256", Buffer.from(`m${i}`), pub, sig)).toBe(true));
    });
  });

  it("a signature asked for before close() is made; close() waits for it, as the other back-ends do", async () => {
    // Before: sign() then close() in the same tick (a host shutting down with a request in flight) failed the
    // signature with TPM_UNAVAILABLE "the signer was already closed": the queued job saw close()'s flag.
    const s = await createTpmSigner(fileOptions("ec-p256"));
    const signature = s.sign(message);
    await s.close();
    expect(await opensslVerifies(tpm, keys["ec-p256"]!.publicKeyPath, message, await signature, "sha256")).toBe(true);
    await expect(s.sign(message)).rejects.toMatchObject({ code: "TPM_UNAVAILABLE" });
    expect(await transientHandles(tpm)).toEqual([]);
  });

  it("a key file whose private part the TPM refuses: the re-created SRK is flushed too", async () => {
    const { encodeTss2KeyFile, parseTss2KeyFile } = await import("../src/tpm/keys/tss2-key-file.js");
    const file = await parseTss2KeyFile(keys["ec-auth"]!.pem, "k");
    const privateBlob = Buffer.from(file.privateBlob);
    privateBlob[privateBlob.length - 1]! ^= 1;
    const pem = encodeTss2KeyFile({ ...file, privateBlob });
    await expect(createTpmSigner({ ...fileOptions("ec-auth"), key: { kind: "tss2-pem", path: "damaged.tss2", pem } })).rejects.toMatchObject({ code: expect.stringMatching(/^TPM_/) });
    expect(await transientHandles(tpm)).toEqual([]);
  });

  it("close() flushes everything it loaded (no transient objects left on the TPM)", async () => {
    const s = await createTpmSigner(fileOptions("ec-auth"));
    await s.sign(message);
    await s.close();
    await s.close();
    expect(await transientHandles(tpm)).toEqual([]);
    expect(await sessionHandles(tpm)).toEqual([]);
  });
});

describe("passwords", () => {
  it("a key that needs a password and none is given: a clear error, no prompt without a terminal", async () => {
    const opts = fileOptions("ec-auth");
    delete opts.keyPassword;
    await expect(createTpmSigner(opts)).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
  });

  it("the password can come from a file or an environment variable", async () => {
    const file = join(tpm.dir, "pw.txt");
    fs.writeFileSync(file, `${KEY_PASSWORD}\n`);
    await withSigner(fileOptions("ec-auth", { keyPassword: { kind: "file", path: file } }), async (s) => expect((await s.sign(message)).length).toBeGreaterThan(0));
    process.env["RAA_TEST_TPM_PW"] = KEY_PASSWORD;
    try {
      await withSigner(fileOptions("ec-auth", { keyPassword: { kind: "env", name: "RAA_TEST_TPM_PW" } }), async (s) => expect((await s.sign(message)).length).toBeGreaterThan(0));
    } finally {
      delete process.env["RAA_TEST_TPM_PW"];
    }
  });

  it("a wrong password: one clear error, counted once by the TPM (never retried)", async () => {
    const before = await lockoutCounter(tpm);
    const err = await withSigner(fileOptions("ec-auth", { keyPassword: { kind: "value", value: "wrong" } }), (s) => s.sign(message)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "TPM_AUTH_FAILED" });
    expect((err as Error).message).toMatch(/^wrong TPM key password; 1 failed attempt\(s\) counted, 999 left/);
    expect((err as Error).message).not.toContain("wrong\"");
    expect(await lockoutCounter(tpm)).toBe(before + 1);
  });

  it("a password given for a key whose file says it has none is refused before the TPM is touched: the lockout counter does not move", async () => {
    const before = await lockoutCounter(tpm);
    const outcome = await withSigner(fileOptions("ec-p256", { keyPassword: { kind: "value", value: "not-its-password" } }), (s) => s.sign(message)).catch((e: unknown) => e);
    expect(outcome).toMatchObject({ code: "USAGE" });
    expect((outcome as Error).message).toMatch(/a TPM key password was given but the key file says the key has none \(emptyAuth TRUE\); it was not tried/);
    expect((outcome as { hint: string }).hint).toMatch(/--tpm-ignore-empty-auth/);
    expect(await lockoutCounter(tpm)).toBe(before);
  });

  it("tpm2_encodeobject files: emptyAuth inverted by tpm2-tools 5.4 — a password with --tpm-ignore-empty-auth, or --no-tpm-key-password, wins", async () => {
    // This file claims emptyAuth TRUE but the key has a password: refused unless the user says the flag is wrong.
    await expect(createTpmSigner(fileOptions("ec-encoded-auth"))).rejects.toMatchObject({ code: "USAGE" });
    await withSigner(fileOptions("ec-encoded-auth", { ignoreEmptyAuth: true }), async (s) => {
      expect(await opensslVerifies(tpm, keys["ec-encoded-auth"]!.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    });
    // This one claims a password is needed but the key has none.
    await withSigner(fileOptions("rsa-decrypt-only", { noKeyPassword: true }), async (s) => expect(s.keyType).toBe("RSA"));
  });

  it("persistent parent with a password (--tpm-parent-password); wrong or missing parent password is refused clearly", async () => {
    const opts = fileOptions("ec-protected-parent", { keyPassword: { kind: "value", value: KEY_PASSWORD } });
    await withSigner({ ...opts, parentPassword: { kind: "value", value: PARENT_PASSWORD } }, async (s) => {
      expect(await opensslVerifies(tpm, keys["ec-protected-parent"]!.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    });
    await expect(createTpmSigner({ ...opts, parentPassword: { kind: "value", value: "nope" } })).rejects.toThrow(/wrong password for the TPM parent key 0x81000002/);
    await expect(createTpmSigner(opts)).rejects.toMatchObject({ code: "TPM_AUTH_FAILED" });
    // The failed loads flushed the parent's and the key's sessions: none is left to fill the TPM's slots.
    expect(await sessionHandles(tpm)).toEqual([]);
    // Offered again by a new signer (a daemon's SIGHUP after a config change), it is not presented again: before,
    // each signer cost one more dictionary-attack try.
    const before = await lockoutCounter(tpm);
    for (let i = 0; i < 3; i++) {
      await expect(createTpmSigner({ ...opts, parentPassword: { kind: "value", value: "nope" } })).rejects.toMatchObject({
        code: "TPM_AUTH_FAILED",
        message: expect.stringMatching(/the TPM already rejected this parent password; it was not presented again$/),
      });
    }
    expect(await lockoutCounter(tpm)).toBe(before);
  });

  it("a key with a password under a persistent parent on a curve without ECDH in node (SM2 P-256): sessions salted to a temporary primary", async () => {
    const ctx = join(tpm.dir, "sm2-parent.ctx");
    await tpm.run("tpm2_createprimary", ["-C", "o", "-G", "ecc_sm2_p256:null:aes128cfb", "-c", ctx, "-Q"]);
    await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx, "0x81000003", "-Q"]);
    await tpm.flushAll();
    const k = await genpkey(tpm, "under-sm2", { algorithm: "EC", curve: "P-256", parent: 0x81000003, userAuth: KEY_PASSWORD });
    const key = { kind: "tss2-pem", path: k.keyPath, pem: k.pem } as const;
    await withSigner({ key, device: tpm.device, keyPassword: { kind: "value", value: KEY_PASSWORD } }, async (s) => {
      expect(await opensslVerifies(tpm, k.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    });
    expect(await transientHandles(tpm)).toEqual([]);
  });
});

describe("persistent keys by handle (tpm2_create + tpm2_evictcontrol)", () => {
  for (const spelling of ["0x81000101", "81000101"]) {
    it(`handle ${spelling} without password (--no-tpm-key-password)`, async () => {
      await withSigner({ key: { kind: "handle", handle: parseInt(spelling, 16) }, device: tpm.device, noKeyPassword: true }, async (s) => {
        for (const d of ["SHA256", "SHA384"] as const) {
          expect(await opensslVerifies(tpm, persistentPub.plain, message, await s.sign(message, d), d.toLowerCase() as "sha256")).toBe(true);
        }
      });
      expect(await transientHandles(tpm)).toEqual([]);
    });
  }

  it("handle with a password; a handle with no flags and no terminal asks for the password and fails cleanly", async () => {
    await withSigner({ key: { kind: "handle", handle: 0x81000102 }, device: tpm.device, keyPassword: { kind: "value", value: "persist-pw" } }, async (s) => {
      expect(await opensslVerifies(tpm, persistentPub.withPassword, message, await s.sign(message), "sha256")).toBe(true);
    });
    await expect(createTpmSigner({ key: { kind: "handle", handle: 0x81000102 }, device: tpm.device })).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
  });

  it("a handle that does not exist", async () => {
    await expect(createTpmSigner({ key: { kind: "handle", handle: 0x81000999 }, device: tpm.device, noKeyPassword: true })).rejects.toThrow(
      /there is no persistent TPM object at 0x81000999/,
    );
  });

  it("keys fixed to an ECDSA hash longer than their curve (P-256 with SHA-384 or SHA-512, P-384 with SHA-512) sign every digest", async () => {
    // The TPM takes a digest of the scheme's size and keeps its left-most bits: a shorter one must not be zero-padded on the left.
    const fixed = [
      { handle: 0x81000103, alg: "ecc256:ecdsa-sha384" },
      { handle: 0x81000104, alg: "ecc256:ecdsa-sha512" },
      { handle: 0x81000105, alg: "ecc384:ecdsa-sha512" },
    ];
    for (const { handle, alg } of fixed) {
      const attributes = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign";
      const { publicKeyPath } = await persistentKey(tpm, `persist-${alg.replace(":", "-")}`, handle, { alg, attributes, parent: SRK });
      await withSigner({ key: { kind: "handle", handle }, device: tpm.device, noKeyPassword: true }, async (s) => {
        for (const d of ["SHA256", "SHA384", "SHA512"] as const) {
          const verifies = await opensslVerifies(tpm, publicKeyPath, message, await s.sign(message, d), d.toLowerCase() as "sha256");
          expect(verifies, `${alg} with ${d}`).toBe(true);
        }
      });
    }
  });

  it("a key fixed to a scheme that cannot make the signature asked for: the scheme is named, with its hash", async () => {
    const attributes = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign";
    await persistentKey(tpm, "persist-rsassa-sha384", 0x81000106, { alg: "rsa2048:rsassa-sha384", attributes, parent: SRK });
    await persistentKey(tpm, "persist-ecdaa", 0x81000107, { alg: "ecc256:ecdaa", attributes, parent: SRK });
    const refusal = (handle: number) =>
      withSigner({ key: { kind: "handle", handle }, device: tpm.device, noKeyPassword: true }, (s) => s.sign(message)).catch((e: unknown) => e);
    expect(await refusal(0x81000106)).toMatchObject({
      code: "PRIVATE_KEY_UNSUPPORTED",
      message: "TPM key 0x81000106: this RSA key cannot make an RSASSA-SHA256 signature: its scheme is fixed to RSASSA with SHA384",
    });
    expect(await refusal(0x81000107)).toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED", message: "TPM key 0x81000107: the key is fixed to ECDAA with SHA256, not ECDSA" });
  });

  it("the persistent SRK itself cannot sign (restricted)", async () => {
    await expect(createTpmSigner({ key: { kind: "handle", handle: SRK }, device: tpm.device, noKeyPassword: true })).rejects.toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED" });
  });
});

describe("RSA keys without the sign attribute", () => {
  it("sign through RSA_Decrypt with local PKCS#1 v1.5 padding; openssl verifies", async () => {
    await withSigner(fileOptions("rsa-decrypt-only", { noKeyPassword: true }), async (s) => {
      for (const d of ["SHA256", "SHA384", "SHA512"] as const) {
        expect(await opensslVerifies(tpm, keys["rsa-decrypt-only"]!.publicKeyPath, message, await s.sign(message, d), d.toLowerCase() as "sha256")).toBe(true);
      }
    });
  });
});

describe("policies from the key file", () => {
  const pcrOnly = () => ({ key: { kind: "tss2-pem" as const, path: "pcr-only.pem", pem: pcrKeys.pcrOnly }, device: tpm.device });
  const pcrAuth = (password = pcrKeys.password) => ({
    key: { kind: "tss2-pem" as const, path: "pcr-auth.pem", pem: pcrKeys.pcrAndAuth },
    device: tpm.device,
    keyPassword: { kind: "value" as const, value: password },
  });

  it("PolicyPCR: signs while PCR 16 holds its value", async () => {
    await withSigner(pcrOnly(), async (s) => {
      for (let i = 0; i < 3; i++) expect(await opensslVerifies(tpm, pcrKeys.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    });
  });

  it("PolicyPCR + PolicyAuthValue with the key password (salted policy session)", async () => {
    await withSigner(pcrAuth(), async (s) => {
      for (let i = 0; i < 2; i++) expect(await opensslVerifies(tpm, pcrKeys.publicKeyPathAuth, message, await s.sign(message), "sha256")).toBe(true);
    });
    const before = await lockoutCounter(tpm);
    await expect(withSigner(pcrAuth("bad"), (s) => s.sign(message))).rejects.toMatchObject({ code: "TPM_AUTH_FAILED" });
    expect(await lockoutCounter(tpm)).toBe(before + 1);
  });

  it("a damaged policy (not the key's authPolicy) is refused before touching the TPM", async () => {
    const bad = await writeTss2File(tpm, "pcr-bad", {
      blobs: { pub: join(tpm.dir, "pcr-only.tpub"), priv: join(tpm.dir, "pcr-only.tpriv") },
      parent: SRK,
      emptyAuth: true,
      policy: [{ commandCode: 0x17f, bodyHex: "00000001000b03000002" + "00".repeat(32) }],
    });
    await expect(createTpmSigner({ key: { kind: "tss2-pem", path: "pcr-bad.pem", pem: bad }, device: tpm.device })).rejects.toThrow(/do not produce the key's authPolicy/);
  });

  it("after PCR 16 is extended, signing is refused with a clear policy error (last: PCR 16 stays changed)", async () => {
    await tpm.run("tpm2_pcrextend", [`16:sha256=${"ab".repeat(32)}`]);
    const err = await withSigner(pcrOnly(), (s) => s.sign(message)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "TPM_POLICY_FAILED" });
    expect((err as Error).message).toMatch(/the PCR policy on PCR 16 \(sha256\) does not hold any more/);
  });
});

describe("parameter encryption: the password never crosses the transport in clear", () => {
  class RecordingTransport implements TpmTransport {
    readonly written: Buffer[] = [];
    constructor(private readonly inner: TpmTransport) {}
    get description() {
      return this.inner.description;
    }
    transmit(command: Buffer) {
      this.written.push(Buffer.from(command));
      return this.inner.transmit(command);
    }
    transmitSync(command: Buffer) {
      return this.inner.transmitSync(command);
    }
    close() {
      return this.inner.close();
    }
  }

  async function capture(parameterEncryption: boolean): Promise<Buffer> {
    const recorder = new RecordingTransport(await openTpmTransport(tpm.device, {}));
    const signer = await openTpmSigner(
      { ...fileOptions("ec-protected-parent"), keyPassword: { kind: "value", value: KEY_PASSWORD }, parentPassword: { kind: "value", value: PARENT_PASSWORD } },
      { transport: recorder, parameterEncryption },
    );
    try {
      await signer.sign(message);
      await signer.sign(message);
    } finally {
      await signer.close();
    }
    return Buffer.concat(recorder.written);
  }

  it("with salted sessions (the default) neither the key nor the parent password appears in the bytes written", async () => {
    const bytes = await capture(true);
    expect(bytes.length).toBeGreaterThan(500);
    expect(bytes.includes(Buffer.from(KEY_PASSWORD))).toBe(false);
    expect(bytes.includes(Buffer.from(PARENT_PASSWORD))).toBe(false);
  });

  it("a persistent key's password is authorized through a session salted to a temporary primary (an unsalted HMAC could be attacked offline)", async () => {
    const recorder = new RecordingTransport(await openTpmTransport(tpm.device, {}));
    const debug: string[] = [];
    const options = { key: { kind: "handle", handle: 0x81000102 }, keyPassword: { kind: "value", value: "persist-pw" }, debug: (l: string) => void debug.push(l) } as const;
    const signer = await openTpmSigner(options, { transport: recorder });
    try {
      await signer.sign(message);
    } finally {
      await signer.close();
    }
    // TPM2_StartAuthSession: header, tpmKey, bind, nonceCaller (TPM2B of 32), then the encrypted salt's size.
    const starts = recorder.written.filter((c) => c.readUInt32BE(6) === 0x176);
    expect(starts.map((c) => [c.readUInt32BE(10) >>> 24, c.readUInt16BE(52) > 0])).toEqual([[0x80, true]]);
    expect(debug).toContainEqual(expect.stringMatching(/^TPM: sessions salted with 0x80[0-9a-f]{6}, AES-128-CFB parameter encryption on$/));
    expect(Buffer.concat(recorder.written).includes(Buffer.from("persist-pw"))).toBe(false);
  });

  /** Signs once through a recording transport; returns the signature and the commands written before TPM2_Sign. */
  async function recordLoad(name: string, keyPassword: TpmSignerOptions["keyPassword"]) {
    const recorder = new RecordingTransport(await openTpmTransport(tpm.device, {}));
    const signer = await openTpmSigner({ ...fileOptions(name), keyPassword, parentPassword: { kind: "value", value: PARENT_PASSWORD } }, { transport: recorder });
    let signature: Buffer;
    try {
      signature = await signer.sign(message);
    } finally {
      await signer.close();
    }
    const cc = (c: Buffer) => c.readUInt32BE(6);
    const loading = recorder.written.slice(0, recorder.written.findIndex((c) => cc(c) === 0x15d)); // up to TPM2_Sign
    return {
      signature,
      written: Buffer.concat(recorder.written),
      // TPM2_StartAuthSession's tpmKey and whether a salt follows (as above); TPM2_FlushContext's handle type.
      starts: loading.filter((c) => cc(c) === 0x176).map((c) => [c.readUInt32BE(10), c.readUInt16BE(52) > 0]),
      flushedTypes: loading.filter((c) => cc(c) === 0x165).map((c) => c.readUInt32BE(10) >>> 24),
    };
  }

  it("a key file under a persistent parent with a password: both sessions salted to the parent; the parent's flushed once the key is loaded", async () => {
    const { starts, flushedTypes } = await recordLoad("ec-protected-parent", { kind: "value", value: KEY_PASSWORD });
    expect(starts).toEqual([[0x81000002, true], [0x81000002, true]]);
    expect(flushedTypes).toEqual([0x02]);
  });

  it("a key file without a password under a persistent parent with one: the parent's session is still salted to the parent", async () => {
    const { signature, written, starts, flushedTypes } = await recordLoad("ec-protected-parent-nopw", undefined);
    expect(starts).toEqual([[0x81000002, true]]);
    expect(flushedTypes).toEqual([0x02]);
    expect(written.includes(Buffer.from(PARENT_PASSWORD))).toBe(false);
    expect(await opensslVerifies(tpm, keys["ec-protected-parent-nopw"]!.publicKeyPath, message, signature, "sha256")).toBe(true);
  });

  it("control: with parameter encryption turned off (password sessions) both are visible — the capture does see them", async () => {
    const bytes = await capture(false);
    expect(bytes.includes(Buffer.from(KEY_PASSWORD))).toBe(true);
    expect(bytes.includes(Buffer.from(PARENT_PASSWORD))).toBe(true);
  });
});

describe("TCP transport (raw and mssim framing)", () => {
  let tcpKey: { pem: string; publicKeyPath: string };
  beforeAll(async () => {
    const k = await genpkey(tcpTpm, "tcp-ec", { algorithm: "EC", curve: "P-256", userAuth: "tcp-pw" });
    tcpKey = { pem: k.pem, publicKeyPath: k.publicKeyPath };
  });
  for (const [framing, device] of [
    ["tcp (raw)", () => tcpTpm.device],
    ["mssim", () => `mssim:127.0.0.1:${tcpTpm.port}`],
  ] as const) {
    it(`signs over ${framing}`, async () => {
      await withSigner({ key: { kind: "tss2-pem", path: "tcp-ec.pem", pem: tcpKey.pem }, device: device(), keyPassword: { kind: "value", value: "tcp-pw" } }, async (s) => {
        expect(await opensslVerifies(tcpTpm, tcpKey.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
      });
    });
  }

  it("TPM_DEVICE selects the TPM when --tpm-device is absent", async () => {
    await withSigner({ key: { kind: "tss2-pem", path: "tcp-ec.pem", pem: tcpKey.pem }, env: { TPM_DEVICE: tcpTpm.device }, keyPassword: { kind: "value", value: "tcp-pw" } }, async (s) => {
      expect(await opensslVerifies(tcpTpm, tcpKey.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    });
  });
});
