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

/**
 * Round 40, M44: the survivor `line.endsWith("\r")` → `line.startsWith("\r")` (content, line 22): a file whose lines end
 * in a lone CR (old Mac) kept its line breaks only where a key line was the section's last setting, which the break
 * added after the last setting (`ending(…) === ""`) put back. A key line above another setting lost its CR: the next
 * line became part of the new key's value, and the setting below got two CRs.
 */
describe("a file whose lines end in a lone CR", () => {
  const upsert = (text: string) => upsertProfileCredentials(Buffer.from(text, "latin1"), "gw", c as never).toString("latin1");
  it("keeps the CR of a key line replaced above another setting, and adds the missing keys with CRs after the last one", () => {
    expect(upsert("[gw]\raws_access_key_id = OLD\rregion = x\r[other]\rk = v\r")).toBe(
      "[gw]\raws_access_key_id = ASIANEW\rregion = x\raws_secret_access_key = newsecret/+=\raws_session_token = newtoken==\r[other]\rk = v\r",
    );
    // The file's last line, a setting with no line break: the missing keys go after it, each ending in CR as the file's lines.
    expect(upsert("[gw]\raws_session_token = OLD\rregion = x\raws_access_key_id = OLD")).toBe(
      "[gw]\raws_session_token = newtoken==\rregion = x\raws_access_key_id = ASIANEW\raws_secret_access_key = newsecret/+=\r",
    );
  });
});
