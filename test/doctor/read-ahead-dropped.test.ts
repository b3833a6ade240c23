/**
 * Round 35 (D12): what doctor reads ahead of the signer (the key file, a PIN or password file) was wiped, and the
 * read-ahead dropped, in a `finally` that began only after the file rows and the signer's opening. A throw in between
 * (here the caller's `report`, which runChecks calls as each row is made) left the password's bytes
 * unwiped in the module's read-ahead map for the process's life, where the next readSecret of that path took them
 * instead of the file's content then, and the key's bytes unwiped. (Round 36: the read-ahead is the run's, lent to its
 * signer alone; the read after the throw here shows it is wiped, and that no reader outside the run takes it.)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { runChecks } from "../../src/doctor/checks.js";
import { AgentError } from "../../src/errors.js";
import { readSecret } from "../../src/secrets/secret-source.js";
import { createCa, issueLeaf } from "../helpers/pki.js";

const { reads, closeFails } = vi.hoisted(() => ({ reads: new Map<string, Buffer>(), closeFails: { now: false } }));
// The real signer, whose close throws where a test asks (a module's C_Finalize failing, a TPM gone).
vi.mock("../../src/signers/factory.js", async (actual) => {
  const real = await actual<typeof import("../../src/signers/factory.js")>();
  const createSignerWith: typeof real.createSignerWith = async (...a) => {
    const signer = await real.createSignerWith(...a);
    if (!closeFails.now) return signer;
    return Object.assign(Object.create(signer) as typeof signer, { close: async () => Promise.reject(new Error("close failed")) });
  };
  return { ...real, createSignerWith };
});
vi.mock("../../src/io/read-opened-file.js", async (actual) => {
  const real = await actual<typeof import("../../src/io/read-opened-file.js")>();
  const readOpenedFile = async (path: string, ...rest: []) => {
    const read = await real.readOpenedFile(path, ...rest);
    reads.set(path, read.bytes); // the buffer the secret was read into, to see whether it was wiped
    return read;
  };
  return { ...real, readOpenedFile };
});

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-drop-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "Drop CA" }), dir, { name: "drop" });
beforeEach(() => {
  reads.clear();
  closeFails.now = false;
});

/** doctor's checks of a key file with a password file, `report` throwing on the first row named `at` */
function checksThrowingAt(at: string, password: string) {
  const input = {
    signer: { privateKey: leaf.keyPath, certificate: leaf.certPath, keyPassword: { kind: "file" as const, path: password } },
    session: new AgentError("INPUT_MISSING", "no ARNs in this test"), endpoint: {}, agentSocket: join(dir, "no-agent.sock"),
    createSession: false, warningDays: 30, env: {},
  };
  return runChecks(input, (row) => {
    if (row.name === at) throw new Error(`the report of ${at} failed`);
  });
}

describe("doctor drops what it read ahead on every way out", () => {
  it.each(["private key file", "key password file", "key opens", "close"])("a throw at the %s row: the password and the key are wiped, the next read reads the file", async (at) => {
    const password = join(dir, `pw-${at.replace(/ /g, "-")}.txt`);
    writeFileSync(password, "read-by-doctor\n", { mode: 0o600 });
    closeFails.now = at === "close"; // the signer's close threw past the drop, which came after it
    await expect(checksThrowingAt(at, password)).rejects.toThrow(at === "close" ? "close failed" : `the report of ${at} failed`);
    expect(reads.get(password)?.every((b) => b === 0)).toBe(true);
    expect(reads.get(leaf.keyPath)?.every((b) => b === 0)).toBe(true);
    // Round 36 (M41): the certificate file read ahead (it may hold a key) is wiped as well; without the wipe it survived.
    expect(reads.get(leaf.certPath)?.every((b) => b === 0)).toBe(true);
    writeFileSync(password, "written-after\n", { mode: 0o600 });
    const secret = await readSecret({ kind: "file", path: password }, "key password");
    expect(secret.reveal()).toBe("written-after"); // was "read-by-doctor": the read-ahead kept for the next read
  });
});
