import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { Secret as Exported } from "../../src/index.js";
import { Secret } from "../../src/secrets/secret.js";

describe("Secret", () => {
  it("never prints itself: String(), a template, JSON and util.inspect show [redacted]", () => {
    const secret = Secret.fromUtf8("1234");
    expect(String(secret)).toBe("[redacted]");
    expect(`${secret}`).toBe("[redacted]");
    expect(JSON.stringify({ pin: secret })).toBe('{"pin":"[redacted]"}');
    expect(inspect({ pin: secret })).toBe("{ pin: Secret([redacted]) }");
    expect(secret.reveal()).toBe("1234");
  });

  it("zeroes the bytes it was given when wiped, and refuses any use after that", () => {
    const given = Buffer.from("s3cret");
    const secret = Secret.fromBytes(given);
    expect(secret.length).toBe(6);
    expect(secret.isEmpty).toBe(false);
    secret.wipe();
    expect(given.equals(Buffer.alloc(6))).toBe(true);
    expect(() => secret.reveal()).toThrow("secret used after it was wiped");
    expect(() => secret.use((b) => b.length)).toThrow("secret used after it was wiped");
    expect(() => secret.clone()).toThrow("secret used after it was wiped");
    expect(Secret.fromUtf8("").isEmpty).toBe(true);
  });

  it("clones into bytes of its own: wiping one leaves the other", () => {
    const original = Secret.fromUtf8("pin-é");
    const copy = original.clone();
    original.wipe();
    expect(copy.reveal()).toBe("pin-é");
    expect(copy.length).toBe(6);
  });
});

describe("Secret as the library exports it (src/index.ts)", () => {
  it("tells its length in bytes (UTF-8) and whether it is empty, without revealing it", () => {
    const pin = Exported.fromUtf8("pässwörd");
    expect([pin.length, pin.isEmpty]).toEqual([10, false]);
    expect([Exported.fromUtf8("").length, Exported.fromUtf8("").isEmpty]).toEqual([0, true]);
    expect(Exported.fromBytes(Buffer.from([1, 2, 3])).length).toBe(3);
  });

  it("lends its bytes and reveals them on request", () => {
    const pin = Exported.fromUtf8("123456");
    expect(pin.use((bytes) => bytes.toString("hex"))).toBe("313233343536");
    expect(inspect(pin)).toBe("Secret([redacted])");
  });
});

describe("Secret.reveal()", () => {
  it("is public API for library callers only: nothing in src/ makes a string of a secret with it", () => {
    const src = join(import.meta.dirname, "../../src");
    const callers = (readdirSync(src, { recursive: true }) as string[])
      .filter((f) => f.endsWith(".ts") && readFileSync(join(src, f), "utf8").includes(".reveal("));
    expect(callers).toEqual([]);
  });
});
