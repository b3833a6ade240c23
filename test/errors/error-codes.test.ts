import { describe, expect, it } from "vitest";
import { AgentError, ERROR_CODES, type ErrorCode } from "../../src/errors.js";

describe("ERROR_CODES", () => {
  it("holds the codes only: Object.prototype's names are not codes (an agent answering Code 'toString' is not taken at its word)", () => {
    for (const name of ["toString", "constructor", "hasOwnProperty", "__proto__", "valueOf"]) expect(name in ERROR_CODES, name).toBe(false);
    expect("FILE_NOT_FOUND" in ERROR_CODES).toBe(true);
  });

  it("gives every code a category", () => {
    const codes = Object.keys(ERROR_CODES) as ErrorCode[];
    expect(codes.length).toBeGreaterThan(50);
    for (const code of codes) expect(["usage", "input", "auth", "device", "service", "network", "internal"]).toContain(new AgentError(code, "m").category);
  });
});
