import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { readSecret } from "../../src/secrets/secret-source.js";

/** Every buffer the file reader handed out, to look at after readSecret has returned. */
const handedOut = vi.hoisted(() => [] as Buffer[]);
vi.mock("../../src/io/input-file.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/io/input-file.js")>();
  const readInputFile: typeof original.readInputFile = async (...args) => {
    const input = await original.readInputFile(...args);
    handedOut.push(input.bytes);
    return input;
  };
  return { ...original, readInputFile };
});

const dir = mkdtempSync(join(tmpdir(), "raa-secret-wipe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readSecret from a file", () => {
  it("zeroes the bytes it read once the secret holds its own copy", async () => {
    const path = join(dir, "pin");
    writeFileSync(path, "9876\r\n", { mode: 0o600 });
    const secret = await readSecret({ kind: "file", path }, "PKCS#11 PIN");
    expect(handedOut).toHaveLength(1);
    expect(handedOut[0]!.equals(Buffer.alloc(6))).toBe(true);
    expect(secret.reveal()).toBe("9876");
    secret.wipe();
    expect(() => secret.reveal()).toThrow("secret used after it was wiped");
  });
});
