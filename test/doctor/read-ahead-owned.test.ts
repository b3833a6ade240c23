/**
 * Round 36: doctor's read-ahead of a PIN or password file (read once, for its row, for its signer to take) was a
 * module-level map by path, which any readSecret of that path in the process took from: a signer or agent of the same
 * program reading that PIN file while doctor ran got doctor's bytes (the file's content before it was replaced), and
 * doctor's own signer then read the new file, not the one its row judged. Now the read-ahead is the run's
 * (SecretReadAhead), lent to the signer it opens alone. The other reader is the caller's `report` (called between
 * doctor's rows and its signer); the signer here is a stand-in that reads its PIN as pin.ts does (no token).
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { runChecks, type CheckRow } from "../../src/doctor/checks.js";
import { AgentError, AuthError } from "../../src/errors.js";
import type { Secret } from "../../src/secrets/secret.js";
import { readSecret, type SecretSource } from "../../src/secrets/secret-source.js";

const { pins, waits } = vi.hoisted(() => ({
  pins: [] as { run: string | undefined; pin: string }[], waits: new Map<string | undefined, Promise<unknown>>(),
}));
vi.mock("../../src/signers/factory.js", () => ({
  createSignerWith: async (o: { pkcs11: { library?: string; pin: SecretSource } }) => {
    await waits.get(o.pkcs11.library); // a signer slow to open (a module loading)
    const pin = await readSecret(o.pkcs11.pin, "the token's user PIN");
    pins.push({ run: o.pkcs11.library, pin: pin.reveal() });
    pin.wipe();
    throw new AuthError("PIN_INCORRECT", "stand-in token: not logged in");
  },
}));

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-owned-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  pins.splice(0);
  waits.clear();
});

const pinFile = (name: string) => {
  const path = join(dir, name);
  writeFileSync(path, "1234\n", { mode: 0o600 });
  return path;
};
// Another PIN, in a file others can read, renamed over `path`.
const replace = (path: string) => {
  writeFileSync(`${path}.new`, "5678\n", { mode: 0o644 });
  renameSync(`${path}.new`, path);
};
const checks = (pin: string, run: string, report: (row: CheckRow) => void) => runChecks({
  signer: { privateKey: "pkcs11:token=t;object=k", pkcs11: { library: run, pin: { kind: "file", path: pin } } },
  session: new AgentError("INPUT_MISSING", "no ARNs in this test"), endpoint: {}, agentSocket: join(dir, "no-agent.sock"),
  createSession: false, warningDays: 30, env: {},
}, report);
const pinRow = (rows: CheckRow[]) => rows.find((r) => r.name === "PIN file");

describe("doctor's read-ahead is its run's, for its signer alone", () => {
  it("another reader of the PIN file during doctor's run reads the file as it is then; doctor's signer takes its row's read", async () => {
    const path = pinFile("pin-host");
    let hostRead: Promise<Secret> | undefined;
    const rows = await checks(path, "doctor", (row) => {
      if (row.name !== "PIN file") return;
      replace(path); // the PIN file is replaced, and the program's own signer reads it
      hostRead = readSecret({ kind: "file", path }, "the host's PIN");
    });
    expect((await hostRead!).reveal()).toBe("5678"); // was 1234: doctor's read, of a file no longer there
    expect(pinRow(rows)).toMatchObject({ outcome: "pass", detail: expect.stringContaining("(mode 600)") });
    expect(pins).toEqual([{ run: "doctor", pin: "1234" }]); // was 5678: not the file its ✔ row judged
  });

  it("two doctor runs at once on one PIN file: each signer takes its own run's read, which its row judged", async () => {
    const path = pinFile("pin-two");
    let second: Promise<CheckRow[]> | undefined;
    let secondRead: () => void;
    waits.set("first", new Promise((resolve) => (secondRead = () => resolve(undefined))));
    const first = await checks(path, "first", (row) => {
      if (row.name !== "PIN file") return;
      replace(path);
      // The first run's signer opens once the second has read the file for its row.
      second = checks(path, "second", (other) => other.name === "PIN file" && secondRead());
    });
    const rows = await second!;
    expect(pinRow(first)).toMatchObject({ outcome: "pass", detail: expect.stringContaining("(mode 600)") });
    expect(pinRow(rows)).toMatchObject({ outcome: "fail", detail: expect.stringContaining("mode 644") });
    expect(pins.sort((a, b) => a.run!.localeCompare(b.run!))).toEqual([{ run: "first", pin: "1234" }, { run: "second", pin: "5678" }]);
  });
});
