/**
 * One home for settings: a wrong value in a config profile gets the same hint as the same value given as a flag or
 * an SDK option (the parser's own: what a region, an endpoint, an ARN looks like).
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse-config.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { credentialSettings, FLAG_ORIGIN, inputFromFlags } from "../../src/settings/credential-settings.js";
import { thrown } from "../helpers/agent-error.js";

const TA = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta-1";
const PA = "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/pr-1";
const RA = "arn:aws:iam::123456789012:role/Gateway";
const flags = { certificate: "/c.pem", "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": RA };
const options = { certificate: "/c.pem", trustAnchorArn: TA, profileArn: PA, roleArn: RA };

describe("a wrong value's hint, on each path", () => {
  it.each([
    ["region", "region", "Us-East-1"],
    ["endpoint", "endpoint", "ftp://rolesanywhere.example"],
    ["endpoint", "endpoint", "https://user:pw@rolesanywhere.example"],
    ["role-arn", "roleArn", "arn:aws:iam::123456789012:user/Gateway"],
  ])("%s %s", (flag, option, value) => {
    const fromFlag = thrown(() => credentialSettings(inputFromFlags({ ...flags, [flag]: value }), FLAG_ORIGIN));
    const fromOption = thrown(() => credentialSettingsFromOptions({ ...options, [option]: value }));
    const fromConfig = thrown(() => parseConfig(JSON.stringify({ profiles: { gw: { ...flags, [flag]: value } } }), "/c.json"));
    expect(fromConfig.code).toBe("CONFIG_INVALID");
    // Before: the config's error had no hint (the parser's was dropped), the flag's and the option's had it.
    expect([fromConfig.hint, fromOption.hint]).toEqual([fromFlag.hint, fromFlag.hint]);
  });
});
