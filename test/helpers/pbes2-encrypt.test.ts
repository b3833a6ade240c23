import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptPrivateKeyInfo } from "../../src/signers/file/pbe.js";
import { toPem } from "./mldsa-pki.js";
import { encryptPkcs8, PBES2_VARIANTS } from "./pbes2-encrypt.js";
import { generateKey, makeTempDir, openssl } from "./pki.js";

const PASSWORD = "pässwörd with spaces & symbols";

/**
 * The test encryptor must write what OpenSSL reads: each variant's output is decrypted by `openssl pkey`
 * (an independent PBES2 implementation) back to the original EC key, and by the agent's decryptor.
 */
describe("test PBES2 encryptor", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let plainDer: Buffer;
  const fileName = (name: string) => join(tmp.dir, `${name.replace(/[^a-z0-9]+/gi, "_")}.pem`);

  beforeAll(() => {
    tmp = makeTempDir("raa-pbes2-");
    const keyPath = join(tmp.dir, "ec.pem");
    generateKey(keyPath, "p256");
    openssl(["pkcs8", "-topk8", "-nocrypt", "-in", keyPath, "-outform", "DER", "-out", join(tmp.dir, "ec.der")]);
    plainDer = readFileSync(join(tmp.dir, "ec.der"));
  });
  afterAll(() => tmp.cleanup());

  it.each(PBES2_VARIANTS)("$name: openssl decrypts it to the original key, and refuses a wrong password", ({ name, options }) => {
    const path = fileName(name);
    writeFileSync(path, toPem("ENCRYPTED PRIVATE KEY", encryptPkcs8(plainDer, PASSWORD, options)));
    // `openssl pkey` writes PEM PKCS#8 (its DER output would be the traditional SEC1 form).
    const pem = openssl(["pkey", "-in", path, "-passin", `pass:${PASSWORD}`]);
    expect(pem).toContain("-----BEGIN PRIVATE KEY-----");
    expect(Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64").equals(plainDer)).toBe(true);
    expect(() => openssl(["pkey", "-in", path, "-passin", "pass:wrong", "-noout"])).toThrow();
  });

  it.each(PBES2_VARIANTS)("$name: the agent's decryptor gives back the PrivateKeyInfo", async ({ options }) => {
    const encrypted = encryptPkcs8(plainDer, PASSWORD, options);
    const utf8 = Buffer.from(PASSWORD, "utf8");
    const context = { what: "PKCS#8 private key", source: "test" };
    const { plaintext } = await decryptPrivateKeyInfo(encrypted, { utf8, bmp: Buffer.alloc(0) }, context);
    expect(plaintext.equals(plainDer)).toBe(true);
  });

  it("writes the PRF only when asked (ACM form), with NULL HMAC parameters as OpenSSL does", () => {
    const dump = (prf: "sha1-absent" | "sha256") => {
      const path = join(tmp.dir, `prf-${prf}.der`);
      writeFileSync(path, encryptPkcs8(plainDer, PASSWORD, { kdf: "pbkdf2", prf, cipher: "aes-128-cbc" }));
      return openssl(["asn1parse", "-inform", "DER", "-in", path]);
    };
    expect(dump("sha1-absent")).not.toMatch(/hmacWith/);
    expect(dump("sha256")).toMatch(/hmacWithSHA256\s*\n.*NULL/);
  });
});
