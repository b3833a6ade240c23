/**
 * The settings module's own rules, checked directly: the bounds of each number, the mapping of a record to signer
 * options, flag records (seconds, --no-verify-ssl, the TPM password pair) and the fingerprint that decides a reload.
 * Each test here was written because a mutation of the line it names went unnoticed by the other tests.
 */
import { describe, expect, it, vi } from "vitest";
import { Secret } from "../../src/secrets/secret.js";
import { heldSecret } from "../../src/secrets/secret-source.js";
import {
  checkSettingsFields,
  credentialSettings,
  FLAG_ORIGIN,
  inputFromFlags,
  mergeFlagRecords,
  profileOrigin,
  settingsFingerprint,
  signerOptions,
  type SettingsInput,
} from "../../src/settings/credential-settings.js";

const TA = "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta";
const PA = "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p";
const RA = "arn:aws:iam::111122223333:role/device";
const BASE: SettingsInput = { certificate: "c.pem", trustAnchorArn: TA, profileArn: PA, roleArn: RA };

const env = (name: string) => ({ kind: "env", name }) as const;
const check = (input: SettingsInput) => () => checkSettingsFields(input, FLAG_ORIGIN);

describe("the bounds of the numbers", () => {
  it("--max-attempts is a whole number from 1 to 10, both ends included", () => {
    for (const ok of [1, 10]) expect(check({ maxAttempts: ok })).not.toThrow();
    for (const wrong of [0, 11, 1.5, -1]) {
      expect(check({ maxAttempts: wrong })).toThrow(
        expect.objectContaining({ code: "USAGE", message: `--max-attempts must be a whole number from 1 to 10 (got ${wrong})` }),
      );
    }
  });

  it("--connect-timeout and --timeout are whole seconds from 1 to 3600, judged by inputFromFlags before it makes them milliseconds, both ends exact", () => {
    for (const [field, flag] of [["connectTimeoutMs", "connect-timeout"], ["timeoutMs", "timeout"]] as const) {
      expect(check({ [field]: 1500 })).not.toThrow(); // milliseconds here: a whole number of them (the SDK's rule)
      for (const [ok, ms] of [[1, 1000], [3600, 3_600_000], [undefined, undefined]] as const) expect(inputFromFlags({ [flag]: ok })[field]).toBe(ms);
      for (const wrong of [0, -1, 3601, 1.5]) {
        expect(() => inputFromFlags({ [flag]: wrong })).toThrow(`--${flag} must be a whole number from 1 to 3600 (got ${wrong})`);
      }
    }
  });

});

describe("a record as signer options", () => {
  it("maps every signer field, and a boolean is true only when given as true", () => {
    const [pin, pw, ctx, kp, pp] = ["PIN", "PW", "CTX", "KP", "PP"].map(env);
    const input: SettingsInput = {
      certificate: "c.pem", privateKey: "k.pem", intermediates: "i.pem", keyPassword: pw,
      pkcs11Library: "softhsm2", pkcs11Pin: pin, pkcs11ContextPin: ctx, reusePin: true,
      tpmDevice: "/dev/tpmrm1", tpmKeyPassword: kp, tpmParentPassword: pp,
      noTpmKeyPassword: true, tpmIgnoreEmptyAuth: true,
    };
    expect(signerOptions(input)).toEqual({
      certificate: "c.pem", privateKey: "k.pem", intermediates: "i.pem", keyPassword: pw,
      pkcs11: { library: "softhsm2", pin, contextPin: ctx, reusePin: true },
      tpm: { device: "/dev/tpmrm1", keyPassword: kp, parentPassword: pp, noKeyPassword: true, ignoreEmptyAuth: true },
    });
    expect(signerOptions({ certificate: "c.pem" })).toEqual({
      certificate: "c.pem", pkcs11: { reusePin: false }, tpm: { noKeyPassword: false },
    });
  });

  it("an empty path or library means not given (as an unset \"$VAR\" in the Go helper's flags)", () => {
    const input: SettingsInput = {
      certificate: "", privateKey: "", intermediates: "", pkcs11Library: "", tpmDevice: "",
    };
    expect(signerOptions(input)).toEqual({ pkcs11: { reusePin: false }, tpm: { noKeyPassword: false } });
  });

  it("an empty endpoint or CA bundle means not given in the endpoint options", () => {
    const settings = credentialSettings({ ...BASE, endpoint: "", caBundle: "", region: "" }, FLAG_ORIGIN);
    expect(settings.endpoint).toEqual({});
    expect(settings.session).toEqual({ trustAnchorArn: TA, profileArn: PA, roleArn: RA, durationSeconds: 3600 });
  });
});

describe("flag records", () => {
  it("seconds become milliseconds and --no-verify-ssl becomes verifyTls: false", () => {
    const input = inputFromFlags({ "connect-timeout": 5, timeout: 20, "no-verify-ssl": true });
    expect(input).toMatchObject({ connectTimeoutMs: 5000, timeoutMs: 20_000, verifyTls: false });
    const none = inputFromFlags({});
    expect([none.connectTimeoutMs, none.timeoutMs, none.verifyTls]).toEqual([undefined, undefined, undefined]);
  });

  it("either TPM key password flag replaces both of the profile's, and only those", () => {
    const profile = { "tpm-key-password": env("KP"), "no-tpm-key-password": true, "role-arn": RA };
    const flag = { "tpm-key-password": env("F") };
    expect(mergeFlagRecords({ "no-tpm-key-password": true }, flag)).toEqual(flag);
    expect(mergeFlagRecords({ "tpm-key-password": env("KP") }, { "no-tpm-key-password": true })).toEqual({
      "no-tpm-key-password": true,
    });
    expect(mergeFlagRecords(profile, { timeout: 3 })).toEqual({ ...profile, timeout: 3 });
    expect(mergeFlagRecords(profile, flag)).toEqual({ "role-arn": RA, ...flag }); // the rest of the profile stays
  });
});

describe("the fingerprint that decides whether a reload changed a profile", () => {
  const settings = credentialSettings(BASE, FLAG_ORIGIN, { env: { AWS_REGION: "eu-west-1" } });

  it("leaves out the environment and functions, and changes with any setting", () => {
    const again = credentialSettings(BASE, FLAG_ORIGIN, { env: { AWS_REGION: "us-west-2" }, debug: () => undefined });
    expect(settingsFingerprint(again)).toBe(settingsFingerprint(settings));
    expect(settingsFingerprint(settings)).not.toContain("AWS_REGION");
    const other = credentialSettings({ ...BASE, durationSeconds: 900 }, FLAG_ORIGIN);
    expect(settingsFingerprint(other)).not.toBe(settingsFingerprint(settings));
    expect(JSON.parse(settingsFingerprint(settings))).toMatchObject({
      session: { roleArn: RA }, signer: { certificate: "c.pem" },
    });
  });
});

describe("what a missing setting says", () => {
  it("on the command line: the flag, and how to give all three ARNs", () => {
    expect(() => credentialSettings({ ...BASE, roleArn: undefined }, FLAG_ORIGIN)).toThrow(
      expect.objectContaining({
        code: "USAGE",
        message: "--role-arn is required",
        hint: "give --trust-anchor-arn, --profile-arn and --role-arn (or --profile NAME with a config file)",
      }),
    );
  });

  it("in a profile: no key at all, named with the fields to add", () => {
    const origin = profileOrigin('config c.json: profile "p"');
    expect(() => credentialSettings({ ...BASE, certificate: undefined }, origin)).toThrow(
      expect.objectContaining({
        code: "CONFIG_INVALID",
        message: 'config c.json: profile "p" has neither "certificate" nor "private-key"',
        hint: 'add "certificate" (and "private-key" when the key is elsewhere) to the profile',
      }),
    );
    expect(() => credentialSettings({ ...BASE, profileArn: undefined }, origin)).toThrow(
      expect.objectContaining({ hint: 'add "profile-arn" to the profile or pass --profile-arn' }),
    );
  });
});

describe("signerOptions: a pkcs11: URI's pin-value (round 43, M47: Stryker survivors on lines 145-147)", () => {
  const key = "pkcs11:object=key;token=gw?pin-value=1234";
  const cert = "pkcs11:object=cert;token=gw?pin-value=5678";
  const pinOf = (options: ReturnType<typeof signerOptions>) => heldSecret(options.pkcs11?.uriPin);

  it("is taken out of the key's URI text and held as bytes of kind value", () => {
    const options = signerOptions({ ...BASE, privateKey: key });
    expect(options.privateKey).toBe("pkcs11:object=key;token=gw");
    expect(options.pkcs11?.uriPin).toMatchObject({ kind: "value" });
    expect(pinOf(options)?.reveal()).toBe("1234");
  });

  it("of the certificate's URI alone, is the PIN (not wiped for a key that has none)", () => {
    const options = signerOptions({ ...BASE, certificate: cert, privateKey: "pkcs11:object=key;token=gw" });
    expect(options.certificate).toBe("pkcs11:object=cert;token=gw");
    expect(pinOf(options)?.reveal()).toBe("5678");
  });

  it("of both: the key's wins, the certificate's bytes are wiped", () => {
    const wipe = vi.spyOn(Secret.prototype, "wipe");
    try {
      const options = signerOptions({ ...BASE, certificate: cert, privateKey: key });
      expect([options.privateKey, options.certificate]).toEqual(["pkcs11:object=key;token=gw", "pkcs11:object=cert;token=gw"]);
      expect(pinOf(options)?.reveal()).toBe("1234");
      expect(wipe).toHaveBeenCalledTimes(1);
    } finally {
      wipe.mockRestore();
    }
  });
});
