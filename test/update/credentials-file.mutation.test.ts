/**
 * Round 39, M43: a Stryker survivor of credentials-file.ts' firstNotUtf8 (countOf from index 0): a line whose first
 * byte is not UTF-8 was not noticed by a mutant that counts U+FFFD only after the start of a line.
 */
import { describe, expect, it } from "vitest";
import { upsertProfileCredentials } from "../../src/update/credentials-file.js";

const c = { accessKeyId: "ASIANEW", secretAccessKey: "newsecret/+=", sessionToken: "newtoken==", expiration: "2030-01-01T00:00:00Z" };
const told = (bytes: string) => {
  const lines: string[] = [];
  upsertProfileCredentials(Buffer.from(bytes, "latin1"), "gw", c as never, (line) => lines.push(line));
  return lines.map((line) => /\(line (\d+)\)/.exec(line)?.[1] ?? line);
};

describe("the first line that is not UTF-8", () => {
  it("is named when its very first byte is the one that is not (U+FFFD at index 0 of its text)", () => {
    expect(told("[gw]\nk = 1\n\xff = 2\n")).toEqual(["3"]);
    expect(told("\xe9[other]\n[gw]\n")).toEqual(["1"]);
  });
});
