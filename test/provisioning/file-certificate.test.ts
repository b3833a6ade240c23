/** install-certificate's file half (the PEM written, the same-key rule) and keygen's key types (CLI and library). */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { requireSameKey, writeCertificateFile } from "../../src/provisioning/file-certificate.js";
import { KEY_SPEC, parseKeySpec } from "../../src/provisioning/key-spec.js";
import { readCertificateFile } from "../../src/x509/read-certificates.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

const tmp = makeTempDir("raa-file-certificate-");
afterAll(() => tmp.cleanup());
const ca = createCa(join(tmp.dir, "ca"), { name: "File Cert CA" });
const inter = createCa(join(tmp.dir, "ca"), { name: "File Cert Intermediate", parent: ca });
const leaf = issueLeaf(inter, tmp.dir, { name: "file-cert-leaf" });
const publicKey = createPublicKey(createPrivateKey(readFileSync(leaf.keyPath)));

describe("writeCertificateFile", () => {
  it("writes the certificate then its chain as the PEM --certificate reads; never over a file unless replacing", async () => {
    const [cert, chain] = await Promise.all([readCertificateFile(leaf.certPath), readCertificateFile(inter.certPath)]);
    const path = join(tmp.dir, "out.cert.pem");
    const request = { path, keyName: "k", publicKey, certificate: cert.certificates[0]!, chain: chain.certificates, replace: false };
    await writeCertificateFile(request);
    const written = await readCertificateFile(path);
    expect(written.certificates.map((c) => c.der.toString("hex"))).toEqual([cert.certificates[0]!.der.toString("hex"), chain.certificates[0]!.der.toString("hex")]);
    expect(readFileSync(path, "utf8").match(/^-----BEGIN CERTIFICATE-----$/gm)).toHaveLength(2);
    await expect(writeCertificateFile(request)).rejects.toMatchObject({ code: "OBJECT_EXISTS", message: `certificate file ${path} already exists` });
    await writeCertificateFile({ ...request, chain: [], replace: true });
    expect((await readCertificateFile(path)).certificates).toHaveLength(1);
  });
});

describe("requireSameKey", () => {
  it("refuses another key's certificate, and a key or certificate without a public key, with a typed error (not a TypeError)", async () => {
    const cert = (await readCertificateFile(leaf.certPath)).certificates[0]!;
    expect(() => requireSameKey(publicKey, cert, "k")).not.toThrow();
    const other = createPublicKey(createPrivateKey(readFileSync(ca.keyPath)));
    expect(() => requireSameKey(other, cert, "the key k")).toThrow(expect.objectContaining({
      code: "KEY_CERTIFICATE_MISMATCH",
      message: 'the certificate "CN=file-cert-leaf" is not for the key the key k',
      hint: "install the certificate issued for this key's CSR",
    }));
    const noKey = { code: "KEY_CERTIFICATE_MISMATCH", message: "cannot compare the certificate with the public key of k", hint: expect.stringMatching(/^the key has no readable public key/) };
    expect(() => requireSameKey(undefined, cert, "k")).toThrow(expect.objectContaining(noKey));
    const unreadable = Object.create(cert, { publicKey: { value: undefined } }) as typeof cert;
    expect(() => requireSameKey(publicKey, unreadable, "k")).toThrow(expect.objectContaining(noKey));
  });
});

describe("key types", () => {
  it.each([
    ["rsa", { kind: "RSA", bits: 2048, name: "RSA-2048" }],
    ["rsa2048", { kind: "RSA", bits: 2048, name: "RSA-2048" }],
    ["RSA_3072", { kind: "RSA", bits: 3072, name: "RSA-3072" }],
    ["rsa4096", { kind: "RSA", bits: 4096, name: "RSA-4096" }],
    ["p256", { kind: "EC", curve: "P-256", name: "EC P-256" }],
    ["prime256v1", { kind: "EC", curve: "P-256", name: "EC P-256" }],
    ["secp256r1", { kind: "EC", curve: "P-256", name: "EC P-256" }],
    ["EC:P-256", { kind: "EC", curve: "P-256", name: "EC P-256" }],
    ["ec-p384", { kind: "EC", curve: "P-384", name: "EC P-384" }],
    ["secp384r1", { kind: "EC", curve: "P-384", name: "EC P-384" }],
  ])("--key-type %s", (text, spec) => {
    expect(parseKeySpec(text)).toEqual(spec);
  });

  it.each(["rsa1024", "p521", "rsaec:2048", "", "constructor", "__proto__"])("--key-type %j is a usage error naming the choices", (text) => {
    expect(() => parseKeySpec(text)).toThrow(expect.objectContaining({
      code: "USAGE",
      message: `unknown --key-type "${text}"`,
      hint: "use one of rsa2048, rsa3072, rsa4096, p256, p384",
    }));
  });

  it("a library caller's spec must be one keygen makes: no RSA-1024, no P-521, no mixed kind, a name", () => {
    const [ok] = KEY_SPEC as [(v: unknown) => boolean, string];
    for (const bits of [2048, 3072, 4096]) expect(ok({ kind: "RSA", bits, name: "r" })).toBe(true);
    for (const curve of ["P-256", "P-384"]) expect(ok({ kind: "EC", curve, name: "e" })).toBe(true);
    for (const bad of [
      { kind: "RSA", bits: 1024, name: "r" },
      { kind: "RSA", bits: "2048", name: "r" },
      { kind: "RSA", curve: "P-256", name: "r" },
      { kind: "EC", curve: "P-521", name: "e" },
      { kind: "EC", bits: 2048, name: "e" },
      { kind: "DSA", bits: 2048, name: "d" },
      { kind: "EC", curve: "P-256" },
      { kind: "EC", curve: "P-256", name: 1 },
      "p256",
      null,
    ]) {
      expect(ok(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
