import { describe, expect, it } from "vitest";
import { editDistance, nearestNames } from "../../src/nearest-names.js";
import { FOREIGN_FLAGS, unknownFlagHint } from "../../src/cli/flag-suggestions.js";
import { SESSION_OPTIONS, SIGNER_OPTIONS } from "../../src/cli/shared-options.js";
import { checkKnownRegion } from "../../src/rolesanywhere/region.js";
import { prepareCreateSession } from "../../src/rolesanywhere/signed-request.js";
import { refusePemText, readInputFile } from "../../src/io/input-file.js";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { COMMANDS } from "../../src/cli/commands/index.js";

const flags = [...SIGNER_OPTIONS, ...SESSION_OPTIONS].map((o) => o.name);

describe("did you mean", () => {
  it("edit distance counts a swap of neighbours as one edit", () => {
    expect(editDistance("certificate", "certificate")).toBe(0);
    expect(editDistance("certifcate", "certificate")).toBe(1);
    expect(editDistance("cretificate", "certificate")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("a name far longer than any candidate is answered without building its table (hostile 2,000,000 characters)", () => {
    expect(editDistance("a".repeat(50), "abc", 5)).toBe(6);
    expect(editDistance("certifcate", "certificate", 1)).toBe(1);
    // Before the bound, each candidate cost a 2,000,001-row table: tens of seconds here, past the test's timeout.
    const hostile = "x".repeat(2_000_000);
    expect(nearestNames(hostile, flags)).toEqual([]);
    expect(nearestNames(`certificate${hostile}`, flags)).toEqual(["certificate"]); // still a prefix
  });

  it("nearest names: typos and prefixes, nothing for unrelated words", () => {
    expect(nearestNames("certifcate", flags)).toEqual(["certificate"]);
    expect(nearestNames("role-arm", flags)[0]).toBe("role-arn");
    expect(nearestNames("trust-anchor", flags)).toEqual(["trust-anchor-arn"]);
    expect(nearestNames("zzzzzz", flags)).toEqual([]);
  });

  it("other tools' spellings map to our flags, typos to the nearest", () => {
    expect(unknownFlagHint("pkcs11-pin", flags)).toBe("did you mean --pkcs11-pin-file or --pkcs11-pin-env?");
    expect(unknownFlagHint("module", flags)).toBe("did you mean --pkcs11-lib?");
    expect(unknownFlagHint("insecure", flags)).toBe("did you mean --no-verify-ssl?");
    expect(unknownFlagHint("certficate", flags)).toBe("did you mean --certificate?");
    expect(unknownFlagHint("port", flags)).toBeUndefined();
    expect(unknownFlagHint("qqqq", flags)).toBeUndefined();
  });

  it("every foreign spelling points at flags that exist on some command", async () => {
    const all = new Set((await Promise.all(Object.values(COMMANDS).map((l) => l()))).flatMap((s) => s.options.map((o) => o.name)));
    for (const targets of Object.values(FOREIGN_FLAGS)) for (const t of targets) expect(all.has(t.split(" ")[0]!), t).toBe(true);
  });
});

describe("regions", () => {
  const params = (region?: string) => ({
    trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/t"),
    profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/p"),
    roleArn: parseRoleArn("arn:aws:iam::111122223333:role/r"),
    durationSeconds: 3600,
    ...(region ? { region } : {}),
  });

  it("an unknown region is refused with the nearest real names (no network: prepareCreateSession is pure)", () => {
    expect(() => prepareCreateSession(params("us-east1"), { env: {} })).toThrow(/^'us-east1' is not an AWS region$/);
    try {
      checkKnownRegion("eu-centrall-1x", "eu-centrall-1x");
    } catch (e) {
      expect((e as { code: string }).code).toBe("REGION_UNKNOWN");
    }
    try {
      prepareCreateSession(params("us-east1"), { env: {} });
    } catch (e) {
      expect((e as { hint: string }).hint).toMatch(/^did you mean us-east-1 or us-east-2\?/);
      expect((e as { category: string }).category).toBe("input");
    }
  });

  it("known regions, FIPS names, regions a partition pattern admits, and any region with an endpoint of one's own pass", () => {
    for (const r of ["us-east-1", "cn-north-1", "us-gov-west-1", "fips-us-east-1", "mx-central-1", "ap-southeast-9"]) {
      expect(() => prepareCreateSession(params(r), { env: {} }), r).not.toThrow();
    }
    expect(() => prepareCreateSession(params("local"), { env: {}, endpoint: "http://127.0.0.1:8080" })).not.toThrow();
    expect(() => prepareCreateSession(params("local"), { env: { AWS_ENDPOINT_URL_ROLESANYWHERE: "http://127.0.0.1:8080" } })).not.toThrow();
  });
});

describe("options in the wrong argument", () => {
  it("endpoint among the session parameters is refused, not silently ignored (the request would go to AWS)", () => {
    const params = {
      trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/t"),
      profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/p"),
      roleArn: parseRoleArn("arn:aws:iam::111122223333:role/r"),
      durationSeconds: 3600,
      endpoint: "http://127.0.0.1:8080",
    };
    expect(() => prepareCreateSession(params, { env: {} })).toThrow(/^endpoint was given with the session parameters \(ARNs, duration\), where it would be ignored$/);
  });
});

describe("PEM text where a path belongs", () => {
  const pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

  it("is recognised and explained without echoing the text", async () => {
    expect(() => refusePemText(pem, "private key file")).toThrow(/^the private key file was given as PEM text \(a "PRIVATE KEY" block\), not as the path of a file$/);
    const e = (await readInputFile(pem, "certificate file").catch((x: unknown) => x)) as { code: string; toOneLine(): string };
    expect(e.code).toBe("PEM_TEXT_NOT_PATH");
    expect(e.toOneLine()).not.toContain("MIGHAgEA");
    expect(() => refusePemText("/etc/ssl/cert.pem", "certificate file")).not.toThrow();
  });
});

describe("nearestNames: its rules at their edges", () => {
  it("the distance to or from an empty name is the other's length", () => {
    expect(editDistance("abc", "")).toBe(3);
    expect(editDistance("", "ab")).toBe(2);
    expect(editDistance("xabc", "abc")).toBe(1);
  });

  it("a prefix counts from 3 characters, the word as the candidate's start or the other way round", () => {
    expect(nearestNames("cert", ["certificate", "region"])).toEqual(["certificate"]);
    expect(nearestNames("reg", ["region"])).toEqual(["region"]);
    expect(nearestNames("re", ["region"])).toEqual([]);
    expect(nearestNames("regions-list", ["region"])).toEqual(["region"]);
    expect(nearestNames("tificate", ["certificate"])).toEqual([]); // an ending is no prefix
  });

  it("a prefix one edit away ranks with the other one-edit names (by name), at most three of them", () => {
    expect(nearestNames("role", ["rolf", "roles"])).toEqual(["roles", "rolf"]);
    expect(nearestNames("aaaa", ["aaae", "aaab", "aaad", "aaac"])).toEqual(["aaab", "aaac", "aaad"]);
  });
});
