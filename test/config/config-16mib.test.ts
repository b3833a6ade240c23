/**
 * parseConfig on hostile text at the 16 MiB bound (round 43, C1). Before, its scans for numbers JSON rounds and for
 * keys given twice were regexps over the whole text, /"(?:[^"\\]|\\.)*"|…/g, which recurse once per character of a
 * string: a 16 MiB string or key overflowed the regexp stack and a RangeError escaped ("cannot read config file …:
 * error" at the CLI). A line was counted by splitting a copy of the text before it. Arrays nested millions deep made
 * V8's JSON.parse die of OOM (FATAL ERROR, exit 134), before any check of ours: nesting is now refused first.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse-config.js";
import { parseJsonOrFail } from "../../src/io/json.js";

const MiB = 1024 * 1024;
const refusal = (json: string) => {
  try {
    parseConfig(json, "/c.json");
  } catch (error) {
    const { code, message, hint } = error as { code: string; message: string; hint?: string };
    return { code, message, hint };
  }
  return undefined;
};

describe("parseConfig on 16 MiB of hostile text", () => {
  it("a 16 MiB string value is judged by its field's rule, not a RangeError", () => {
    const r = refusal(JSON.stringify({ profiles: { p: { "role-session-name": "x".repeat(16 * MiB - 64) } } }));
    expect(r?.code).toBe("CONFIG_INVALID");
    expect(r?.message).toMatch(/^config \/c\.json: profile "p": field "role-session-name" must be/);
  });

  it("a 16 MiB string with escaped quotes and backslashes, then a number JSON rounds: its line is found", () => {
    const long = '\\"\\\\'.repeat(4 * MiB - 64);
    const json = `{\n"profiles": {"p": {"description": "${long}",\n"session-duration": 899.99999999999999}}}`;
    expect(refusal(json)?.message).toBe("config /c.json: line 3: 899.99999999999999 is not a whole number (JSON reads it as 900)");
  });

  it("a 16 MiB key, then given twice", () => {
    const key = "k".repeat(8 * MiB - 64);
    expect(refusal(`{"profiles": {"${"k".repeat(16 * MiB - 64)}": {}}}`)?.message).toMatch(/^config \/c\.json: profile name "kkk.*… is not allowed$/);
    expect(refusal(`{"profiles": {"${key}": {},\n"${key}": {}}}`)).toEqual({
      code: "CONFIG_INVALID",
      message: `config /c.json: "profiles": key "${"k".repeat(56)}… appears twice (line 1 and line 2)`,
      hint: "JSON keeps the last one without a word: remove or rename one",
    });
  });

  it("a key with escapes is compared as JSON reads it, inside a 16 MiB text", () => {
    const json = `{"profiles": {"p": {"description": "${"d".repeat(16 * MiB - 128)}"}, "\\u0070": {}}}`;
    expect(refusal(json)?.message).toBe('config /c.json: "profiles": key "p" appears twice (line 1 and line 1)');
  });

  it("nesting deeper than 64 is refused before JSON.parse, which would build it until V8 dies of OOM", () => {
    const deep = (n: number) => `{"profiles": {"p": {"description": ${"[".repeat(n)}${"]".repeat(n)}}}}`;
    expect(refusal(deep(61))?.message).toMatch(/field "description" must be a non-empty string/); // 64 levels in all
    expect(refusal(deep(62))).toEqual({
      code: "CONFIG_INVALID",
      message: "config /c.json: nested more than 64 levels deep",
      hint: "a config file is an object of profiles, each an object of settings",
    });
    expect(refusal(`{"a":`.repeat(100) + "1" + "}".repeat(100))?.message).toBe("config /c.json: nested more than 64 levels deep");
  });

  it("text that is not JSON is left to JSON.parse, whatever the scan met first (an unclosed string, a stray bracket)", () => {
    expect(refusal('{"profiles": {"p": {"description": "open}}}')?.message).toMatch(/^config \/c\.json: not valid JSON \(/);
    expect(refusal(']]]{"profiles": {}}')?.message).toMatch(/^config \/c\.json: not valid JSON \(/);
    expect(refusal('{"a": 1.00000000000000001,,}')?.message).toMatch(/^config \/c\.json: not valid JSON \(/);
  });
});

describe("a JSON error's line and column in 16 MiB of lines", () => {
  it("are counted as before, in place", () => {
    const fail = (why: string): never => {
      throw new Error(why);
    };
    expect(() => parseJsonOrFail('{\n"a": 1,\n\n  x}', fail)).toThrow(/at line 4, column 3\)$/);
    expect(() => parseJsonOrFail("{  x}", fail)).toThrow(/at line 1, column 4\)$/);
    expect(() => parseJsonOrFail("{" + "\n".repeat(16 * MiB - 3) + "x}", fail)).toThrow(new RegExp(`at line ${16 * MiB - 2}, column 1\\)$`));
  });
});
