import { createPrivateKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createSigner } from "../../src/signers/factory.js";
import { readCertificateBundle, readCertificateFile } from "../../src/x509/read-certificates.js";
import { copiesHolding } from "../helpers/copies-made.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

/**
 * A key file given where certificates belong (--certificate, --intermediates), or a certificate file that holds some
 * other key beside its certificates: once read, no buffer made may still hold that key, whether the read is refused or
 * succeeds. Before: 1 each (the file's read buffer, the key's PEM or DER, left until the garbage collector took it).
 */
describe("a key read where certificates belong: its read buffer is zeroed", () => {
  const tmp = makeTempDir("raa-cert-input-key-");
  afterAll(() => tmp.cleanup());
  const path = (name: string) => join(tmp.dir, name);
  const ca = createCa(join(tmp.dir, "ca"), { name: "Wiped Root" });
  const leaf = issueLeaf(ca, tmp.dir, { name: "wiped-leaf", keyType: "p256" });
  const stray = issueLeaf(ca, tmp.dir, { name: "stray", keyType: "p256" }); // its key is the one looked for
  const strayPem = readFileSync(stray.keyPath, "utf8");
  const body = Buffer.from(strayPem.split("\n")[1]!); // the key's first base64 line
  const strayDer = createPrivateKey(strayPem).export({ format: "der", type: "pkcs8" });
  writeFileSync(path("key.der"), strayDer, { mode: 0o600 });
  writeFileSync(path("key-then-cert.pem"), strayPem + ca.certPem, { mode: 0o600 });
  writeFileSync(path("key-and-leaf.pem"), strayPem + leaf.certPem, { mode: 0o600 });
  const refused = (promise: Promise<unknown>) => promise.then(() => "accepted", (e: { code?: string }) => e.code);

  it.each([
    ["createSigner, the key as --certificate with another --private-key", () => createSigner({ certificate: stray.keyPath, privateKey: leaf.keyPath }), "PEM_INVALID"],
    ["createSigner, the key as --certificate alone", () => createSigner({ certificate: stray.keyPath }), "PEM_INVALID"],
    ["readCertificateFile (install-certificate --certificate)", () => readCertificateFile(stray.keyPath), "PEM_INVALID"],
    ["readCertificateBundle", () => readCertificateBundle(stray.keyPath), "CHAIN_INVALID"],
    ["createSigner, the key as --intermediates", () => createSigner({ certificate: leaf.certPath, privateKey: leaf.keyPath, intermediates: stray.keyPath }), "CHAIN_INVALID"],
    ["createSigner, a key then a certificate as --intermediates", () => createSigner({ certificate: leaf.certPath, privateKey: leaf.keyPath, intermediates: path("key-then-cert.pem") }), "CHAIN_INVALID"],
  ])("%s: refused, 0 left", async (_name, read, code) => {
    const { result, left } = await copiesHolding(body, () => refused(read()));
    expect(result).toBe(code);
    expect(left).toBe(0);
  });

  it.each([
    ["createSigner, the key as --certificate", () => createSigner({ certificate: path("key.der"), privateKey: leaf.keyPath }), "CERTIFICATE_INVALID"],
    ["readCertificateFile", () => readCertificateFile(path("key.der")), "CERTIFICATE_INVALID"],
    ["createSigner, the key as --intermediates", () => createSigner({ certificate: leaf.certPath, privateKey: leaf.keyPath, intermediates: path("key.der") }), "CHAIN_INVALID"],
  ])("a DER key: %s: refused, 0 left", async (_name, read, code) => {
    const { result, left } = await copiesHolding(strayDer.subarray(8, 40), () => refused(read()));
    expect(result).toBe(code);
    expect(left).toBe(0);
  });

  it.each([
    ["createSigner, --certificate beside another --private-key", () => createSigner({ certificate: path("key-and-leaf.pem"), privateKey: leaf.keyPath })],
    ["readCertificateFile (install-certificate --certificate)", () => readCertificateFile(path("key-and-leaf.pem"))],
  ])("a certificate file that also holds some other key: %s: accepted, 0 left", async (_name, read) => {
    const { result, left } = await copiesHolding(body, () => refused(read()));
    expect(result).toBe("accepted");
    expect(left).toBe(0);
  });
});
