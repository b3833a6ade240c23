/**
 * Round 34: a pkcs11: URI's pin-source file (`…?pin-source=file:/path`) is read once, for doctor's row
 * (SecretReadAhead), and the signer's PIN is that read: readSecret of a file source of that path (pin.ts makes its
 * own from the URI) within the run's lend of its reads takes the read made ahead for that path (round 36; round 35, any
 * readSecret of the process; round 34 shared one source object per path). Before, its row was a stat of the name and pin.ts read the file again through a source of its
 * own, so a file renamed over it in between gave a ✔ row (mode 600) beside a login with another file's PIN (mode 644).
 * The signer here is pin.ts's supply as open-signer.ts builds it (givenUserPin), read as loginUser reads it: no token.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthError } from "../../src/errors.js";
import { signerChecks } from "../helpers/doctor-checks.js";

const { afterStat, afterRead, reads, pins } = vi.hoisted(() => ({
  afterStat: new Map<string, () => void>(), afterRead: new Map<string, () => void>(), reads: [] as string[], pins: [] as string[],
}));
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
// The PKCS#11 signer up to its login: the URI's PIN supply, read once (no module, no token).
vi.mock("../../src/signers/factory.js", () => ({
  createSignerWith: async (o: { privateKey: string; pkcs11?: { pin?: never } }) => {
    const [{ parsePkcs11Uri }, { givenUserPin }] = await Promise.all([import("../../src/pkcs11/uri.js"), import("../../src/pkcs11/pin.js")]);
    const pin = await givenUserPin(parsePkcs11Uri(o.privateKey).pin, o.pkcs11?.pin, "the token's user PIN", {})!.read();
    pins.push(pin.use((bytes) => bytes.toString("utf8")));
    pin.wipe();
    throw new AuthError("PIN_INCORRECT", "stand-in token: not logged in");
  },
}));

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-pin-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  reads.splice(0);
  pins.splice(0);
  afterStat.clear();
  afterRead.clear();
});
const pinFile = (name: string) => {
  const path = join(dir, name);
  writeFileSync(path, "1234\n", { mode: 0o600 });
  return path;
};
// Another PIN, in a file others can read, renamed over `path` (once).
const swap = (path: string) => {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    writeFileSync(`${path}.other`, "9999\n", { mode: 0o644 });
    renameSync(`${path}.other`, path);
  };
};
const check = (pin: string) => signerChecks(dir, { privateKey: `pkcs11:token=t;object=k?pin-source=file:${pin}` });

describe("doctor reads a URI's pin-source file once", () => {
  it("swapped just after doctor's stat: the row is about the file whose PIN the signer presents", async () => {
    const pin = pinFile("pin-stat");
    afterStat.set(pin, swap(pin));
    const rows = await check(pin);
    expect(rows.find((r) => r.name === "pin-source file")).toMatchObject({ outcome: "fail", detail: expect.stringContaining("(mode 644)") });
    expect(pins).toEqual(["9999"]);
    expect(reads.filter((p) => p === pin)).toHaveLength(1);
  });

  it("swapped just after doctor's read: the row's ✔ and the PIN are both that read's", async () => {
    const pin = pinFile("pin-read");
    afterRead.set(pin, swap(pin));
    const rows = await check(pin);
    expect(rows.find((r) => r.name === "pin-source file")).toMatchObject({ outcome: "pass", detail: `${pin} (mode 600)` });
    expect(pins).toEqual(["1234"]);
    expect(reads.filter((p) => p === pin)).toHaveLength(1);
  });

  it("a later signer of the same URI (a re-open) reads the file again", async () => {
    const pin = pinFile("pin-again");
    await check(pin);
    const { pinFromUri } = await import("../../src/pkcs11/pin.js");
    const { parsePkcs11Uri } = await import("../../src/pkcs11/uri.js");
    writeFileSync(pin, "5678\n");
    const again = await pinFromUri(parsePkcs11Uri(`pkcs11:token=t?pin-source=${pin}`).pin!).read();
    expect(again.use((bytes) => bytes.toString("utf8"))).toBe("5678");
    again.wipe();
  });
});
