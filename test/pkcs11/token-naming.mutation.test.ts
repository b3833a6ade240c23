/**
 * How a token is named in a URI and a message (round 39, M43: hand mutants of slots.ts' tokenUri and describeToken,
 * which no unit test reached): `token=` only for a label read as it is (no U+FFFD), a label quoted with escapeQuoted.
 */
import { describe, expect, it } from "vitest";
import { describeToken, tokenUri, type TokenSlot } from "../../src/pkcs11/slots.js";

const slot = (label: string): TokenSlot => ({
  handle: Buffer.alloc(8),
  slotId: 3n,
  slotDescription: "Slot 3",
  slotManufacturer: "Vendor",
  token: { label, manufacturer: "Vendor", model: "M1", serial: "0042" },
  flags: 0,
});

describe("tokenUri", () => {
  it("a label read as it is: token= with the manufacturer, model and serial", () => {
    expect({ ...tokenUri(slot("device")) }).toEqual({ token: "device", manufacturer: "Vendor", model: "M1", serial: "0042" });
  });

  it("a label with U+FFFD (bytes that were not UTF-8): no token=, the rest kept (a mutant that always writes token= fails here)", () => {
    expect({ ...tokenUri(slot("caf\ufffd")) }).toEqual({ manufacturer: "Vendor", model: "M1", serial: "0042" });
  });
});

describe("describeToken", () => {
  it("a label's quote and backslash are escaped, so the quote is not ended early (a mutant without escapeQuoted fails)", () => {
    expect(describeToken(slot('a" b\\c').token)).toBe('token "a\\" b\\\\c" (serial 0042)');
  });

  it("an empty serial is (no serial), told apart from the serial \"none\" (round 43, L2)", () => {
    const token = (serial: string) => ({ ...slot("t").token, serial });
    expect([describeToken(token("")), describeToken(token("none"))]).toEqual(['token "t" (no serial)', 'token "t" (serial none)']);
  });

  it("a label's control character is escaped as escapeControls does", () => {
    expect(describeToken(slot("a\nb").token)).not.toContain("\n");
  });
});
