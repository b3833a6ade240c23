/**
 * The local endpoint's certificate path checks, called directly (no HTTP): the limits, boundaries and refusals that
 * the CreateSession tests in create-session.test.ts do not reach.
 */
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { verifyCertificatePath } from "../../src/local-endpoint/verify-chain.js";
import { Certificate } from "../../src/x509/certificate.js";
import { createCa, generateKey, issueLeaf, makeTempDir, openssl, type CaHandle } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-verify-chain-");
afterAll(cleanup);

const cert = (pem: string) => new Certificate(new X509Certificate(pem).raw);
const root = createCa(join(dir, "root"), { name: "Chain Root" });

/** verifyCertificatePath on PEMs, at `now`. */
function verifyPath(leaf: string, intermediates: string[], anchors: string[], now = new Date()) {
  const certificates = { intermediates: intermediates.map(cert), anchors: anchors.map(cert) };
  return verifyCertificatePath({ leaf: cert(leaf), ...certificates, now });
}

/** A self-signed CA certificate with exactly these extensions (createCa always adds keyCertSign and SHA-256). */
function selfSigned(base: string, name: string, extensions: string[], digest = "-sha256"): CaHandle {
  mkdirSync(base, { recursive: true });
  const keyPath = join(base, "ca.key");
  const certPath = join(base, "ca.pem");
  generateKey(keyPath, "p256");
  const ext = extensions.flatMap((e) => ["-addext", e]);
  const subject = ["-subj", `/CN=${name}`];
  openssl(["req", "-x509", "-new", "-key", keyPath, ...subject, "-days", "2", digest, "-out", certPath, ...ext]);
  return { name, dir: base, certPath, keyPath, certPem: readFileSync(certPath, "utf8") };
}

/** `ca` signs a new key's certificate named `name`, with the extensions in `extFile` and `digest`. */
function signed(ca: CaHandle, base: string, name: string, extFile: string, digest = "-sha256"): CaHandle {
  mkdirSync(base, { recursive: true });
  const keyPath = join(base, `${name}.key`);
  const certPath = join(base, `${name}.pem`);
  generateKey(keyPath, "p256");
  openssl(["req", "-new", "-key", keyPath, "-subj", `/CN=${name}`, "-out", `${base}/${name}.csr`]);
  openssl([
    "x509", "-req", "-in", `${base}/${name}.csr`, "-CA", ca.certPath, "-CAkey", ca.keyPath, "-set_serial", "77",
    "-days", "2", digest, "-extfile", extFile, "-out", certPath,
  ]);
  return { name, dir: base, certPath, keyPath, certPem: readFileSync(certPath, "utf8") };
}

describe("verifyCertificatePath: limits", () => {
  it("follows a path through 8 intermediates, not through 9", async () => {
    const cas: CaHandle[] = [root];
    for (let i = 1; i <= 9; i++) cas.push(createCa(join(dir, "deep"), { name: `Deep CA ${i}`, parent: cas.at(-1)! }));
    const check = (n: number) => {
      const leaf = issueLeaf(cas[n]!, join(dir, "deep"), { name: `deep-leaf-${n}` });
      return verifyPath(leaf.certPem, cas.slice(1, n + 1).map((c) => c.certPem), [root.certPem]);
    };
    expect((await check(8)).map((c) => c.subject)).toEqual([
      "CN=deep-leaf-8", ...[8, 7, 6, 5, 4, 3, 2, 1].map((i) => `CN=Deep CA ${i}`), "CN=Chain Root",
    ]);
    await expect(check(9)).rejects.toThrow(
      /^Untrusted signing certificate: no trust anchor or X-Amz-X509-Chain certificate issued "CN=deep-leaf-9"$/,
    );
  });

  it("a path length constraint of 1 allows one intermediate below its CA, not two", async () => {
    const strict = createCa(join(dir, "pathlen"), { name: "PathLen1 Root", pathLen: 1 });
    const first = createCa(join(dir, "pathlen"), { name: "PathLen1 First", parent: strict });
    const second = createCa(join(dir, "pathlen"), { name: "PathLen1 Second", parent: first });
    const oneBelow = issueLeaf(first, join(dir, "pathlen"), { name: "one-below" });
    const twoBelow = issueLeaf(second, join(dir, "pathlen"), { name: "two-below" });
    expect(await verifyPath(oneBelow.certPem, [first.certPem], [strict.certPem])).toHaveLength(3);
    await expect(verifyPath(twoBelow.certPem, [first.certPem, second.certPem], [strict.certPem])).rejects.toThrow(
      /^Certificate chain exceeds the path length constraint \(1\) of "CN=PathLen1 Root"$/,
    );
  });
});

describe("verifyCertificatePath: what a certificate may be", () => {
  it("names chain, not keys: the anchor's key in a CA certificate named otherwise is not the anchor", async () => {
    // The same key in a second CA certificate named differently (a renamed CA): RFC 5280 chains names, not keys.
    const base = join(dir, "renamed");
    mkdirSync(base);
    const certPath = join(base, "renamed.pem");
    const ext = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign"].flatMap((e) => ["-addext", e]);
    openssl(["req", "-x509", "-new", "-key", root.keyPath, "-subj", "/CN=Renamed Root", "-out", certPath, ...ext]);
    const certPem = readFileSync(certPath, "utf8");
    const renamed = { name: "Renamed Root", dir: base, certPath, keyPath: root.keyPath, certPem };
    const leaf = issueLeaf(renamed, base, { name: "leaf-of-renamed" });
    expect(new X509Certificate(leaf.certPem).verify(new X509Certificate(root.certPem).publicKey)).toBe(true);
    await expect(verifyPath(leaf.certPem, [], [root.certPem])).rejects.toThrow(
      /^Untrusted signing certificate: no trust anchor or X-Amz-X509-Chain certificate issued "CN=leaf-of-renamed"$/,
    );
  });

  it("a CA certificate (basicConstraints CA:TRUE) is refused as the signing certificate", async () => {
    const ca = createCa(join(dir, "ca-leaf"), { name: "CA As Leaf", parent: root });
    await expect(verifyPath(ca.certPem, [], [root.certPem])).rejects.toThrow(
      /^Signing certificate must be an end-entity certificate, not a CA \(basicConstraints CA:TRUE\)$/,
    );
  });

  it("an issuer without keyCertSign in its keyUsage is refused", async () => {
    const extensions = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,digitalSignature"];
    const ca = selfSigned(join(dir, "no-certsign"), "No CertSign CA", extensions);
    const leaf = issueLeaf(ca, ca.dir, { name: "below-no-certsign" });
    await expect(verifyPath(leaf.certPem, [], [ca.certPem])).rejects.toThrow(
      /^Trust anchor certificate keyUsage does not include keyCertSign: "CN=No CertSign CA"$/,
    );
  });

  it("an intermediate or an anchor not yet valid is refused", async () => {
    const inter = createCa(join(dir, "young"), { name: "Young Issuing CA", parent: root });
    const notBefore = new Date(Date.now() - 10 * 86_400_000);
    const notAfter = new Date(Date.now() + 10 * 86_400_000);
    const fiveDaysAgo = new Date(Date.now() - 5 * 86_400_000);
    const viaInter = issueLeaf(inter, join(dir, "young"), { name: "old-leaf-1", notBefore, notAfter });
    await expect(verifyPath(viaInter.certPem, [inter.certPem], [root.certPem], fiveDaysAgo)).rejects.toThrow(
      /^Certificate in chain is not yet valid: "CN=Young Issuing CA"$/,
    );
    const direct = issueLeaf(root, join(dir, "young"), { name: "old-leaf-2", notBefore, notAfter });
    await expect(verifyPath(direct.certPem, [], [root.certPem], fiveDaysAgo)).rejects.toThrow(
      /^Trust anchor certificate is not yet valid: "CN=Chain Root"$/,
    );
  });

  it("SHA-1 is refused in an intermediate's signature, not in the anchor's own (not a trust decision)", async () => {
    const caExtensions = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign"];
    const anchor = selfSigned(join(dir, "sha1-anchor"), "SHA1 Anchor", caExtensions, "-sha1");
    const below = issueLeaf(anchor, anchor.dir, { name: "below-sha1-anchor" });
    expect(await verifyPath(below.certPem, [], [anchor.certPem])).toHaveLength(2);

    const base = join(dir, "sha1-inter");
    mkdirSync(base);
    writeFileSync(`${base}/ca.ext`, `${caExtensions.join("\n")}\n`);
    const inter = signed(root, base, "SHA1 Issuing", `${base}/ca.ext`, "-sha1");
    const leaf = issueLeaf(inter, base, { name: "below-sha1-inter" });
    await expect(verifyPath(leaf.certPem, [inter.certPem], [root.certPem])).rejects.toThrow(
      /^Certificate in chain "CN=SHA1 Issuing" is signed with ecdsa-with-SHA1: SHA-256 or stronger is required$/,
    );
  });

  it.each([
    ["-sha1", "sha1WithRSAEncryption"],
    ["-md5", "md5WithRSAEncryption"],
  ])("an RSA CA signing the leaf with %s is refused (%s)", async (digest, name) => {
    const base = join(dir, `weak-rsa${digest}`);
    const rsaRoot = createCa(base, { name: "RSA Root", keyType: "rsa2048" });
    writeFileSync(`${base}/leaf.ext`, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n");
    const leaf = signed(rsaRoot, base, "weak-leaf", `${base}/leaf.ext`, digest);
    await expect(verifyPath(leaf.certPem, [], [rsaRoot.certPem])).rejects.toThrow(
      new RegExp(`^Signing certificate is signed with ${name}: SHA-256 or stronger is required$`),
    );
  });
});

describe("verifyCertificatePath: validity boundaries (RFC 5280: notBefore and notAfter are inclusive)", () => {
  const notBefore = new Date("2030-01-01T00:00:00Z");
  const notAfter = new Date("2030-01-02T00:00:00Z");
  const leaf = issueLeaf(root, join(dir, "dated"), { name: "dated-leaf", notBefore, notAfter });

  it.each([
    ["at notBefore", notBefore],
    ["at notAfter", notAfter],
  ])("a leaf is valid %s", async (_what, now) => {
    expect(await verifyPath(leaf.certPem, [], [root.certPem], now)).toHaveLength(2);
  });

  it("a leaf is refused a second before notBefore and a second after notAfter", async () => {
    await expect(verifyPath(leaf.certPem, [], [root.certPem], new Date(notBefore.getTime() - 1000))).rejects.toThrow(
      /^Signing certificate is not yet valid \(valid from 2030-01-01T00:00:00.000Z\)$/,
    );
    await expect(verifyPath(leaf.certPem, [], [root.certPem], new Date(notAfter.getTime() + 1000))).rejects.toThrow(
      /^Signing certificate expired \(2030-01-02T00:00:00.000Z\)$/,
    );
  });
});

describe("verifyCertificatePath: unreadable extensions", () => {
  it("an intermediate whose basicConstraints cannot be read is refused when read, as Go's parser refuses it", async () => {
    // openssl writes the extension's value as given: a BOOLEAN where a SEQUENCE belongs (TRUE as DER has it: a 01
    // would be refused when the certificate is read, as BER). Go's parser refuses it ("invalid basic constraints a"):
    // since round 29 so does the certificate reader, before the chain is verified (before: a 403 from certificateFacts).
    const base = join(dir, "bad-ext");
    mkdirSync(base);
    writeFileSync(`${base}/bad.ext`, "basicConstraints=critical,DER:0101ff\nkeyUsage=critical,keyCertSign\n");
    const bad = signed(root, base, "Bad Ext", `${base}/bad.ext`);
    const leaf = issueLeaf(bad, base, { name: "below-bad" });
    expect(() => verifyPath(leaf.certPem, [bad.certPem], [root.certPem])).toThrow(expect.objectContaining({
      code: "CERTIFICATE_INVALID", message: "the certificate has a malformed value in its extension 2.5.29.19, which AWS's certificate parser refuses",
    }));
  });
});
