/**
 * Found by the structure-aware fuzzer (issue 20): a PKCS#12 bag whose value is a NULL with content reached
 * `Buffer.from(null)` (a TypeError, exit 1) instead of PKCS12_INVALID.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readPkcs12 } from "../../../src/signers/file/pkcs12.js";
import { makeTempDir, openssl } from "../../helpers/pki.js";
import { allNodes, cloneDer, decodeDer, encodeDer, oidBytes, type DerNode } from "../../fuzz/der-tree.js";

const tmp = makeTempDir("raa-p12-findings-");
afterAll(() => tmp.cleanup());

describe("PKCS#12 bags with unusual values", () => {
  it("a certificate bag whose value is a NULL with content: PKCS12_INVALID", async () => {
    const dir = tmp.dir;
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"), "-subj", "/CN=p12", "-out", join(dir, "c.pem")]);
    openssl(["pkcs12", "-export", "-inkey", join(dir, "k.pem"), "-in", join(dir, "c.pem"), "-out", join(dir, "plain.p12"), "-passout", "pass:pw", "-keypbe", "NONE", "-certpbe", "NONE", "-nomac"]);
    const pfx = decodeDer(readFileSync(join(dir, "plain.p12")))!;
    const certBagId = oidBytes("1.2.840.113549.1.12.10.1.3");
    const bag = allNodes(pfx).find(({ node }) => node.tag === 0x30 && node.children?.[0]?.tag === 0x06 && node.children[0].value!.equals(certBagId))!.node;
    bag.children![1] = { tag: 0xa0, children: [{ tag: 0x05, value: Buffer.from("0102030405", "hex") }] };
    await expect(readPkcs12(encodeDer(pfx), "null-bag.p12", { keyPassword: { kind: "value", value: "pw" } })).rejects.toMatchObject({ code: "PKCS12_INVALID" });
  });
});

describe("PKCS#12 versions and MAC data that openssl's decoder refuses (the differential fuzzer's malformed PBES2 parameters)", () => {
  it.each([
    ["digest parameters that are an empty INTEGER", [0, 0, 1], { tag: 2, value: Buffer.alloc(0) }, "malformed MAC data: AlgorithmIdentifier parameters that are an empty or non-minimal INTEGER"],
    ["digest parameters that are an empty BOOLEAN", [0, 0, 1], { tag: 1, value: Buffer.alloc(0) }, "malformed MAC data: AlgorithmIdentifier parameters that are a BOOLEAN that is not one byte"],
    ["an iteration count with a leading zero byte", [2], { tag: 2, value: Buffer.from([0, 0x08, 0]) }, "malformed MAC data: a malformed INTEGER"],
    ["a version with a leading zero byte", [], { tag: 2, value: Buffer.from([0, 3]) }, "its version is an empty or non-minimal INTEGER"],
  ] as const)("%s: PKCS12_INVALID, not read", async (_, at, replacement, problem) => {
    const dir = tmp.dir;
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"), "-subj", "/CN=p12", "-out", join(dir, "c.pem")]);
    openssl(["pkcs12", "-export", "-inkey", join(dir, "k.pem"), "-in", join(dir, "c.pem"), "-out", join(dir, "mac.p12"), "-passout", "pass:pw", "-iter", "2048"]);
    const pfx = decodeDer(readFileSync(join(dir, "mac.p12")))!;
    // `at`: a path in the MacData; empty for the PFX's version.
    const parent = at.slice(0, -1).reduce((node, i) => node.children![i]!, at.length === 0 ? pfx : pfx.children![2]!);
    parent.children![at.length === 0 ? 0 : at[at.length - 1]!] = { ...replacement };
    writeFileSync(join(dir, "bad-mac.p12"), encodeDer(pfx));
    // The oracle: openssl refuses the file, with the right password.
    expect(() => openssl(["pkcs12", "-in", join(dir, "bad-mac.p12"), "-nokeys", "-passin", "pass:pw"])).toThrow();
    const e = readPkcs12(encodeDer(pfx), "bad-mac.p12", { keyPassword: { kind: "value", value: "pw" } });
    await expect(e).rejects.toMatchObject({ code: "PKCS12_INVALID", message: `could not parse PKCS#12 file bad-mac.p12: ${problem}` });
  });
});

it("a PFX whose authSafe [0] holds its content twice (openssl: explicit length mismatch; differential seed 99991, case #530): PKCS12_INVALID", async () => {
  const dir = tmp.dir;
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"), "-subj", "/CN=p12", "-out", join(dir, "c.pem")]);
  openssl(["pkcs12", "-export", "-inkey", join(dir, "k.pem"), "-in", join(dir, "c.pem"), "-out", join(dir, "twice.p12"), "-passout", "pass:pw"]);
  const pfx = decodeDer(readFileSync(join(dir, "twice.p12")))!;
  const explicit = pfx.children![1]!.children![1]!;
  explicit.children!.push(structuredClone(explicit.children![0]!));
  writeFileSync(join(dir, "twice.p12"), encodeDer(pfx));
  expect(() => openssl(["pkcs12", "-in", join(dir, "twice.p12"), "-nokeys", "-passin", "pass:pw"])).toThrow();
  const e = readPkcs12(encodeDer(pfx), "twice.p12", { keyPassword: { kind: "value", value: "pw" } });
  await expect(e).rejects.toMatchObject({ code: "PKCS12_INVALID", message: "could not parse PKCS#12 file twice.p12: its authSafe's [0] holds 2 elements, not one" });
  // As the fuzzer made it: other bytes after the PFX, which openssl reads past (the CLI refuses them before).
  const followed = readPkcs12(Buffer.concat([encodeDer(pfx), Buffer.from("tail")]), "twice.p12", { keyPassword: { kind: "value", value: "pw" } });
  await expect(followed).rejects.toMatchObject({ code: "PKCS12_INVALID", message: expect.stringContaining("holds 2 elements, not one") });
});

describe("PKCS#12 ContentInfos, SafeBags, certificate bags and bag attributes that openssl refuses (differential fuzzer)", () => {
  const SHROUDED = "1.2.840.113549.1.12.10.1.2";
  const [DATA, ENCRYPTED, KEY, X509] = ["1.2.840.113549.1.7.1", "1.2.840.113549.1.7.6", "1.2.840.113549.1.12.10.1.1", "1.2.840.113549.1.9.22.1"];
  const [CERT, NAME, KEY_ID] = ["1.2.840.113549.1.12.10.1.3", "1.2.840.113549.1.9.20", "1.2.840.113549.1.9.21"];
  /** The SEQUENCEs that start with `oid` (a ContentInfo, a SafeBag, a certificate bag's value, an attribute). */
  const starting = (pfx: DerNode, oid: string) =>
    allNodes(pfx).filter(({ node }) => node.tag === 0x30 && node.children?.[0]?.tag === 0x06 && node.children[0].value!.equals(oidBytes(oid))).map(({ node }) => node);
  const twice = (explicit: DerNode) => explicit.children!.push(cloneDer(explicit.children![0]!));
  const NULL = { tag: 5, value: Buffer.alloc(0) };
  it.each([
    // `encrypted`: the certificates in an encryptedData and the key in a shrouded bag; else both in the clear.
    ["a ContentInfo's [0] holding its content twice", false, (p: DerNode) => twice(starting(p, DATA)[1]!.children![1]!), "a ContentInfo's [0] holds 2 elements, not one"],
    ["an encryptedData ContentInfo's [0] holding it twice", true, (p: DerNode) => twice(starting(p, ENCRYPTED)[0]!.children![1]!), "a ContentInfo's [0] holds 2 elements, not one"],
    ["a field after a ContentInfo's content", false, (p: DerNode) => starting(p, DATA)[1]!.children!.push(NULL), "a field follows the last one of a ContentInfo"],
    ["a key bag's [0] holding the key twice", false, (p: DerNode) => twice(starting(p, KEY)[0]!.children![1]!), "a SafeBag's [0] holds 2 elements, not one"],
    ["a shrouded key bag's [0] holding it twice", true, (p: DerNode) => twice(starting(p, SHROUDED)[0]!.children![1]!), "a SafeBag's [0] holds 2 elements, not one"],
    ["a field after a certificate bag's attributes", false, (p: DerNode) => starting(p, CERT)[0]!.children!.push(NULL), "a field follows the last one of a SafeBag"],
    ["a certificate bag's [0] holding the certificate twice", false, (p: DerNode) => twice(starting(p, X509)[0]!.children![1]!), "a certificate bag's [0] holds 2 elements, not one"],
    ["a field after a certificate bag's certificate", false, (p: DerNode) => starting(p, X509)[0]!.children!.push(NULL), "a field follows the last one of a certificate bag"],
    ["a field after an attribute's values", false, (p: DerNode) => starting(p, NAME)[0]!.children!.push(NULL), "a field follows the last one of a bag attribute"],
    ["a second certificate bag of type SDSI holding an OCTET STRING, not an IA5String (round 32, scripts/fuzz-pkcs12.mjs)", false, (p: DerNode) => {
      const bag = allNodes(p).find(({ node }) => node === starting(p, CERT)[0])!;
      const sdsi = cloneDer(bag.node);
      sdsi.children![1]!.children![0]!.children![0]!.value = oidBytes("1.2.840.113549.1.9.22.2");
      bag.parent!.children!.push(sdsi);
    }, "an SDSI certificate bag's value is not an IA5String"],
    ["a digestedData ContentInfo that is not a DigestedData (round 32, scripts/fuzz-pkcs12.mjs)", false, (p: DerNode) => {
      const authenticatedSafe = allNodes(p).find(({ node }) => node === starting(p, DATA)[1])!.parent!;
      const digested = { tag: 0x30, children: [{ tag: 6, value: oidBytes("1.2.840.113549.1.7.5") }, { tag: 0xa0, children: [{ tag: 0x30, children: [{ tag: 2, value: Buffer.from([0]) }] }] }] };
      authenticatedSafe.children!.push(digested);
    }, "a digestedData content is not supported"],
    ["a signedData ContentInfo in the AuthenticatedSafe that is not a SignedData (round 32, scripts/fuzz-pkcs12.mjs)", false, (p: DerNode) => {
      const authenticatedSafe = allNodes(p).find(({ node }) => node === starting(p, DATA)[1])!.parent!;
      const signed = { tag: 0x30, children: [{ tag: 6, value: oidBytes("1.2.840.113549.1.7.2") }, { tag: 0xa0, children: [{ tag: 0x30, children: [{ tag: 2, value: Buffer.from([0]) }] }] }] };
      authenticatedSafe.children!.push(signed);
    }, "a signedData content is not supported"],
    ["a certificate bag whose value is not a CertBag (a SEQUENCE of one INTEGER)", false, (p: DerNode) => {
      starting(p, CERT)[0]!.children![1]!.children = [{ tag: 0x30, children: [{ tag: 2, value: Buffer.from([0]) }] }];
    }, "malformed certificate bag"],
    ["a signedAndEnvelopedData ContentInfo in the AuthenticatedSafe that is not one", false, (p: DerNode) => {
      const authenticatedSafe = allNodes(p).find(({ node }) => node === starting(p, DATA)[1])!.parent!;
      authenticatedSafe.children!.push({ tag: 0x30, children: [{ tag: 6, value: oidBytes("1.2.840.113549.1.7.4") }, { tag: 0xa0, children: [{ tag: 0x30, children: [{ tag: 2, value: Buffer.from([0]) }] }] }] });
    }, "a signedAndEnvelopedData content is not supported"],
    ["a localKeyId that is an INTEGER with a leading zero byte", false, (p: DerNode) => {
      starting(p, KEY_ID)[0]!.children![1]!.children = [{ tag: 2, value: Buffer.from([0, 1]) }];
    }, "a bag attribute's value is an empty or non-minimal INTEGER"],
  ] as const)("%s: PKCS12_INVALID, not read", async (_, encrypted, edit, problem) => {
    const dir = tmp.dir;
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"), "-subj", "/CN=p12", "-out", join(dir, "c.pem")]);
    const pbe = encrypted ? ["-certpbe", "AES-256-CBC"] : ["-keypbe", "NONE", "-certpbe", "NONE"];
    openssl(["pkcs12", "-export", "-inkey", join(dir, "k.pem"), "-in", join(dir, "c.pem"), "-name", "p12", "-out", join(dir, "bags.p12"), "-passout", "pass:pw", "-nomac", ...pbe]);
    const pfx = decodeDer(readFileSync(join(dir, "bags.p12")))!;
    edit(pfx);
    writeFileSync(join(dir, "bad-bags.p12"), encodeDer(pfx));
    expect(() => openssl(["pkcs12", "-in", join(dir, "bad-bags.p12"), "-info", "-noout", "-nomacver", "-passin", "pass:pw"])).toThrow();
    const e = readPkcs12(encodeDer(pfx), "bad-bags.p12", { keyPassword: { kind: "value", value: "pw" } });
    await expect(e).rejects.toMatchObject({ code: "PKCS12_INVALID", message: `could not parse PKCS#12 file bad-bags.p12: ${problem}` });
  });

  it.each([
    ["a second certificate bag of type SDSI holding an IA5String: skipped", (p: DerNode) => {
      const bag = allNodes(p).find(({ node }) => node === starting(p, CERT)[0])!;
      const sdsi = cloneDer(bag.node);
      sdsi.children![1]!.children![0]!.children![0]!.value = oidBytes("1.2.840.113549.1.9.22.2");
      sdsi.children![1]!.children![0]!.children![1]!.children = [{ tag: 0x16, value: Buffer.from("(sdsi)") }];
      bag.parent!.children!.push(sdsi);
    }],
    ["a ContentInfo of another type in the AuthenticatedSafe (not a PKCS#7 one): skipped", (p: DerNode) => {
      const authenticatedSafe = allNodes(p).find(({ node }) => node === starting(p, DATA)[1])!.parent!;
      authenticatedSafe.children!.push({ tag: 0x30, children: [{ tag: 6, value: oidBytes("1.2.3.4") }, { tag: 0xa0, children: [{ tag: 0x30, children: [{ tag: 2, value: Buffer.from([0]) }] }] }] });
    }],
  ] as const)("%s, read (as openssl reads it)", async (_, edit) => {
    const dir = tmp.dir;
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"), "-subj", "/CN=p12", "-out", join(dir, "c.pem")]);
    openssl(["pkcs12", "-export", "-inkey", join(dir, "k.pem"), "-in", join(dir, "c.pem"), "-name", "p12", "-out", join(dir, "skipped.p12"), "-passout", "pass:pw", "-nomac", "-keypbe", "NONE", "-certpbe", "NONE"]);
    const pfx = decodeDer(readFileSync(join(dir, "skipped.p12")))!;
    edit(pfx);
    writeFileSync(join(dir, "skipped.p12"), encodeDer(pfx));
    // The oracle: openssl reads the key and the certificate from it.
    const text = openssl(["pkcs12", "-in", join(dir, "skipped.p12"), "-nodes", "-nomacver", "-passin", "pass:pw"]);
    expect(text).toContain("PRIVATE KEY");
    const identity = await readPkcs12(encodeDer(pfx), "skipped.p12", { keyPassword: { kind: "value", value: "pw" } });
    expect(identity.certificate.der).toEqual(new X509Certificate(readFileSync(join(dir, "c.pem"))).raw);
  });

  it("a friendlyName with two values (openssl reads it): read", async () => {
    const dir = tmp.dir;
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"), "-subj", "/CN=p12", "-out", join(dir, "c.pem")]);
    openssl(["pkcs12", "-export", "-inkey", join(dir, "k.pem"), "-in", join(dir, "c.pem"), "-name", "p12", "-out", join(dir, "names.p12"), "-passout", "pass:pw", "-nomac", "-keypbe", "NONE", "-certpbe", "NONE"]);
    const pfx = decodeDer(readFileSync(join(dir, "names.p12")))!;
    twice(starting(pfx, NAME)[0]!.children![1]!);
    writeFileSync(join(dir, "names.p12"), encodeDer(pfx));
    openssl(["pkcs12", "-in", join(dir, "names.p12"), "-info", "-noout", "-nomacver", "-passin", "pass:pw"]);
    const identity = readPkcs12(encodeDer(pfx), "names.p12", { keyPassword: { kind: "value", value: "pw" } });
    await expect(identity).resolves.toMatchObject({ chain: [] });
  });
});
