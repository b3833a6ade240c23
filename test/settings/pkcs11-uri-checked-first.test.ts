/**
 * A pkcs11: URI that does not parse is a wrong setting like any other: refused when the settings are made (a config
 * file when it is read), naming the field, on every path. Before, it passed: its pin-value (a common slip writes it in
 * the path, `…;object=key;pin-value=1234`) stayed in the settings' text for the daemon's life, and a config file
 * holding it was not judged a secret file (no "pin-value in config file" warning, though others could read it).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import type { AgentError } from "../../src/errors.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { credentialSettings, FLAG_ORIGIN, inputFromFlags } from "../../src/settings/credential-settings.js";

const TA = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta-1";
const PA = "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/pr-1";
const RA = "arn:aws:iam::123456789012:role/Gateway";
const flags = { certificate: "/c.pem", "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": RA };
const options = { certificate: "/c.pem", trustAnchorArn: TA, profileArn: PA, roleArn: RA };
const dir = mkdtempSync(join(tmpdir(), "raa-uri-first-"));
chmodSync(dir, 0o700);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PIN = "97531864";
const BAD = [
  `pkcs11:token=gw;object=key;pin-value=${PIN}`, // in the path
  `pkcs11:token=gw;object=key?pin-value=${PIN}&pin-source=/run/pin`, // both
  `pkcs11:token=gw;object=key;bogus=1?pin-value=${PIN}`, // an unknown attribute
  `pkcs11:token=gw;object=key?pin-value=${PIN}%zz`, // a bad escape
];

const thrown = async (f: () => unknown): Promise<AgentError> => {
  try {
    await f();
  } catch (error) {
    return error as AgentError;
  }
  throw new Error("did not throw");
};

describe("a pkcs11: URI that does not parse, refused with the settings", () => {
  it.each(BAD)("%s", async (uri) => {
    const path = join(dir, `c${BAD.indexOf(uri)}.json`);
    writeFileSync(path, JSON.stringify({ profiles: { gw: { ...flags, "private-key": uri } } }), { mode: 0o644 });
    chmodSync(path, 0o644);
    const errors = [
      await thrown(() => loadConfig(path, {})),
      await thrown(() => credentialSettings(inputFromFlags({ ...flags, "private-key": uri }), FLAG_ORIGIN)),
      await thrown(() => credentialSettingsFromOptions({ ...options, privateKey: uri })),
    ];
    // Before: the config loaded without a word and the settings were made, the URI's text (its PIN) kept in them.
    expect(errors.map((e) => e.code)).toEqual(["CONFIG_INVALID", "PKCS11_URI_INVALID", "PKCS11_URI_INVALID"]);
    expect(errors[0]!.message).toMatch(/profile "gw": field "private-key" is not valid: invalid pkcs11: URI: /);
    for (const error of errors) expect(`${error.message} ${error.hint}`).not.toContain(PIN);
  });

  it("as the certificate too", () => {
    const error = (() => {
      try {
        credentialSettingsFromOptions({ ...options, certificate: BAD[0]! });
      } catch (e) {
        return e as AgentError;
      }
      return undefined;
    })();
    expect(error?.code).toBe("PKCS11_URI_INVALID");
    expect(error?.message).not.toContain(PIN);
  });
});
