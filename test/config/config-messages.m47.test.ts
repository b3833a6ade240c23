/**
 * parseConfig's words for a wrong profile field, each a Stryker survivor of round 43 (M47, parse-config.ts 106-140):
 * a number is quoted as JavaScript prints it (1e400 as Infinity, where JSON.stringify says null), an unknown field
 * with no near name points to the docs, and a secret field's wrong value is not echoed and nothing stands in its place.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse-config.js";

const TA = "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta";
const PA = "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p";
const RA = "arn:aws:iam::111122223333:role/device";
const profile = (extra: string) => `{"profiles":{"p":{"certificate":"/c.pem","trust-anchor-arn":"${TA}","profile-arn":"${PA}","role-arn":"${RA}",${extra}}}}`;
const refusal = (json: string) => {
  try {
    parseConfig(json, "/c.json");
  } catch (error) {
    const { code, message, hint } = error as { code: string; message: string; hint?: string };
    return { code, message, hint };
  }
  return undefined;
};

describe("parseConfig's words for a wrong profile field", () => {
  it("a number too large for a double is quoted as Infinity, not JSON's null", () => {
    expect(refusal(profile('"region":1e400'))?.message).toBe('config /c.json: profile "p": field "region" must be a non-empty string (got Infinity)');
    expect(refusal(profile('"region":-1e400'))?.message).toBe('config /c.json: profile "p": field "region" must be a non-empty string (got -Infinity)');
  });

  it("an unknown field like no known one points to the docs", () => {
    expect(refusal(profile('"qqqqqqqqqqqqqqqqqqqq":true'))).toEqual({
      code: "CONFIG_INVALID",
      message: 'config /c.json: profile "p": unknown field "qqqqqqqqqqqqqqqqqqqq"',
      hint: "see docs/long-running.md for the fields",
    });
  });

  it("a secret field's number (maybe a PIN) is neither echoed nor replaced by other words", () => {
    expect(refusal(profile('"pkcs11-pin":123456'))?.message).toBe('config /c.json: profile "p": field "pkcs11-pin" must be a non-empty string');
  });
});
