import { afterAll, describe, expect, it, vi } from "vitest";
import {
  chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync,
  symlinkSync, truncateSync, writeFileSync,
} from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/parse-config.js";
import { defaultConfigPath, loadConfig } from "../../src/config/load-config.js";
import { findProfile, profileCredentialSettings } from "../../src/config/resolve-profile.js";
import { flagRecordFromArgs, settingsFromArgs, signerOptionsFromArgs } from "../../src/cli/settings-args.js";
import { heldSecret, SOURCE_VALUED_SECRETS } from "../../src/secrets/secret-source.js";
import { Secret } from "../../src/secrets/secret.js";
import { copiesHolding } from "../helpers/copies-made.js";
import { inputFromFlags, mergeFlagRecords, SETTINGS_FIELDS } from "../../src/settings/credential-settings.js";
import type { ParsedArgs } from "../../src/cli/command.js";
import type { AgentError } from "../../src/errors.js";
import { parseCommandArgs } from "../../src/cli/parse-args.js";
import { CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS } from "../../src/cli/shared-options.js";

const TA = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta-1";
const PA = "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/pr-1";
const RA = "arn:aws:iam::123456789012:role/Gateway";

const gateway = {
  certificate: "certs/gw.pem",
  "private-key": "pkcs11:token=gw;object=key?module-path=/usr/lib/softhsm/libsofthsm2.so",
  "trust-anchor-arn": TA,
  "profile-arn": PA,
  "role-arn": RA,
  "session-duration": 900,
  "pkcs11-pin": "file:pin.txt",
  "role-session-name": "gw-1",
};

/** The line the CLI prints for the error `fn` throws (message and hint). */
function oneLine(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as AgentError).toOneLine();
  }
  return "(no error)";
}

function configText(profiles: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ version: 1, profiles, ...extra });
}

const spec = {
  name: "credential-process",
  describe: "",
  options: [...SIGNER_OPTIONS, ...SESSION_OPTIONS, { name: "profile", type: "string" as const, description: "" }],
  conflicts: CREDENTIAL_CONFLICTS,
  run: async () => 0,
};
const argv = (...a: string[]): ParsedArgs => parseCommandArgs(spec, a);
const io = { stdout: process.stdout, stderr: process.stderr, env: {} };

describe("parseConfig", () => {
  it("accepts named profiles and resolves relative paths against the file's directory", () => {
    const config = parseConfig(configText({ gateway }, { agent: { socket: "~/agent.sock", profiles: ["gateway"] } }), "/etc/raa/config.json", "/home/u");
    const gw = findProfile(config, "gateway");
    expect(gw.certificate).toBe("/etc/raa/certs/gw.pem");
    expect(gw["private-key"]).toBe(gateway["private-key"]);
    expect(gw["pkcs11-pin"]).toEqual({ kind: "file", path: "/etc/raa/pin.txt" });
    expect(gw["session-duration"]).toBe(900);
    expect(config.agent).toEqual({ socket: "/home/u/agent.sock", profiles: ["gateway"] });
  });

  it("keeps a handle: key as written and reads HANDLE: as the file name it is everywhere else (and in the Go helper)", () => {
    const key = (ref: string) => findProfile(parseConfig(configText({ g: { ...gateway, "private-key": ref } }), "/etc/raa/config.json"), "g")["private-key"];
    expect(key("handle:0x81000001")).toBe("handle:0x81000001");
    expect(key("PKCS11:token=gw;object=key")).toBe("PKCS11:token=gw;object=key"); // a URI scheme is case-insensitive
    // The signer, doctor, keygen and install-certificate take only "handle:" as a TPM handle: this is a file of the
    // config's directory, not one of the directory the command runs in.
    expect(key("HANDLE:0x81000001")).toBe("/etc/raa/HANDLE:0x81000001");
  });

  it.each([
    [{ gateway: { ...gateway, "sesion-duration": 900 } }, /profile "gateway": unknown field "sesion-duration".*did you mean "session-duration"/],
    // The rule of the command line's suggestions (nearest-names.ts): a prefix suggests the field it starts.
    [{ gateway: { ...gateway, cert: "c.pem" } }, /profile "gateway": unknown field "cert".*did you mean "certificate"/],
    [{ gateway: { ...gateway, "session-duration": "1h" } }, /profile "gateway": field "session-duration" must be a number/],
    [{ gateway: { ...gateway, "session-duration": 60 } }, /profile "gateway": field "session-duration" must be a whole number from 900 to 43200 \(got 60\)/],
    [{ gateway: { ...gateway, "max-attempts": 11 } }, /field "max-attempts" must be a whole number from 1 to 10 \(got 11\)/],
    [{ gateway: { ...gateway, timeout: 0 } }, /field "timeout" must be a whole number from 1 to 3600 \(got 0\)/],
    [{ gateway: { ...gateway, region: "Not A Region" } }, /field "region" is not valid: 'Not A Region' is not a region name/],
    [{ gateway: { ...gateway, "role-arn": "arn:aws:iam::1:user/x" } }, /profile "gateway": field "role-arn" is not valid/],
    [{ gateway: { ...gateway, "trust-anchor-arn": PA } }, /field "trust-anchor-arn" is not valid/],
    [{ gateway: { ...gateway, "reuse-pin": "yes" } }, /field "reuse-pin" must be true or false/],
    [{ gateway: { ...gateway, endpoint: "localhost:8080" } }, /field "endpoint" is not valid: invalid endpoint 'localhost:8080'/],
    [{ gateway: { ...gateway, certificate: "" } }, /field "certificate" must be a non-empty string/],
    [{ "bad name": gateway }, /profile name "bad name" is not allowed/],
    [{ gateway: "x" }, /profile "gateway" must be an object/],
  ])("names the profile and field of an invalid entry (%#)", (profiles, message) => {
    expect(oneLine(() => parseConfig(configText(profiles), "/c.json"))).toMatch(message);
    try {
      parseConfig(configText(profiles), "/c.json");
    } catch (e) {
      expect(e).toMatchObject({ code: "CONFIG_INVALID" });
    }
  });

  it("quotes a wrong value or name as it is, and briefly: 1e400 as Infinity (was null), 100,000 characters as 60", () => {
    const infinite = configText({ gateway }).replace('"session-duration":900', '"session-duration":1e400');
    expect(infinite).toContain("1e400");
    expect(oneLine(() => parseConfig(infinite, "/c.json"))).toMatch(/field "session-duration" must be a whole number from 900 to 43200 \(got Infinity\)/);
    const long = oneLine(() => parseConfig(configText({ gateway: { ...gateway, "reuse-pin": "x".repeat(100_000) } }), "/c.json"));
    expect(long).toMatch(/must be true or false \(got "x{56}…\)/);
    expect(long.length).toBeLessThan(300);
    const z = "z".repeat(100_000);
    for (const text of [configText({ gateway: { ...gateway, [z]: 1 } }), configText({ [z]: gateway }), JSON.stringify({ [z]: 1 }),
      configText({ gateway }, { agent: { profiles: [z] } })]) {
      const line = oneLine(() => parseConfig(text, "/c.json"));
      expect(line).toMatch(/"z{56}…/);
      expect(line.length).toBeLessThan(300);
    }
  });

  it("reads a file:// secret as the file URI names it, and refuses one naming no local file", () => {
    const pin = (value: string) => findProfile(parseConfig(configText({ g: { ...gateway, "pkcs11-pin": value } }), "/c.json"), "g");
    expect(pin("file:///run/a%20b")["pkcs11-pin"]).toEqual({ kind: "file", path: "/run/a b" });
    for (const uri of ["file://otherhost/run/pin", "file:///a%2Fb", "file:///run/%zz"]) {
      expect(oneLine(() => pin(uri))).toBe(
        `config /c.json: profile "g": field "pkcs11-pin" names no local file (another host, an encoded / or a bad %-escape) (got "${uri}")`,
      );
    }
  });

  it("reads each secret field's file:, env: and prompt as its command-line flag does (before: a parent password's prompt was none)", () => {
    const secretFlags = Object.values(SETTINGS_FIELDS).filter(([, kind]) => kind === "secret").map(([flag]) => flag);
    expect(secretFlags).toContain("tpm-parent-password");
    for (const flag of secretFlags) {
      const named = flag in SOURCE_VALUED_SECRETS; // its flag's value names the source; the others have a trio
      // The flags that say the same; a trio secret is asked for by leaving it out (its bare flag is the secret itself).
      const forms: [string, string[]][] = [
        ["file:/run/s", named ? [`--${flag}`, "file:/run/s"] : [`--${flag}-file`, "/run/s"]],
        ["env:S", named ? [`--${flag}`, "env:S"] : [`--${flag}-env`, "S"]],
        ["prompt", named ? [`--${flag}`, "prompt"] : []],
      ];
      for (const [value, flags] of forms) {
        const fromConfig = findProfile(parseConfig(configText({ g: { ...gateway, "pkcs11-pin": undefined, [flag]: value } }), "/c.json"), "g")[flag as "pkcs11-pin"];
        expect(fromConfig, `${flag}: ${value}`).toEqual(flagRecordFromArgs(argv(...flags))[flag as "pkcs11-pin"]);
      }
    }
  });

  it("reads a boolean, a path, a library name and file:/env: as their kinds; refuses a bare file:, an env: name with other characters", () => {
    const read = (fields: Record<string, unknown>) => findProfile(parseConfig(configText({ g: { ...gateway, ...fields } }), "/etc/raa/c.json"), "g");
    expect(read({ "reuse-pin": true, "tpm-ignore-empty-auth": false })).toMatchObject({ "reuse-pin": true, "tpm-ignore-empty-auth": false });
    expect(oneLine(() => read({ "reuse-pin": "yes" }))).toContain('field "reuse-pin" must be true or false');
    expect(read({ "ca-bundle": "ca.pem", "pkcs11-lib": "libsofthsm2.so" })).toMatchObject({ "ca-bundle": "/etc/raa/ca.pem", "pkcs11-lib": "libsofthsm2.so" });
    expect(read({ "pkcs11-lib": "lib/p11.so" })).toMatchObject({ "pkcs11-lib": "/etc/raa/lib/p11.so" });
    expect(read({ "ca-bundle": "pkcs11:token=x" })).toMatchObject({ "ca-bundle": "/etc/raa/pkcs11:token=x" }); // a path, not a key's URI
    for (const value of ["file:", "env:PIN-2", "xenv:PIN", "env:PIN "]) {
      expect(oneLine(() => read({ "pkcs11-pin": value })), value).toContain('field "pkcs11-pin" must be file:/path, env:NAME or prompt');
    }
  });

  it("refuses a literal PIN without ever repeating it", () => {
    let error: unknown;
    try {
      parseConfig(configText({ gateway: { ...gateway, "pkcs11-pin": "123456" } }), "/c.json");
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "CONFIG_INVALID" });
    const text = `${(error as Error).message} ${(error as { hint?: string }).hint}`;
    expect(text).toContain('profile "gateway": field "pkcs11-pin" must be file:/path, env:NAME or prompt');
    expect(text).not.toContain("123456");
  });

  it("nor one of another JSON type: a PIN written as a number, in an array or an object (before: echoed)", () => {
    for (const pin of [123456, ["123456"], { value: "123456" }]) {
      for (const field of ["pkcs11-pin", "pkcs8-password", "tpm-key-password"]) {
        const text = oneLine(() => parseConfig(configText({ gateway: { ...gateway, [field]: pin } }), "/c.json"));
        expect(text).toContain(`profile "gateway": field "${field}" must be a non-empty string`);
        expect(text).not.toContain("123456");
      }
    }
    expect(oneLine(() => parseConfig(configText({ gateway: { ...gateway, region: 7 } }), "/c.json"))).toContain("(got 7)");
  });

  it("reports JSON syntax errors with a line and column, and unknown top-level keys", () => {
    expect(() => parseConfig('{\n  "profiles": {,}\n}', "/c.json")).toThrow(/config \/c\.json: not valid JSON .*line 2/);
    expect(oneLine(() => parseConfig('{"profile": {}}', "/c.json"))).toMatch(/unknown key "profile".*did you mean "profiles"/);
    expect(() => parseConfig('{"version": 2}', "/c.json")).toThrow(/"version" must be 1/);
    expect(() => parseConfig(configText({ gateway }, { agent: { profiles: ["nope"] } }), "/c.json")).toThrow(/"agent": profile "nope" is listed but not defined/);
  });

  it("refuses a wrong shape at each level: the top, profiles, agent, its socket and its list of profiles", () => {
    const message = (text: string) => oneLine(() => parseConfig(text, "/c.json"));
    expect(message("[]")).toBe('config /c.json: the top level must be a JSON object with a "profiles" object');
    expect(message('{"profiles": []}')).toBe(
      'config /c.json: "profiles" must be an object mapping profile names to settings',
    );
    expect(message('{"agent": "x"}')).toBe('config /c.json: "agent" must be an object');
    // An empty socket path once meant "the default socket" without a word.
    for (const socket of ["", 5]) {
      expect(message(configText({ gateway }, { agent: { socket } }))).toBe(
        'config /c.json: "agent": field "socket" must be a path',
      );
    }
    for (const profiles of ["gateway", ["gateway", 5]]) {
      expect(message(configText({ gateway }, { agent: { profiles } }))).toBe(
        'config /c.json: "agent": field "profiles" must be an array of profile names',
      );
    }
  });

  it("takes a file saved with a byte-order mark, and never echoes the file's text in a JSON error", () => {
    expect(parseConfig('\uFEFF{"profiles": {}}', "/c.json").profiles.size).toBe(0);
    const message = oneLine(() => parseConfig('{"profiles": {"a": {"certificate": "/x/S3cret-ish", "region": eu}}}', "/c.json"));
    expect(message).toMatch(/not valid JSON \(Unexpected token 'e'\)/);
    expect(message).not.toContain("S3cret");
    expect(message).not.toContain('"region"');
  });

  it("refuses a key given twice in one object (a profile pasted twice, a field repeated), naming it and where", () => {
    // Before: JSON.parse kept the last one without a word: a second "gateway" (another role) or a second
    // "endpoint" below the one the operator reviewed silently won.
    const body = JSON.stringify(gateway).slice(1, -1);
    const twice = `{"profiles": {"gateway": {${body}},\n "gateway": {${body}, "role-arn": "${RA}x"}}}`;
    expect(oneLine(() => parseConfig(twice, "/c.json"))).toBe(
      'config /c.json: "profiles": key "gateway" appears twice (line 1 and line 2) (JSON keeps the last one without a word: remove or rename one)',
    );
    const field = `{"profiles": {"gateway": {${body}, "endpoint": "https://a.example", "endpoint": "https://b.example"}}}`;
    expect(oneLine(() => parseConfig(field, "/c.json"))).toMatch(/^config \/c\.json: "profiles" → "gateway": key "endpoint" appears twice \(line 1/);
    expect(() => parseConfig('{"version": 1, "version": 1}', "/c.json")).toThrow(/top level: key "version" appears twice/);
    // A name spelt with an escape is the same key; the same name in different objects is fine.
    const escaped = `{"profiles": {"gA": {${body}}, "g\\u0041": {${body}}}}`;
    expect(oneLine(() => parseConfig(escaped, "/c.json"))).toMatch(/"profiles": key "gA" appears twice/);
    expect(parseConfig(`{"profiles": {"a": {${body}}, "b": {${body}}}}`, "/c.json").profiles.size).toBe(2);
  });

  it("never echoes the text at the start of a file that is no JSON (a secret key or PIN file given as --config)", () => {
    // Before: V8's `"wJalrXUtnF"... is not valid JSON` (a quote cut short: "..." after it) was printed as it was.
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY and the rest of the file";
    for (const text of [secret, `[default]\naws_secret_access_key = ${secret}\n`, `{"a": ${secret}}`]) {
      const message = oneLine(() => parseConfig(text, "/c.json"));
      expect(message).toMatch(/^config \/c\.json: not valid JSON \(Unexpected token '.'\) \(the file must be/);
      expect(message).not.toMatch(/wJalrX|default|"a"/);
    }
  });

  it("lists the defined profiles when the requested one is missing", () => {
    const config = parseConfig(configText({ gateway, other: gateway }), "/c.json");
    expect(() => findProfile(config, "gw")).toThrow(/profile "gw" is not defined in \/c\.json/);
    try {
      findProfile(config, "gw");
    } catch (e) {
      expect(e).toMatchObject({ code: "CONFIG_PROFILE_NOT_FOUND", hint: "defined profiles: gateway, other" });
    }
  });
});

describe("a profile with flags over it (flags win)", () => {
  const config = parseConfig(configText({ gateway }), "/etc/raa/config.json");
  const profile = findProfile(config, "gateway");
  const merged = (...a: string[]) => inputFromFlags(mergeFlagRecords(profile, flagRecordFromArgs(argv(...a))));

  it("fills settings the user did not give", () => {
    const input = merged("--profile", "gateway");
    expect(input.roleArn).toBe(RA);
    expect(input.durationSeconds).toBe(900);
    expect(input.pkcs11Pin).toEqual({ kind: "file", path: "/etc/raa/pin.txt" });
    expect(input.certificate).toBe("/etc/raa/certs/gw.pem");
  });

  it("keeps every flag the user gave, including another source for the same secret", () => {
    const input = merged("--session-duration", "1800", "--pkcs11-pin-env", "PIN", "--role-arn", "arn:aws:iam::1:role/Other");
    expect(input.durationSeconds).toBe(1800);
    expect(input.roleArn).toBe("arn:aws:iam::1:role/Other");
    expect(input.pkcs11Pin).toEqual({ kind: "env", name: "PIN" });
  });

  it("maps env: sources and the parent password; --no-tpm-key-password drops the profile's key password", () => {
    const p = findProfile(
      parseConfig(configText({ t: { ...gateway, "pkcs11-pin": undefined, "tpm-key-password": "env:TPM_PW", "tpm-parent-password": "file:/run/parent" } }), "/c.json"),
      "t",
    );
    const input = inputFromFlags(mergeFlagRecords(p, flagRecordFromArgs(argv())));
    expect(input.tpmKeyPassword).toEqual({ kind: "env", name: "TPM_PW" });
    expect(input.tpmParentPassword).toEqual({ kind: "file", path: "/run/parent" });
    const overridden = inputFromFlags(mergeFlagRecords(p, flagRecordFromArgs(argv("--no-tpm-key-password"))));
    expect(overridden.tpmKeyPassword).toBeUndefined();
    expect(overridden.noTpmKeyPassword).toBe(true);
  });

  it("turns profile and flags into signer, session and endpoint settings", () => {
    const settings = profileCredentialSettings(config, "gateway", {}, flagRecordFromArgs(argv("--endpoint", "http://127.0.0.1:1", "--timeout", "20")));
    expect(settings.session).toEqual({ trustAnchorArn: TA, profileArn: PA, roleArn: RA, durationSeconds: 900, roleSessionName: "gw-1" });
    expect(settings.signer.certificate).toBe("/etc/raa/certs/gw.pem");
    expect(settings.signer.pkcs11?.pin).toEqual({ kind: "file", path: "/etc/raa/pin.txt" });
    expect(settings.endpoint).toMatchObject({ endpoint: "http://127.0.0.1:1", timeoutMs: 20_000 });
  });

  it("names a wrong value given as a flag over a profile as the flag (USAGE), not as the profile's field", () => {
    const flags = flagRecordFromArgs(argv("--max-attempts", "0"));
    expect(Object.values(flags)).toContain(undefined); // the flags not given are there too
    expect(() => profileCredentialSettings(config, "gateway", {}, flags)).toThrow(
      expect.objectContaining({ code: "USAGE", message: "--max-attempts must be a whole number from 1 to 10 (got 0)" }),
    );
  });

  it("a flag of value 0 beside a refused setting: the refusal is said (USAGE), not a TypeError from the wipe", async () => {
    // Before: heldSecret(0) gave 0 back, and wiping the flags' held secrets threw "….wipe is not a function" (exit 1,
    // `internal error`) in place of the real message (`credential-process --session-duration 0`).
    await expect(settingsFromArgs(argv("--trust-anchor-arn", TA, "--profile-arn", PA, "--max-attempts", "0"), io)).rejects.toThrow(
      expect.objectContaining({ code: "USAGE" }),
    );
  });

  it("says which field a profile lacks, and which flag is missing without a profile", async () => {
    const c = parseConfig(configText({ g: { ...gateway, "role-arn": undefined } }), "/c.json");
    expect(() => profileCredentialSettings(c, "g", {})).toThrow('config /c.json: profile "g" has no "role-arn"');
    await expect(settingsFromArgs(argv("--trust-anchor-arn", TA, "--profile-arn", PA), io)).rejects.toThrow("--role-arn is required");
  });

  it("gives each profile its own held copy of a flag's password: closing one source does not wipe another's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-config-"));
    try {
      const path = join(dir, "config.json");
      writeFileSync(path, configText({ a: gateway, b: gateway }), { mode: 0o600 });
      const args = parseCommandArgs({ ...spec, options: [...spec.options, { name: "config", type: "string" as const, description: "" }] },
        ["--config", path, "--pkcs8-password", "pw"]);
      const [a, b] = await settingsFromArgs(args, io, ["a", "b"]);
      const [x, y] = [a, b].map((s) => heldSecret(s!.signer.keyPassword));
      expect(x?.use((bytes) => bytes.toString())).toBe("pw");
      expect(y).not.toBe(x); // before: one Secret, the same for both
      x!.wipe();
      expect(y?.use((bytes) => bytes.toString())).toBe("pw");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("wipes the flags' held passwords when the settings fail: a flag missing, the config unreadable, a later profile wrong", async () => {
    // Before: each failure (a serve or agent SIGHUP with a broken config) left one more copy of the bytes in the heap.
    const dir = mkdtempSync(join(tmpdir(), "raa-config-"));
    const made = vi.spyOn(Secret, "fromUtf8");
    try {
      const path = join(dir, "config.json");
      writeFileSync(path, configText({ a: gateway, b: { ...gateway, "role-arn": undefined } }), { mode: 0o600 });
      const withConfig = { ...spec, options: [...spec.options, { name: "config", type: "string" as const, description: "" }] };
      const args = (config: string) => parseCommandArgs(withConfig, ["--config", config, "--tpm-key-password", "pw", "--tpm-parent-password", "1234"]);
      await expect(settingsFromArgs(argv("--trust-anchor-arn", TA, "--profile-arn", PA, "--pkcs8-password", "pw"), io)).rejects.toThrow("--role-arn is required");
      await expect(settingsFromArgs(args(join(dir, "none.json")), io, ["a"])).rejects.toThrow(expect.objectContaining({ code: "CONFIG_NOT_FOUND" }));
      await expect(settingsFromArgs(args(path), io, ["a", "b"])).rejects.toThrow('profile "b" has no "role-arn"');
      const secrets = made.mock.results.map((r) => r.value as Secret);
      expect(secrets).toHaveLength(1 + 2 + 4); // the first call's; the second's; profile a's two and profile b's two
      const wiped = (secret: Secret) => { try { secret.use(() => 0); return false; } catch { return true; } };
      expect(secrets.map(wiped)).toEqual(secrets.map(() => true));
    } finally {
      made.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("wipes the URI pin-values of every profile built before a wrong one", async () => {
    // Before: profile a's pin-value, taken out of its URI as held bytes, was left unwiped (no source owned it).
    const dir = mkdtempSync(join(tmpdir(), "raa-config-"));
    const made = vi.spyOn(Secret, "fromBytes");
    try {
      const path = join(dir, "config.json");
      const a = { ...gateway, "private-key": `${gateway["private-key"]}&pin-value=1234` };
      const b = { ...gateway, "private-key": `${gateway["private-key"]}&pin-value=5678` };
      writeFileSync(path, configText({ a, b, c: { ...gateway, "role-arn": undefined } }), { mode: 0o600 });
      const args = parseCommandArgs({ ...spec, options: [...spec.options, { name: "config", type: "string" as const, description: "" }] }, ["--config", path]);
      await expect(settingsFromArgs(args, io, ["a", "b", "c"])).rejects.toThrow('profile "c" has no "role-arn"');
      const secrets = made.mock.results.map((r) => r.value as Secret);
      expect(secrets.length).toBeGreaterThanOrEqual(2); // a's and b's, each profile built before c's failure
      const wiped = (secret: Secret) => { try { secret.use(() => 0); return false; } catch { return true; } };
      expect(secrets.map(wiped)).toEqual(secrets.map(() => true));
    } finally {
      made.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("wipes the held passwords made before a flag fails half-way: --tpm-parent-password, --wait-for-device", async () => {
    // Before: the first flag's bytes were never wiped (flagRecordFromArgs and signerOptionsFromArgs threw past them).
    const made = vi.spyOn(Secret, "fromUtf8");
    try {
      const pw = ["--pkcs8-password", "pw"];
      expect(() => flagRecordFromArgs(argv(...pw, "--tpm-parent-password", "env:"))).toThrow('"env:" names no environment variable');
      expect(() => signerOptionsFromArgs(argv(...pw, "--tpm-parent-password", "1234", "--wait-for-device", "86401"), io)).toThrow("--wait-for-device");
      await expect(settingsFromArgs(argv(...pw, "--tpm-parent-password", "file://host/x"), io)).rejects.toThrow("names no local file");
      const secrets = made.mock.results.map((r) => r.value as Secret);
      const wiped = (secret: Secret) => { try { secret.use(() => 0); return false; } catch { return true; } };
      expect(secrets.length).toBeGreaterThanOrEqual(2); // --wait-for-device is checked before any is made (before: 2 more)
      expect(secrets.map(wiped)).toEqual(secrets.map(() => true));
    } finally {
      made.mockRestore();
    }
  });

  it("checks the regions of trust anchor and profile when the profile is used, flags included", () => {
    const west = PA.replace("eu-west-1", "us-west-2");
    expect(() => profileCredentialSettings(config, "gateway", {}, flagRecordFromArgs(argv("--profile-arn", west)))).toThrow(expect.objectContaining({ code: "REGION_MISMATCH" }));
  });
});

describe("loadConfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "raa-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the file under XDG_CONFIG_HOME and applies a profile", async () => {
    const xdg = join(dir, "xdg");
    mkdirSync(join(xdg, "roles-anywhere-agent"), { recursive: true });
    const path = defaultConfigPath({ XDG_CONFIG_HOME: xdg });
    expect(path).toBe(join(xdg, "roles-anywhere-agent", "config.json"));
    writeFileSync(path, configText({ gateway }), { mode: 0o600 });
    const config = await loadConfig(undefined, { XDG_CONFIG_HOME: xdg });
    expect(profileCredentialSettings(config, "gateway", {}).session.profileArn).toBe(PA);
    expect(defaultConfigPath({}, "/home/u")).toBe("/home/u/.config/roles-anywhere-agent/config.json");
  });

  it("never takes the config, or a ~/ path in it, from the working directory when HOME is empty or relative", () => {
    expect(oneLine(() => defaultConfigPath({}, ""))).toBe(
      "no default config file: HOME ('') is not an absolute path (pass --config, or set HOME or XDG_CONFIG_HOME)",
    );
    expect(oneLine(() => defaultConfigPath({ XDG_CONFIG_HOME: "rel" }, "home"))).toContain("HOME ('home') is not");
    expect(defaultConfigPath({ XDG_CONFIG_HOME: "/x" }, "")).toBe("/x/roles-anywhere-agent/config.json");
    const tilde = configText({ gateway: { ...gateway, certificate: "~/gw.pem" } });
    expect(oneLine(() => parseConfig(tilde, "/c.json", ""))).toBe(
      `config /c.json: profile "gateway": field "certificate" starts with ~ but HOME ('') is not an absolute path` +
        ` (got "~/gw.pem") (set HOME)`,
    );
    expect(oneLine(() => parseConfig(configText({}, { agent: { socket: "~/a.sock" } }), "/c.json", "rel"))).toBe(
      `config /c.json: "agent": field "socket" starts with ~ but HOME ('rel') is not an absolute path` +
        " (set HOME)",
    );
  });

  it("refuses a config file of more than 16 MiB without reading it", async () => {
    const path = join(dir, "huge.json");
    writeFileSync(path, "", { mode: 0o600 });
    truncateSync(path, 16 * 1024 * 1024 + 1); // sparse; as text, V8 would build a 16 MiB string of NULs first
    await expect(loadConfig(path)).rejects.toMatchObject({ code: "FILE_UNREADABLE", message: `config file ${path} holds more than 16 MiB` });
  });

  it("says a config file saved as UTF-16 (a Windows editor's \"Unicode\") is UTF-16, not that a token is unexpected", async () => {
    // Before: config …: not valid JSON (Unexpected token '\uFFFD'), for a file the editor shows as right.
    const path = join(dir, "utf16.json");
    for (const bytes of [Buffer.from(`\uFEFF${configText({ gateway })}`, "utf16le"), Buffer.from(`\uFEFF${configText({ gateway })}`, "utf16le").swap16()]) {
      writeFileSync(path, bytes, { mode: 0o600 });
      await expect(loadConfig(path)).rejects.toMatchObject({ code: "INPUT_INVALID", message: `config file ${path} is UTF-16 text` });
    }
  });

  it("gives the owner, group and mode of the file read: the user's own config read by root for that user", async () => {
    const path = join(dir, "theirs.json");
    writeFileSync(path, configText({ gateway }));
    chmodSync(path, 0o640);
    chownSync(path, 4321, 4322);
    await expect(loadConfig(path, {}, 4321)).resolves.toMatchObject({ file: { owner: 4321, gid: 4322, mode: expect.any(Number) } });
    expect((await loadConfig(path, {}, 4321)).file.mode & 0o777).toBe(0o640);
  });

  it("refuses a config file that other users can modify, or whose directory they can write (OpenSSH's rule)", async () => {
    const path = join(dir, "open.json");
    writeFileSync(path, configText({ gateway }));
    chmodSync(path, 0o666);
    await expect(loadConfig(path)).rejects.toMatchObject({ code: "FILE_UNSAFE", message: `config ${path} was not used: config ${path} can be written by other users (mode 666)` });
    chmodSync(path, 0o644);
    await expect(loadConfig(path)).resolves.toMatchObject({ path });
    const shared = join(dir, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777); // sticky or not, the file's own directory must be closed to others
    writeFileSync(join(shared, "config.json"), configText({ gateway }), { mode: 0o600 });
    await expect(loadConfig(join(shared, "config.json"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: expect.stringMatching(/was not used: the directory of config .* can be written by other users \(mode 1777\)$/),
    });
  });

  it.runIf(process.getuid?.() === 0)("refuses a config file, a directory or a symbolic link on the way that belongs to another user", async () => {
    const foreign = join(dir, "foreign.json");
    writeFileSync(foreign, configText({ gateway }), { mode: 0o644 });
    chownSync(foreign, 65534, 65534);
    await expect(loadConfig(foreign)).rejects.toMatchObject({ code: "FILE_UNSAFE", message: expect.stringMatching(/belongs to uid 65534, not to this user \(0\) or root$/) });
    const theirs = join(dir, "theirs");
    mkdirSync(theirs, { mode: 0o755 });
    writeFileSync(join(theirs, "config.json"), configText({ gateway }), { mode: 0o600 });
    chownSync(theirs, 65534, 65534);
    await expect(loadConfig(join(theirs, "config.json"))).rejects.toMatchObject({ message: expect.stringMatching(/directory .*theirs belongs to uid 65534/) });
    const mine = join(dir, "mine.json");
    writeFileSync(mine, configText({ gateway }), { mode: 0o600 });
    const link = join(dir, "link.json");
    symlinkSync(mine, link);
    await expect(loadConfig(link)).resolves.toMatchObject({ path: link });
    const sticky = join(dir, "sticky");
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    symlinkSync(mine, join(sticky, "planted.json"));
    lchownSync(join(sticky, "planted.json"), 65534, 65534); // the link, not its target
    await expect(loadConfig(join(sticky, "planted.json"))).rejects.toMatchObject({ message: expect.stringMatching(/symbolic link .*planted\.json belongs to uid 65534/) });
  });

  it("refuses a PKCS#11 module the config names by path when other users can change it; a missing one is left to the signer", async () => {
    const module = join(dir, "module.so");
    writeFileSync(module, "not really a module");
    chmodSync(module, 0o666);
    const path = join(dir, "module.json");
    writeFileSync(path, configText({ gateway: { ...gateway, "pkcs11-lib": module } }), { mode: 0o600 });
    await expect(loadConfig(path)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `config ${path}: profile "gateway": field "pkcs11-lib": the PKCS#11 module ${module} can be written by other users (mode 666); it was not loaded`,
    });
    const viaUri = join(dir, "module-uri.json");
    writeFileSync(viaUri, configText({ gateway: { ...gateway, certificate: `pkcs11:token=t;object=k?module-path=${module}` } }), { mode: 0o600 });
    await expect(loadConfig(viaUri)).rejects.toMatchObject({ message: expect.stringContaining('field "certificate (module-path)"') });
    chmodSync(module, 0o644);
    await expect(loadConfig(path)).resolves.toMatchObject({ path });
    writeFileSync(path, configText({ gateway: { ...gateway, "pkcs11-lib": join(dir, "missing.so") } }), { mode: 0o600 });
    await expect(loadConfig(path)).resolves.toMatchObject({ path });
  });

  it("refuses a missing PKCS#11 module where other users could put one: a daemon loads it when it appears", async () => {
    // Before: accepted as missing, left to the signer, and serve or agent, retrying a module not found, would dlopen()
    // the file another user put there later (what the rule refuses when the file is there at start).
    const open = join(dir, "open-lib");
    mkdirSync(open);
    chmodSync(open, 0o1777);
    const path = join(dir, "missing-module.json");
    for (const module of [join(open, "module.so"), join(open, "pkcs11", "module.so")]) {
      writeFileSync(path, configText({ gateway: { ...gateway, "pkcs11-lib": module } }), { mode: 0o600 });
      await expect(loadConfig(path)).rejects.toMatchObject({
        code: "FILE_UNSAFE",
        message: `config ${path}: profile "gateway": field "pkcs11-lib": the PKCS#11 module ${module} does not exist, and directory ${open}, where it would be made, can be written by other users (mode 1777); it was not loaded`,
      });
    }
    // A module the walk cannot reach for another reason than its absence (a directory of another user's it cannot
    // enter; as root, a name too long) is not said to be missing (before: "does not exist").
    const unreachable = join(open, "x".repeat(300), "module.so");
    writeFileSync(path, configText({ gateway: { ...gateway, "pkcs11-lib": unreachable } }), { mode: 0o600 });
    await expect(loadConfig(path)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `config ${path}: profile "gateway": field "pkcs11-lib": the PKCS#11 module ${unreachable} cannot be checked (ENAMETOOLONG), and directory ${open}, on its path, can be written by other users (mode 1777); it was not loaded`,
    });
    chmodSync(open, 0o755);
    await expect(loadConfig(path)).resolves.toMatchObject({ path });
    // The user's own directory, for that user (uid 65534): hers to fill, accepted (a mutant checking it as root's
    // refused it); for root, a directory of hers is refused as the walk refuses the module itself.
    const hers = join(dir, "hers-lib");
    mkdirSync(hers, { mode: 0o755 });
    chownSync(hers, 65534, 65534);
    writeFileSync(path, configText({ gateway: { ...gateway, "pkcs11-lib": join(hers, "pkcs11", "module.so") } }), { mode: 0o600 });
    await expect(loadConfig(path, {}, 65534)).resolves.toMatchObject({ path });
    await expect(loadConfig(path, {}, 0)).rejects.toMatchObject({ message: expect.stringContaining(`directory ${hers} belongs to uid 65534`) });
  });

  it("checks missing modules without leaving a descriptor open, and ignores a URI whose module-path= is not a query", async () => {
    // serve and agent re-read the config at each SIGHUP: one directory left open per missing module ends in EMFILE.
    const path = join(dir, "missing-modules.json");
    const uri = "pkcs11:token=t;object=module-path=k"; // an object label, no module path: nothing to check
    writeFileSync(path, configText({
      gateway: { ...gateway, "pkcs11-lib": join(dir, "absent", "module.so") },
      other: { ...gateway, certificate: uri, "private-key": uri },
    }), { mode: 0o600 });
    const openDescriptors = () => readdirSync("/proc/self/fd").length;
    const before = openDescriptors();
    for (let i = 0; i < 3; i++) await expect(loadConfig(path)).resolves.toMatchObject({ path });
    expect(openDescriptors()).toBe(before);
  });

  it("a FIFO named as the config or as its PKCS#11 module is not a regular file, not a file other users can change", async () => {
    const fifo = join(dir, "module.fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    await expect(loadConfig(fifo)).rejects.toMatchObject({ code: "FILE_NOT_REGULAR", message: `config ${fifo} is not a regular file` });
    const path = join(dir, "fifo-module.json");
    writeFileSync(path, configText({ gateway: { ...gateway, "pkcs11-lib": fifo } }), { mode: 0o600 });
    // Left to the signer, which refuses it before dlopen() (test/pkcs11/module-loader.test.ts).
    await expect(loadConfig(path)).resolves.toMatchObject({ path });
  });

  it("says when the file does not exist", async () => {
    await expect(loadConfig(join(dir, "missing.json"))).rejects.toMatchObject({ code: "CONFIG_NOT_FOUND" });
  });

  it("says how to fix a missing file: the --config path given, or the default file to create", async () => {
    const given = join(dir, "missing.json");
    await expect(loadConfig(given)).rejects.toMatchObject({
      code: "CONFIG_NOT_FOUND", message: `config file ${given} does not exist`, hint: "check the --config path",
    });
    writeFileSync(join(dir, "a-file"), "{}", { mode: 0o600 }); // ENOTDIR: a file where a directory should be
    await expect(loadConfig(join(dir, "a-file", "config.json"))).rejects.toMatchObject({ code: "CONFIG_NOT_FOUND" });
    const xdg = join(dir, "empty-xdg");
    await expect(loadConfig(undefined, { XDG_CONFIG_HOME: xdg })).rejects.toMatchObject({
      code: "CONFIG_NOT_FOUND", hint: "create it (see docs/long-running.md) or pass --config",
    });
  });

  it("refuses a file other users can change with the hint that says why and what to do", async () => {
    const path = join(dir, "shared-hint.json");
    writeFileSync(path, configText({ gateway }));
    chmodSync(path, 0o666);
    await expect(loadConfig(path)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      hint: "whoever can change it can make this program load their code (pkcs11-lib) or send your signed " +
        "requests to their endpoint; make it and its directories yours (or root's) and writable only by the owner",
    });
  });

  it("reads a file of exactly 16 MiB (the limit is more than that), and points a larger one at --config", async () => {
    const path = join(dir, "limit.json");
    writeFileSync(path, "", { mode: 0o600 });
    truncateSync(path, 16 * 1024 * 1024); // read, then refused as JSON: it is NULs
    await expect(loadConfig(path)).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    truncateSync(path, 16 * 1024 * 1024 + 1);
    await expect(loadConfig(path)).rejects.toMatchObject({ code: "FILE_UNREADABLE", hint: "check the --config path" });
  });

  it("closes the file it opened, whether it was read or refused", async () => {
    const path = join(dir, "fds.json");
    writeFileSync(path, configText({ gateway }), { mode: 0o600 });
    const big = join(dir, "fds-big.json");
    writeFileSync(big, "", { mode: 0o600 });
    truncateSync(big, 16 * 1024 * 1024 + 1);
    // The descriptors of this process still open on either file (not a count: other files' work may open some).
    const open = () => readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return [path, big].includes(readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false; // closed since the listing
      }
    });
    for (let i = 0; i < 3; i++) {
      await loadConfig(path);
      await loadConfig(big).catch(() => undefined);
    }
    expect(open()).toEqual([]);
  });

  it("warns once, naming the file and its mode, when others can read a config whose URI holds a pin-value", async () => {
    // Before round 30: no warning, although a PIN file of the same mode warns and a literal PIN field is refused.
    const warnings: string[] = [];
    const listener = (w: Error) => warnings.push(w.message);
    process.on("warning", listener);
    try {
      const withPin = { ...gateway, "private-key": "pkcs11:token=gw;object=key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=Sekret99" };
      const certPin = { ...gateway, certificate: "pkcs11:token=gw;object=key?pin-value=Sekret99" };
      const pinSource = { ...gateway, "private-key": "pkcs11:token=gw;object=key?pin-source=/etc/pin" }; // a path, no PIN
      const cases = [["pin-644", withPin, 0o644], ["pin-640", certPin, 0o640], ["pin-600", withPin, 0o600], ["none-644", gateway, 0o644], ["source-644", pinSource, 0o644]] as const;
      for (const [name, profile, mode] of cases) {
        const path = join(dir, `${name}.json`);
        writeFileSync(path, configText({ other: gateway, gateway: profile }));
        chmodSync(path, mode);
        for (let i = 0; i < 2; i++) await expect(loadConfig(path)).resolves.toMatchObject({ path }); // a reload: told once
      }
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
    } finally {
      process.off("warning", listener);
    }
    const line = (mode: string) => `pin-value in config file ${join(dir, `pin-${mode}.json`)} can be read or changed by other users (mode ${mode}): run chmod 600 ${join(dir, `pin-${mode}.json`)}`;
    expect(warnings).toEqual([line("644"), line("640")]);
  });

  it("reads a key file whose path contains module-path= as a path, not as a pkcs11: URI to check", async () => {
    const path = join(dir, "odd-path.json");
    const certificate = "/etc/raa/module-path=1/gw.pem";
    writeFileSync(path, configText({ gateway: { ...gateway, certificate } }), { mode: 0o600 });
    await expect(loadConfig(path)).resolves.toMatchObject({ path });
  });

  it("refuses a PKCS#11 module other users can change with a hint that says what it risks", async () => {
    const module = join(dir, "module-hint.so");
    writeFileSync(module, "not really a module");
    chmodSync(module, 0o666);
    const path = join(dir, "module-hint.json");
    writeFileSync(path, configText({ gateway: { ...gateway, "pkcs11-lib": module } }), { mode: 0o600 });
    await expect(loadConfig(path)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      hint: "a module another user can change would run their code in this process: " +
        "install it where only you or root can write",
    });
  });
});

describe("examples/config.json", () => {
  it("is a valid config file", () => {
    const path = join(__dirname, "..", "..", "examples", "config.json");
    const config = parseConfig(readFileSync(path, "utf8"), path, "/home/u");
    expect([...config.profiles.keys()]).toEqual(["gateway", "tpm-device", "laptop"]);
    expect(findProfile(config, "tpm-device")["private-key"]).toBe("/home/u/.config/roles-anywhere-agent/device.tss2.pem");
  });
});

describe("the config file's bytes", () => {
  it("are zero once parsed: no buffer made while loading it holds the PIN a URI's pin-value gives", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-config-"));
    try {
      const path = join(dir, "config.json");
      const profile = { ...gateway, "private-key": "pkcs11:token=gw;object=key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=Pin5678wq" };
      writeFileSync(path, configText({ g: profile }), { mode: 0o600 });
      const { result, left } = await copiesHolding(Buffer.from("Pin5678wq"), () => loadConfig(path, {}));
      expect(result.profiles.has("g")).toBe(true);
      expect(left).toBe(0); // before: 2, the file as read and the pin-value parsed for the module-path check
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
