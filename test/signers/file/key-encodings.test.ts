import { verify, X509Certificate, type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadKeyFile } from "../../../src/signers/file/key-material.js";
import type { DigestAlgorithm } from "../../../src/signers/signer.js";
import { makeTempDir, type TestKeyType } from "../../helpers/pki.js";
import { makeCa, makeKeyFixture, opensslVerifies, openssl, PASSWORD, readFileSync, run, type KeyFixture } from "./fixtures.js";

const CURVE_NAMES: Record<string, string> = { p256: "prime256v1", p384: "secp384r1", p521: "secp521r1" };

/** name → how to make it from the PKCS#8 PEM key (`k`) into `out`. */
function encodings(keyType: TestKeyType): Record<string, (k: string, out: string) => void> {
  const ec = !keyType.startsWith("rsa");
  const enc = (extra: string[], outform = "PEM") => (k: string, out: string) =>
    run(["pkcs8", "-topk8", "-in", k, "-out", out, "-outform", outform, "-passout", `pass:${PASSWORD}`, ...extra]);
  const list: Record<string, (k: string, out: string) => void> = {
    "PKCS#8 PEM": (k, out) => run(["pkey", "-in", k, "-out", out]),
    "PKCS#8 DER": (k, out) => run(["pkcs8", "-topk8", "-nocrypt", "-in", k, "-outform", "DER", "-out", out]),
    [ec ? "SEC1 PEM" : "PKCS#1 PEM"]: (k, out) => run([ec ? "ec" : "rsa", "-in", k, "-out", out, ...(ec ? [] : ["-traditional"])]),
    [ec ? "SEC1 DER" : "PKCS#1 DER"]: (k, out) =>
      run([ec ? "ec" : "rsa", "-in", k, "-outform", "DER", "-out", out, ...(ec ? [] : ["-traditional"])]),
    "PBES2 aes-128-cbc + HMAC-SHA1 (PRF absent, as ACM exports)": enc(["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"]),
    "PBES2 aes-192-cbc + HMAC-SHA256": enc(["-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA256"]),
    "PBES2 aes-256-cbc + HMAC-SHA384": enc(["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA384"]),
    "PBES2 aes-256-cbc + HMAC-SHA512": enc(["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA512"]),
    "PBES2 scrypt": enc(["-scrypt"]),
    "PBES2 des-ede3-cbc": enc(["-v2", "des3"]),
    "PKCS#12 PBE SHA1-3DES (PBES1 form)": enc(["-v1", "PBE-SHA1-3DES"]),
    "encrypted PKCS#8 DER": enc(["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"], "DER"),
  };
  if (ec) {
    list["EC PARAMETERS + SEC1 (openssl ecparam -genkey)"] = (k, out) => {
      const params = openssl(["ecparam", "-name", CURVE_NAMES[keyType]!]);
      const sec1 = openssl(["ec", "-in", k]);
      writeFileSync(out, params + sec1);
    };
  }
  return list;
}

const KEY_TYPES: TestKeyType[] = ["rsa2048", "rsa3072", "rsa4096", "p256", "p384", "p521"];

describe.each(KEY_TYPES)("file keys: %s", (keyType) => {
  let tmp: ReturnType<typeof makeTempDir>;
  let fixture: KeyFixture;
  let certKey: KeyObject;
  const files: Record<string, string> = {};

  beforeAll(() => {
    tmp = makeTempDir("raa-keyenc-");
    const ca = makeCa(tmp.dir);
    fixture = makeKeyFixture(ca, tmp.dir, keyType);
    certKey = new X509Certificate(readFileSync(fixture.certPath)).publicKey;
    for (const [name, make] of Object.entries(encodings(keyType))) {
      const out = join(tmp.dir, `${name.replace(/[^a-z0-9]+/gi, "_")}.key`);
      make(fixture.keyPath, out);
      files[name] = out;
    }
  }, 120_000);
  afterAll(() => tmp.cleanup());

  it.each(Object.keys(encodings(keyType)))("%s: loads, and its signatures verify with openssl and node", async (name) => {
    const path = files[name]!;
    const { key, encrypted } = await loadKeyFile(path, { keyPassword: { kind: "value", value: PASSWORD } });
    expect(encrypted).toBe(/PBE|encrypted/.test(name));
    expect(key.keyType).toBe(keyType.startsWith("rsa") ? "RSA" : "EC");
    expect(key.publicKey!.equals(certKey)).toBe(true);
    const message = Buffer.from(`message for ${keyType} ${name}`);
    const digests: DigestAlgorithm[] = name === "PKCS#8 PEM" ? ["SHA256", "SHA384", "SHA512"] : ["SHA256"];
    for (const digest of digests) {
      const signature = key.sign(message, digest);
      const nodeDigest = digest.toLowerCase();
      expect(verify(nodeDigest, message, certKey, signature)).toBe(true);
      expect(opensslVerifies(fixture.publicKeyPath, message, signature, nodeDigest, tmp.dir)).toBe(true);
      expect(opensslVerifies(fixture.publicKeyPath, Buffer.concat([message, Buffer.from("x")]), signature, nodeDigest, tmp.dir)).toBe(false);
    }
  });

  it("the HMAC-SHA1 file really omits the PRF (the ACM form)", () => {
    const dump = openssl(["asn1parse", "-in", files["PBES2 aes-128-cbc + HMAC-SHA1 (PRF absent, as ACM exports)"]!]);
    expect(dump).toContain("PBKDF2");
    expect(dump).not.toMatch(/hmacWith/);
  });
});
