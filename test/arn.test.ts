/** The ARN checks' refusals that name the part at fault. */
import { describe, expect, it } from "vitest";
import { parseProfileArn, parseRoleArn } from "../src/arn.js";

const refusal = (ending: string) =>
  expect.objectContaining({ code: "ARN_INVALID", message: expect.stringMatching(`': ${ending}$`) });
const profile = (region: string, account: string) => `arn:aws:rolesanywhere:${region}:${account}:profile/p`;

describe("ARN refusals name what is wrong", () => {
  it("a Roles Anywhere ARN with an empty region or account section", () => {
    expect(() => parseProfileArn(profile("", "111122223333"))).toThrow(refusal("the region section is empty"));
    expect(() => parseProfileArn(profile("us-east-1", ""))).toThrow(refusal("the account section is empty"));
  });

  it("a role ARN whose path is longer than 512 characters, or whose name is not valid", () => {
    const role = (path: string, name = "device") => `arn:aws:iam::111122223333:role/${path}${name}`;
    expect(() => parseRoleArn(role("p/".repeat(257)))).toThrow(refusal("the path is longer than 512 characters"));
    expect(parseRoleArn(role("p/".repeat(255)))).toBe(role("p/".repeat(255)));
    expect(() => parseRoleArn(role("", "dev!ce"))).toThrow(refusal("the role name 'dev!ce' is not valid"));
  });
});
