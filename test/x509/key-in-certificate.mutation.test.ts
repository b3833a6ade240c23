/**
 * Round 39, M43: Stryker survivors of the key-in-certificate check (read-certificates.ts) and holdsPrivateKey
 * (der-kind.ts), whose DER branch no unit test reached (it decides `no private key given: … holds no private key` and
 * the exposed-key warning of a DER key file).
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { holdsPrivateKey } from "../../src/x509/der-kind.js";
import { keyInCertificateFindings, readCertificateFile } from "../../src/x509/read-certificates.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";
import { exposedWarnings, warningsEmitted } from "../helpers/exposed-warnings.js";

const { dir, cleanup } = makeTempDir("raa-key-in-cert-m43-");
afterAll(cleanup);
const ca = createCa(join(dir, "ca"), { name: "M43 CA" });
const leaf = issueLeaf(ca, dir, { name: "m43", extensions: ["basicConstraints=critical,CA:FALSE"] });
const keyPem = readFileSync(leaf.keyPath, "utf8");
const derOf = (args: string[]) => {
  const out = join(dir, `der-${Math.random().toString(36).slice(2)}`);
  openssl([...args, "-outform", "DER", "-out", out]);
  return readFileSync(out);
};
const warnings = exposedWarnings();

describe("holdsPrivateKey", () => {
  const ecKey = join(dir, "ec.pem");
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ecKey]);
  const rsaKey = join(dir, "rsa.pem");
  openssl(["genrsa", "-traditional", "-out", rsaKey, "2048"]);

  it.each<[string, () => Buffer]>([
    ["DER PKCS#8", () => derOf(["pkey", "-in", leaf.keyPath])],
    ["DER SEC1 (EC PRIVATE KEY)", () => derOf(["ec", "-in", ecKey])],
    ["DER PKCS#1 (RSA PRIVATE KEY)", () => derOf(["rsa", "-traditional", "-in", rsaKey])],
    ["a PEM key block beside the certificate", () => Buffer.from(`${leaf.certPem}${keyPem}`)],
  ])("%s: true", (_name, bytes) => {
    expect(holdsPrivateKey(bytes(), "f")).toBe(true);
  });

  it.each<[string, () => Buffer]>([
    ["a DER certificate", () => derOf(["x509", "-in", leaf.certPath])],
    ["bytes that are no DER of anything (classifyDer: undefined)", () => Buffer.from("not a key, not DER\n")],
    ["a PEM certificate only", () => Buffer.from(leaf.certPem)],
  ])("%s: false", (_name, bytes) => {
    expect(holdsPrivateKey(bytes(), "f")).toBe(false);
  });
});

let n = 0;
function file(mode: number, text: string): string {
  const path = join(dir, `crt-${++n}.pem`);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

describe("readCertificateFile", () => {
  it("a file without a certificate, no option named: the hint names --certificate", async () => {
    const path = file(0o600, "no certificate here\n");
    await expect(readCertificateFile(path)).rejects.toMatchObject({ hint: expect.stringMatching(/^--certificate must be /) });
  });

  it("two files holding a key, read A, B, A: each warned once (the once is per file, not one for all)", async () => {
    const [a, b] = [file(0o644, `${keyPem}${leaf.certPem}`), file(0o644, `${keyPem}${leaf.certPem}`)];
    for (const path of [a, b, a, b]) await readCertificateFile(path);
    await warningsEmitted();
    expect(warnings.map((w) => w.split(" ")[2])).toEqual([a, b]);
  });

  it("a PEM certificate file whose text says PRIVATE KEY----- outside any block: not warned (no key block in it)", async () => {
    await readCertificateFile(file(0o644, `a note: the PRIVATE KEY----- is elsewhere\n${leaf.certPem}`));
    await warningsEmitted();
    expect(warnings).toEqual([]);
  });
});

describe("keyInCertificateFindings (doctor's certificate file row)", () => {
  const facts = (text: string, mode?: number) => ({ bytes: Buffer.from(text), stamp: {} as never, ...(mode === undefined ? {} : { mode, owner: process.getuid!(), gid: process.getgid!() }) });

  it("a key in a 0644 file: the finding, mode 644", () => {
    const path = file(0o644, `${keyPem}${leaf.certPem}`);
    expect(keyInCertificateFindings(facts(`${keyPem}${leaf.certPem}`, 0o644), path).map((f) => f.problem)).toEqual([
      "holds a private key and can be read or changed by other users (mode 644)",
    ]);
  });

  it("none: no key in a 0644 file; a key in a 0600 file", () => {
    expect(keyInCertificateFindings(facts(leaf.certPem, 0o644), file(0o644, leaf.certPem))).toEqual([]);
    expect(keyInCertificateFindings(facts(`${keyPem}${leaf.certPem}`, 0o600), file(0o600, `${keyPem}${leaf.certPem}`))).toEqual([]);
  });

  it("PEM it cannot decode (a key block cut short): none, no throw", () => {
    const broken = `${leaf.certPem}-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n`;
    expect(keyInCertificateFindings(facts(broken, 0o644), file(0o644, broken))).toEqual([]);
  });
});
