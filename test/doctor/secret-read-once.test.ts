/**
 * doctor reads a PIN or password file once, for its row (SecretReadAhead), and the signer's readSecret takes that
 * read: the row judges the file whose secret is used. Before round 33 the row was a stat of the name and the signer read
 * the file later, so a file renamed over it in between gave a ✔ row (mode 600) beside a signer using another file's
 * password (mode 644).
 */
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { signerChecks } from "../helpers/doctor-checks.js";
import { createCa, issueLeaf } from "../helpers/pki.js";

const { afterStat, afterRead, reads } = vi.hoisted(() => ({ afterStat: new Map<string, () => void>(), afterRead: new Map<string, () => void>(), reads: [] as string[] }));
vi.mock("node:fs/promises", async (actual) => {
  const real = await actual<typeof import("node:fs/promises")>();
  const stat = async (path: string, ...rest: []) => {
    const info = await real.stat(path, ...rest);
    afterStat.get(path)?.(); // what another process does to the file just after this stat
    return info;
  };
  return { ...real, stat, default: { ...real, stat } };
});
vi.mock("../../src/io/read-opened-file.js", async (actual) => {
  const real = await actual<typeof import("../../src/io/read-opened-file.js")>();
  const readOpenedFile = async (path: string, ...rest: []) => {
    reads.push(path);
    const read = await real.readOpenedFile(path, ...rest);
    afterRead.get(path)?.();
    return read;
  };
  return { ...real, readOpenedFile };
});

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-secret-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "Secret Once CA" }), dir, { name: "secret-once" });
const key = join(dir, "encrypted.pem");
writeFileSync(key, createPrivateKey(readFileSync(leaf.keyPath)).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "right" }), { mode: 0o600 });
beforeEach(() => {
  reads.splice(0);
  afterStat.clear();
  afterRead.clear();
});
const passwordFile = (name: string) => {
  const path = join(dir, name);
  writeFileSync(path, "right\n", { mode: 0o600 });
  return path;
};
// Another password, in a file others can read, renamed over `path` (once).
const swap = (path: string) => {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    writeFileSync(`${path}.other`, "wrong\n", { mode: 0o644 });
    renameSync(`${path}.other`, path);
  };
};
const check = (pw: string) => signerChecks(dir, { privateKey: key, certificate: leaf.certPath, keyPassword: { kind: "file", path: pw } });

describe("doctor reads a password file once", () => {
  it("swapped just after doctor's stat: the row is about the file whose password the signer used", async () => {
    const pw = passwordFile("pw-stat.txt");
    afterStat.set(pw, swap(pw));
    const rows = await check(pw);
    expect(rows.find((r) => r.name === "key password file")).toMatchObject({ outcome: "fail", detail: expect.stringContaining("(mode 644)") });
    expect(rows.find((r) => r.name === "key and certificate")).toMatchObject({ outcome: "fail" }); // the wrong password
    expect(reads.filter((p) => p === pw)).toHaveLength(1);
  });

  it("swapped just after doctor's read: the row's ✔ and the key opening are both that read's", async () => {
    const pw = passwordFile("pw-read.txt");
    afterRead.set(pw, swap(pw));
    const rows = await check(pw);
    expect(rows.find((r) => r.name === "key password file")).toMatchObject({ outcome: "pass", detail: `${pw} (mode 600)` });
    expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass" });
    expect(reads.filter((p) => p === pw)).toHaveLength(1);
  });

  it("a password the signer does not ask for (an unencrypted key): its row, and the key opens", async () => {
    const pw = passwordFile("pw-unused.txt");
    const rows = await signerChecks(dir, { privateKey: leaf.keyPath, certificate: leaf.certPath, keyPassword: { kind: "file", path: pw } });
    expect(rows.find((r) => r.name === "key password file")).toMatchObject({ outcome: "pass" });
    expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass" });
  });
});
