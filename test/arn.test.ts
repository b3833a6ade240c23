/** The ARN checks' refusals that name the part at fault. */
import { describe, expect, it } from "vitest";
import { checkedRegionOf, parseArn, parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../src/arn.js";

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

const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as { code: string; message: string; hint?: string };
  }
  throw new Error("expected a refusal");
};

describe("parseArn", () => {
  it("splits the six sections; the resource keeps its colons", () => {
    expect(parseArn("arn:aws-cn:s3:cn-north-1:111122223333:a:b/c:d")).toEqual({
      partition: "aws-cn", service: "s3", region: "cn-north-1", accountId: "111122223333", resource: "a:b/c:d",
    });
    expect(parseArn("arn:aws:iam::111122223333:role/r")).toMatchObject({ region: "", accountId: "111122223333", resource: "role/r" });
  });

  it("refuses each malformed shape with what is wrong, naming the ARN by what it is", () => {
    const cases: [string, string][] = [
      ["urn:aws:iam::1:role/r", "invalid ARN 'urn:aws:iam::1:role/r': an ARN starts with 'arn:'"],
      ["arn:aws:iam::role/r", "invalid ARN 'arn:aws:iam::role/r': expected arn:partition:service:region:account:resource"],
      ["arn:aws:iam:role/r", "invalid ARN 'arn:aws:iam:role/r': expected arn:partition:service:region:account:resource"],
      ["arn:aws:iam", "invalid ARN 'arn:aws:iam': expected arn:partition:service:region:account:resource"],
      ["arn::iam::1:role/r", "invalid ARN 'arn::iam::1:role/r': partition, service and resource must not be empty"],
      ["arn:aws:::1:role/r", "invalid ARN 'arn:aws:::1:role/r': partition, service and resource must not be empty"],
      ["arn:aws:iam::1:", "invalid ARN 'arn:aws:iam::1:': partition, service and resource must not be empty"],
    ];
    for (const [text, message] of cases) expect(refused(() => parseArn(text)), text).toMatchObject({ code: "ARN_INVALID", message });
  });

  it("names an unprintable character by its position and code point, never quoting the text", () => {
    const error = refused(() => parseRoleArn("arn:aws:iam::1 11:role/\u001b[2J"));
    expect(error).toMatchObject({ code: "ARN_INVALID", message: "invalid role ARN: character 15 is U+0020" });
    expect(error.hint).toBe("an ARN is printable ASCII, without spaces or control characters: copy it again");
  });

  it("refuses more than 2,048 characters by their number, and takes 2,048", () => {
    const arn = (length: number) => `arn:aws:s3:::${"b".repeat(length - 13)}`;
    expect(parseArn(arn(2048)).resource).toHaveLength(2035);
    expect(refused(() => parseArn(arn(2049)))).toMatchObject({ code: "ARN_INVALID", message: "invalid ARN: 2049 characters, more than an ARN's 2048" });
  });

  it("from plain JavaScript, a value that is not a string is a USAGE error", () => {
    expect(refused(() => parseArn(5 as unknown as string, "role ARN"))).toMatchObject({ code: "USAGE", message: "the role ARN must be a string" });
  });
});

describe("Roles Anywhere and role ARNs", () => {
  const ta = (resource: string, service = "rolesanywhere") => `arn:aws:${service}:us-east-1:111122223333:${resource}`;

  it("a trust anchor or profile ARN: the service, the kind and an id of letters, digits, _ and -", () => {
    expect(parseTrustAnchorArn(ta("trust-anchor/a-1_b"))).toBe(ta("trust-anchor/a-1_b"));
    expect(parseProfileArn(ta("profile/p"))).toBe(ta("profile/p"));
    const resource = (kind: string) => `resource must be '${kind}/<id>', the id of letters, digits, _ and -`;
    const cases: [() => unknown, string][] = [
      [() => parseTrustAnchorArn(ta("trust-anchor/t", "iam")), `invalid trust anchor ARN '${ta("trust-anchor/t", "iam")}': service is 'iam', expected 'rolesanywhere'`],
      [() => parseTrustAnchorArn(ta("profile/t")), `invalid trust anchor ARN '${ta("profile/t")}': ${resource("trust-anchor")}`],
      [() => parseProfileArn(ta("profile/")), `invalid profile ARN '${ta("profile/")}': ${resource("profile")}`],
      [() => parseProfileArn(ta("profile/.p")), `invalid profile ARN '${ta("profile/.p")}': ${resource("profile")}`],
      [() => parseProfileArn(ta("profile/p.")), `invalid profile ARN '${ta("profile/p.")}': ${resource("profile")}`],
      [() => parseProfileArn(ta("profile/a/b")), `invalid profile ARN '${ta("profile/a/b")}': ${resource("profile")}`],
      [() => parseProfileArn(ta("xprofile/p")), `invalid profile ARN '${ta("xprofile/p")}': ${resource("profile")}`],
      [() => parseProfileArn(ta("profilx/p")), `invalid profile ARN '${ta("profilx/p")}': ${resource("profile")}`],
      [() => checkedRegionOf("arn:aws:rolesanywhere::1:trust-anchor/t", "trust-anchor"), "invalid trust anchor ARN 'arn:aws:rolesanywhere::1:trust-anchor/t': the region section is empty"],
      [() => checkedRegionOf("arn:aws:rolesanywhere::1:profile/p", "profile"), "invalid profile ARN 'arn:aws:rolesanywhere::1:profile/p': the region section is empty"],
      [() => parseProfileArn("x"), "invalid profile ARN 'x': an ARN starts with 'arn:'"],
    ];
    for (const [fn, message] of cases) expect(refused(fn), message).toMatchObject({ code: "ARN_INVALID", message });
    expect(checkedRegionOf(ta("profile/p"), "profile")).toBe("us-east-1");
  });

  it("a role ARN: iam, an account and role/; a path of at most 512 characters", () => {
    const expected = "expected arn:<partition>:iam::<account>:role/<name>";
    for (const text of ["arn:aws:sts::111122223333:role/r", "arn:aws:iam:::role/r", "arn:aws:iam::111122223333:user/r"]) {
      expect(refused(() => parseRoleArn(text)), text).toMatchObject({ code: "ARN_INVALID", message: `invalid role ARN '${text}': ${expected}` });
    }
    expect(refused(() => parseRoleArn("arn:aws:iam::1:"))).toMatchObject({ message: expect.stringMatching(/^invalid role ARN 'arn:aws:iam::1:'/) });
    const role = (path: string) => `arn:aws:iam::111122223333:role/${path}device`;
    expect(parseRoleArn(role(`${"p".repeat(510)}/`))).toBe(role(`${"p".repeat(510)}/`)); // the path /p…p/: 512
    const long = refused(() => parseRoleArn(role(`${"p".repeat(511)}/`)));
    expect(long.message).toMatch(/the path is longer than 512 characters$/);
    expect(long.hint).toBe("a role name is 1 to 64 letters, digits and _+=,.@- after role/ and an optional /path/");
  });
});
