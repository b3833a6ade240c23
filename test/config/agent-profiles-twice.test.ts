/**
 * A profile listed twice in the config's `agent.profiles` would be served by two sources of one name (read in
 * src/credentials/source-registry.ts: both opened, two logins on the token or a prompt asked twice, the first replaced
 * in the registry without being closed, its session or TPM connection held for the agent's life). Refused when the
 * file is read.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse-config.js";

const gw = {
  certificate: "/c.pem",
  "trust-anchor-arn": "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta-1",
  "profile-arn": "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/pr-1",
  "role-arn": "arn:aws:iam::123456789012:role/Gateway",
};

describe('"agent": "profiles" with a name twice', () => {
  it("is CONFIG_INVALID naming it (before: taken as given)", () => {
    const text = JSON.stringify({ profiles: { gw, other: gw }, agent: { profiles: ["gw", "other", "gw"] } });
    expect(() => parseConfig(text, "/c.json")).toThrow(expect.objectContaining({
      code: "CONFIG_INVALID", message: 'config /c.json: "agent": profile "gw" is listed twice',
    }));
  });

  it("each name once is taken as before", () => {
    const text = JSON.stringify({ profiles: { gw, other: gw }, agent: { profiles: ["other", "gw"] } });
    expect(parseConfig(text, "/c.json").agent.profiles).toEqual(["other", "gw"]);
  });
});

describe("a profile named twice on the command line (agent --profile, serve --profile)", () => {
  it("is a USAGE error before any profile's settings are made (before: two settings of one name)", async () => {
    const { eachProfileSettings } = await import("../../src/config/resolve-profile.js");
    const built: string[] = [];
    const build = (name: string) => (built.push(name), {} as never);
    expect(() => eachProfileSettings(["gw", "other", "gw"], build)).toThrow(expect.objectContaining({
      code: "USAGE", message: 'profile "gw" is named twice',
    }));
    expect(() => eachProfileSettings(["gw", "gw"], build)).toThrow('profile "gw" is named twice');
    expect(built).toEqual([]);
    expect(eachProfileSettings(["gw", "other"], build)).toHaveLength(2);
  });
});
