import { describe, expect, it } from "vitest";
import { escapeQuoted, printableLine } from "../../src/errors.js";

const q = (text: string) => `"${escapeQuoted(text)}"`;

describe("escapeQuoted: a label quoted in a message or listing", () => {
  it("a label typed `dev\\u00adice` and one with U+00AD read differently (before: both `dev\\u00adice`)", () => {
    const typed = q("dev\\u00adice");
    const invisible = q("dev\u00adice");
    expect(typed).toBe('"dev\\\\u00adice"');
    expect(invisible).toBe('"dev\\u00adice"');
    expect(printableLine(typed)).not.toBe(printableLine(invisible));
  });

  it("a quote in the label cannot end the quoted value early", () => {
    expect(q('a" (serial 1), token "b')).toBe('"a\\" (serial 1), token \\"b"');
  });

  it("a plain label is quoted as before", () => {
    expect(q("device")).toBe('"device"');
  });

  it.each([
    ["dev\\u00adice", "dev\u00adice"],
    ["a\\\\b", "a\\b"],
    ['x\\"', 'x"'],
    ["\\u{e0041}", "\u{e0041}"],
    ["a\\u000ab", "a\nb"],
  ])("no two labels quote alike: %j and %j", (a, b) => {
    expect(q(a)).not.toBe(q(b));
  });
});
