import { createPublicKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { certificatePathBeside } from "../../src/provisioning/file-certificate.js";
import { parseKeySpec } from "../../src/provisioning/key-spec.js";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";
import { signingKeyTemplate } from "../../src/tpm/keys/templates.js";
import { encodeTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { copiesHolding } from "../helpers/copies-made.js";
import { runCli } from "./helpers/run-cli.js";

const tmp = makeTempDir("raa-install-file-");
afterAll(() => tmp.cleanup());

describe("certificatePathBeside", () => {
  it.each([
    ["/keys/device.tss2", "/keys/device.cert.pem"],
    ["/keys/device.pem", "/keys/device.cert.pem"],
    ["/keys/device.key", "/keys/device.cert.pem"],
    ["device", "device.cert.pem"],
    ["/k/a.b.TPM", "/k/a.b.cert.pem"],
    ["/k/key.bin", "/k/key.bin.cert.pem"],
    ["/k/key.der", "/k/key.cert.pem"],
    ["/k/key.priv", "/k/key.cert.pem"],
  ])("%s → %s", (key, cert) => {
    expect(certificatePathBeside(key)).toBe(cert);
  });
});

describe("parseKeySpec", () => {
  it.each([
    ["p256", "EC P-256"],
    ["P-256", "EC P-256"],
    ["ec:P-384", "EC P-384"],
    ["secp384r1", "EC P-384"],
    ["rsa2048", "RSA-2048"],
    ["RSA-3072", "RSA-3072"],
  ])("%s", (text, name) => {
    expect(parseKeySpec(text).name).toBe(name);
  });

  it("refuses P-521 and unknown names", () => {
    expect(() => parseKeySpec("p521")).toThrow(/unknown --key-type/);
    expect(() => parseKeySpec("ed25519")).toThrow(/unknown --key-type/);
  });
});

describe("install-certificate with a key file", () => {
  const ca = createCa(join(tmp.dir, "ca"), { name: "File CA" });
  const inter = createCa(join(tmp.dir, "ca"), { name: "File Intermediate", parent: ca });
  const leaf = issueLeaf(inter, tmp.dir, { name: "device" });
  const other = issueLeaf(ca, tmp.dir, { name: "other" });

  it("writes the certificate and chain beside the key, once", async () => {
    const r = await runCli(["install-certificate", "--private-key", leaf.keyPath, "--certificate", leaf.certPath, "--intermediates", inter.certPath]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const out = certificatePathBeside(leaf.keyPath);
    expect(r.out).toBe(`${out}\n`);
    const pem = readFileSync(out, "utf8");
    expect(pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(pem.startsWith(leaf.certPem.trim().split("\n")[0]!)).toBe(true);
    expect(pem).toContain(inter.certPem.trim().split("\n")[1]!);

    const again = await runCli(["install-certificate", "--private-key", leaf.keyPath, "--certificate", leaf.certPath]);
    expect(again.code).toBe(3);
    expect(again.err).toContain("already exists");
    expect((await runCli(["install-certificate", "--private-key", leaf.keyPath, "--certificate", leaf.certPath, "--replace"])).code).toBe(0);
    expect(readFileSync(out, "utf8").match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
  });

  it("leaves no copy of a plain key file's bytes: neither its look for a TSS2 key nor the signer's read", async () => {
    // Before: 2 buffers still held the key's base64 (the bytes read to look for a TSS2 block; the signer's read buffer).
    const body = Buffer.from(readFileSync(leaf.keyPath, "utf8").split("\n")[1]!); // the key's first base64 line
    const { result, left } = await copiesHolding(body, () =>
      runCli(["install-certificate", "--private-key", leaf.keyPath, "--certificate", leaf.certPath, "--replace"]));
    expect(result.code).toBe(0);
    expect(left).toBe(0);
  });

  it("refuses a certificate issued for another key", async () => {
    const out = join(tmp.dir, "wrong.pem");
    const r = await runCli(["install-certificate", "--private-key", leaf.keyPath, "--certificate", other.certPath, "--out", out]);
    expect(r.code).toBe(3);
    expect(r.err).toContain("is not for the key");
    expect(() => readFileSync(out)).toThrow();
  });

  it("a TSS2 key file: its public key is read from the file, no TPM opened (the one named does not exist)", async () => {
    const jwk = createPublicKey(readFileSync(leaf.keyPath)).export({ format: "jwk" });
    const unique = { x: Buffer.from(jwk.x!, "base64url"), y: Buffer.from(jwk.y!, "base64url") };
    const template = signingKeyTemplate(parseKeySpec("p256"), Buffer.alloc(0));
    const publicArea = decodePublicArea(encode(TPMT_PUBLIC, { ...template, unique } as typeof template), "test");
    const key = join(tmp.dir, "tpm-device.tss2");
    writeFileSync(key, encodeTss2KeyFile({ parent: 0x40000001, public: publicArea, privateBlob: Buffer.alloc(16, 7), emptyAuth: true, policy: [] }));
    const r = await runCli(["install-certificate", "--private-key", key, "--certificate", leaf.certPath, "--tpm-device", join(tmp.dir, "no-tpm")]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(certificatePathBeside(key), "utf8")).toContain(leaf.certPem.trim().split("\n")[1]!);
    const wrong = await runCli(["install-certificate", "--private-key", key, "--certificate", other.certPath, "--out", join(tmp.dir, "other.pem")]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).not.toMatch(/TPM/);
  });

  it("needs --out for handle: keys", async () => {
    const r = await runCli(["install-certificate", "--private-key", "handle:0x81000001", "--certificate", leaf.certPath]);
    expect(r.code).toBe(2);
  });
});
