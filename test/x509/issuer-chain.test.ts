import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chainFromPool } from "../../src/x509/issuer-chain.js";
import { Certificate } from "../../src/x509/certificate.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-pkcs11-chain-");
const load = (path: string) => new Certificate(new X509Certificate(readFileSync(path)).raw);
let renamed: Certificate;
let root: Certificate, inter1: Certificate, inter2: Certificate, leaf: Certificate, rootLeaf: Certificate, otherRoot: Certificate, impostor: Certificate;

beforeAll(() => {
  const rootCa = createCa(join(dir, "root"), { name: "Root CA" });
  const i1 = createCa(join(dir, "i1"), { name: "Intermediate One", parent: rootCa });
  const i2 = createCa(join(dir, "i2"), { name: "Intermediate Two", parent: i1 });
  const other = createCa(join(dir, "other"), { name: "Other Root" });
  // same subject as Intermediate Two but a different key: must not be taken for the issuer
  const fake = createCa(join(dir, "fake"), { name: "Intermediate Two", parent: other });
  root = load(rootCa.certPath);
  inter1 = load(i1.certPath);
  inter2 = load(i2.certPath);
  otherRoot = load(other.certPath);
  impostor = load(fake.certPath);
  leaf = load(issueLeaf(i2, join(dir, "leaf"), { name: "leaf" }).certPath);
  // Intermediate Two's key under another name, self-signed: the leaf's signature verifies with it, the names differ
  const renamedPath = join(dir, "renamed.pem");
  openssl(["req", "-x509", "-new", "-key", i2.keyPath, "-subj", "/CN=Renamed", "-days", "10", "-out", renamedPath]);
  renamed = load(renamedPath);
  rootLeaf = load(issueLeaf(rootCa, join(dir, "leaf2"), { name: "root leaf" }).certPath);
});
afterAll(cleanup);

const names = (chain: Certificate[]) => chain.map((c) => c.subject);

describe("chainFromPool", () => {
  it("walks leaf → intermediates, stops before the self-signed root, whatever the pool order", () => {
    for (const pool of [[root, inter1, inter2, otherRoot, leaf], [leaf, otherRoot, inter2, root, inter1]]) {
      expect(names(chainFromPool(leaf, pool))).toEqual(["CN=Intermediate Two", "CN=Intermediate One"]);
    }
  });

  it("ignores a certificate with the issuer's name but another key", () => {
    expect(names(chainFromPool(leaf, [impostor, inter1, root]))).toEqual([]);
    expect(names(chainFromPool(leaf, [impostor, inter2, inter1]))).toEqual(["CN=Intermediate Two", "CN=Intermediate One"]);
  });

  it("returns nothing for a leaf issued by a root, and never the leaf itself", () => {
    expect(chainFromPool(rootLeaf, [rootLeaf, root, inter1, leaf])).toEqual([]);
  });

  it("stops where the pool has a gap", () => {
    expect(names(chainFromPool(leaf, [inter2, root]))).toEqual(["CN=Intermediate Two"]);
  });

  it("respects the depth limit", () => {
    expect(names(chainFromPool(leaf, [inter2, inter1, root], { maxDepth: 1 }))).toEqual(["CN=Intermediate Two"]);
  });

  it("takes the candidates per certificate, and reads no further than the first issuer", () => {
    const asked: string[] = [];
    let pulled = 0;
    const candidates = function* (child: Certificate) {
      asked.push(child.subject);
      for (const c of [impostor, inter2, inter1, root, otherRoot]) {
        pulled++;
        yield c;
      }
    };
    expect(names(chainFromPool(leaf, candidates))).toEqual(["CN=Intermediate Two", "CN=Intermediate One"]);
    expect(asked).toEqual(["CN=leaf", "CN=Intermediate Two", "CN=Intermediate One"]);
    // impostor, inter2 | impostor, inter2, inter1 | impostor, inter2, inter1, root (self-signed: the end)
    expect(pulled).toBe(9);
  });

  it("withRoot: the self-signed root too, once; a self-signed leaf alone is never its own chain", () => {
    const all = ["CN=Intermediate Two", "CN=Intermediate One", "CN=Root CA"];
    expect(names(chainFromPool(leaf, [root, inter1, inter2], { withRoot: true }))).toEqual(all);
    expect(chainFromPool(root, [root], { withRoot: true })).toEqual([]);
  });

  it("ignores a certificate with the issuer's key but another name", () => {
    const chain = names(chainFromPool(leaf, [renamed, inter2, inter1]));
    expect(chain).toEqual(["CN=Intermediate Two", "CN=Intermediate One"]);
  });
});
