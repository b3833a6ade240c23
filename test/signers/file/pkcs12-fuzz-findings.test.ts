/**
 * Found by the structure-aware fuzzer (issue 20): a PKCS#12 bag whose value is a NULL with content reached
 * `Buffer.from(null)` (a TypeError, exit 1) instead of PKCS12_INVALID.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readPkcs12 } from "../../../src/signers/file/pkcs12.js";
import { makeTempDir, openssl } from "../../helpers/pki.js";
import { allNodes, decodeDer, encodeDer, oidBytes } from "../../fuzz/der-tree.js";

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
