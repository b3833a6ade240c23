/**
 * Edges of parseConfig's one-pass scan and of a JSON error's line and column that the generated texts of
 * scan-json-differential.test.ts do not reach (round 43, M48: mutants that survived).
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse-config.js";
import { parseJsonOrFail } from "../../src/io/json.js";

const refusal = (json: string) => {
  try {
    parseConfig(json, "/c.json");
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
};

describe("parseConfig's scan on text that is not JSON", () => {
  it("a comma or a closing bracket outside any object or array is JSON.parse's to refuse, not a TypeError", () => {
    for (const text of [",", '{"profiles": {}},', ']],{"profiles": {}}', "}", '1, "a"']) {
      expect(refusal(text), text).toMatch(/^config \/c\.json: not valid JSON \(/);
    }
  });
});

describe("a JSON error's line and column", () => {
  const fail = (why: string): never => {
    throw new Error(why);
  };
  it("a newline inside a string, where JSON.parse stops, is on the line it ends, at its column", () => {
    expect(() => parseJsonOrFail('{"a": "x\ny"}', fail)).toThrow(/^not valid JSON \(Bad control character in string literal at line 1, column 9\)$/);
    expect(() => parseJsonOrFail('{\n"a": "x\ny"}', fail)).toThrow(/ at line 2, column 8\)$/);
  });
  it("the first character after a newline is column 1 of the next line", () => {
    expect(() => parseJsonOrFail('{"a":1,\n}', fail)).toThrow(/ at line 2, column 1\)$/);
    expect(() => parseJsonOrFail('\n\n{"a":1,}', fail)).toThrow(/ at line 3, column 8\)$/);
  });
});
