import { afterAll, describe, expect, it } from "vitest";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { createCa, issueLeaf, makeTempDir, openssl } from "./pki.js";

describe("test PKI helper", () => {
  const { dir, cleanup } = makeTempDir();
  afterAll(cleanup);

  it("issues leaves that chain to the CA, through an intermediate, with the requested validity", () => {
    const root = createCa(dir, { name: "Root CA" });
    const inter = createCa(dir, { name: "Intermediate CA", parent: root, keyType: "rsa2048" });
    const leaf = issueLeaf(inter, join(dir, "leaves"), { name: "device-1", keyType: "p384" });
    const expired = issueLeaf(root, join(dir, "leaves"), { name: "old", expired: true });
    const x = new X509Certificate(leaf.certPem);
    expect(x.checkIssued(new X509Certificate(inter.certPem))).toBe(true);
    expect(BigInt(`0x${x.serialNumber}`).toString()).toBe(leaf.serialDecimal);
    expect(new Date(new X509Certificate(expired.certPem).validTo).getTime()).toBeLessThan(Date.now());
    const out = openssl(["verify", "-CAfile", root.certPath, "-untrusted", inter.certPath, leaf.certPath]);
    expect(out).toContain("OK");
  });
});
