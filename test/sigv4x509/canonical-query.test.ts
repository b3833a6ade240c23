import { describe, expect, it } from "vitest";
import { canonicalQuery } from "../../src/sigv4x509/uri-encoding.js";

describe("canonicalQuery", () => {
  it("encodes keys and values, sorts by key then by value (repeated keys too) and joins with &", () => {
    const query = [
      ["roleArn", "arn:aws:iam::1:role/b"],
      ["a b", "x"],
      ["roleArn", "arn:aws:iam::1:role/a"],
      ["Z", "é"],
      ["a", "=&"],
      ["a", ""],
    ] as const;
    const roles = "roleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa&roleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fb";
    expect(canonicalQuery(query)).toBe(`Z=%C3%A9&a=&a=%3D%26&a%20b=x&${roles}`);
    expect(canonicalQuery([])).toBe("");
  });
});
