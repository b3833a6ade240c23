/** Secret, as the library exports it: holds a PIN or password, prints as [redacted], wipes its bytes. */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { Secret } from "../../src/index.js";

describe("Secret", () => {
  it("tells its length in bytes (UTF-8) and whether it is empty, without revealing it", () => {
    const pin = Secret.fromUtf8("pässwörd");
    expect([pin.length, pin.isEmpty]).toEqual([10, false]);
    expect([Secret.fromUtf8("").length, Secret.fromUtf8("").isEmpty]).toEqual([0, true]);
    expect(Secret.fromBytes(Buffer.from([1, 2, 3])).length).toBe(3);
  });

  it("never prints itself: String(), template strings, JSON and util.inspect show [redacted]", () => {
    const pin = Secret.fromUtf8("123456");
    expect([String(pin), `${pin}`, JSON.stringify({ pin }), inspect(pin), inspect({ pin })]).toEqual([
      "[redacted]",
      "[redacted]",
      '{"pin":"[redacted]"}',
      "Secret([redacted])",
      "{ pin: Secret([redacted]) }",
    ]);
  });

  it("lends its bytes and reveals them on request; a clone is independent of the original", () => {
    const pin = Secret.fromUtf8("123456");
    const copy = pin.clone();
    expect(pin.use((bytes) => bytes.toString("hex"))).toBe("313233343536");
    pin.wipe();
    expect(copy.reveal()).toBe("123456");
  });

  it("wipe() zeroes the bytes it took and refuses every later use", () => {
    const bytes = Buffer.from("hunter2");
    const secret = Secret.fromBytes(bytes);
    secret.wipe();
    expect(bytes.equals(Buffer.alloc(7))).toBe(true);
    expect(() => secret.reveal()).toThrow("secret used after it was wiped");
    expect(() => secret.clone()).toThrow("secret used after it was wiped");
  });
});
