import { createPrivateKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createSigner } from "../../src/signers/factory.js";
import { loadKeyFile } from "../../src/signers/file/key-material.js";
import { copiesHolding } from "../helpers/copies-made.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

describe("a PEM file refused at a block after its key: the key's DER decoded before it is zeroed", () => {
  const tmp = makeTempDir("raa-refused-pem-");
  afterAll(() => tmp.cleanup());
  const leaf = issueLeaf(createCa(join(tmp.dir, "ca"), { name: "Refused Root" }), tmp.dir, { name: "refused", keyType: "p256" });
  const pem = readFileSync(leaf.keyPath, "utf8");
  const scalar = Buffer.from(createPrivateKey(pem).export({ format: "jwk" }).d!, "base64url"); // in the decoded PKCS#8
  const cut = "-----BEGIN CERTIFICATE-----\nMIIB\n"; // a certificate cut short: no END line

  it.each([
    ["the key file's reader", pem + cut, (path: string) => loadKeyFile(path, {})],
    ["the certificate's reader of a file with both (--private-key alone)", readFileSync(leaf.certPath, "utf8") + pem + cut, (path: string) => createSigner({ privateKey: path })],
    ["the certificate's reader of a file with both (--certificate alone)", readFileSync(leaf.certPath, "utf8") + pem + cut, (path: string) => createSigner({ certificate: path })],
  ])("%s", async (_name, text, read) => {
    const path = join(tmp.dir, "refused.pem");
    writeFileSync(path, text, { mode: 0o600 });
    const { result, left } = await copiesHolding(scalar, () => read(path).then(() => undefined, (e: unknown) => e));
    expect((result as { code?: string }).code).toBe("PEM_INVALID");
    expect(left).toBe(0); // before: 1 (decodePemBlocks' key block, lost with its list when the next block was refused)
  });
});
