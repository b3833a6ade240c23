/**
 * Settings are checked before any signer exists, on every path (CLI flags, config profiles, the SDK provider):
 * a wrong setting never costs a PIN, a key password or a TPM authorisation. The signer factory is spied on; the
 * key and certificate paths do not exist, so a signer that was opened would fail with FILE_NOT_FOUND instead.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../src/signers/factory.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/signers/factory.js")>();
  return { ...real, createSigner: vi.fn(real.createSigner) };
});

const { createSigner } = await import("../../src/signers/factory.js");
const { main } = await import("../../src/cli/main.js");
const { fromRolesAnywhere } = await import("../../src/sdk/index.js");

const dir = mkdtempSync(join(tmpdir(), "raa-settings-first-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TA = "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta";
const PA = "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p";
const PA_WEST = "arn:aws:rolesanywhere:eu-west-1:111122223333:profile/p";
const RA = "arn:aws:iam::111122223333:role/device";
const KEY = ["--certificate", join(dir, "missing", "cert.pem"), "--private-key", join(dir, "missing", "key.pem")];
const ARNS = ["--trust-anchor-arn", TA, "--profile-arn", PA, "--role-arn", RA];
const MISMATCH = ["--trust-anchor-arn", TA, "--profile-arn", PA_WEST, "--role-arn", RA];

const config = join(dir, "config.json");
writeFileSync(
  config,
  JSON.stringify({
    profiles: {
      west: { certificate: join(dir, "missing", "cert.pem"), "private-key": join(dir, "missing", "key.pem"), "trust-anchor-arn": TA, "profile-arn": PA_WEST, "role-arn": RA },
      ok: { certificate: join(dir, "missing", "cert.pem"), "private-key": join(dir, "missing", "key.pem"), "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": RA },
    },
  }),
  { mode: 0o600 },
);

async function run(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { XDG_RUNTIME_DIR: "/nonexistent", CI: "true", ...env } };
  const code = await main(argv, io);
  return { code, stderr };
}

beforeEach(() => {
  vi.mocked(createSigner).mockClear();
});

describe("invalid settings never touch a signer", () => {
  it.each([
    ["credential-process: regions of trust anchor and profile differ", ["credential-process", ...KEY, ...MISMATCH], 3, /regions don't match/],
    ["credential-process: duration out of range", ["credential-process", ...KEY, ...ARNS, "--session-duration", "100"], 2, /--session-duration must be a whole number from 900 to 43200 \(got 100\)/],
    ["credential-process: endpoint is not a URL", ["credential-process", ...KEY, ...ARNS, "--endpoint", "ftp://x"], 3, /invalid endpoint 'ftp:\/\/x'/],
    ["credential-process: too many attempts", ["credential-process", ...KEY, ...ARNS, "--max-attempts", "11"], 2, /--max-attempts must be a whole number from 1 to 10 \(got 11\)/],
    ["credential-process: FIPS with a custom endpoint", ["credential-process", ...KEY, ...ARNS, "--use-fips-endpoint", "--endpoint", "http://127.0.0.1:1"], 3, /FIPS and custom endpoint/],
    // The factory's hint (noKeyHint), not a copy of it.
    ["credential-process: no key at all", ["credential-process", ...ARNS], 2,
      /no private key given \(pass --private-key \(a key file, pkcs11: URI or handle:0x…\), or --certificate with a combined PEM/],
    ["credential-process --profile: a flag makes the regions differ", ["credential-process", "--config", config, "--profile", "ok", "--profile-arn", PA_WEST, "--no-agent"], 3, /regions don't match/],
    ["credential-process --profile: the profile's regions differ", ["credential-process", "--config", config, "--profile", "west", "--no-agent"], 3, /regions don't match/],
    ["credential-process: an empty --agent-socket", ["credential-process", "--profile", "ok", "--agent-socket", ""], 2, /^roles-anywhere-agent: --agent-socket is empty \(/],
    ["credential-process: an empty --config", ["credential-process", "--config", "", "--profile", "ok", "--no-agent"], 2, /^roles-anywhere-agent: --config is empty \(/],
    ["update: an empty --config", ["update", "--once", "--config", "", "--config-profile", "ok"], 2, /^roles-anywhere-agent: --config is empty \(/],
    // A flag only this project has refuses "" (an unset "$VAR"): --tpm-device= silently meant the default TPM.
    ["credential-process: an empty --tpm-device", ["credential-process", ...KEY, ...ARNS, "--tpm-device="], 2, /^roles-anywhere-agent: --tpm-device is empty \(/],
    ["serve: an empty --ca-bundle", ["serve", ...KEY, ...ARNS, "--ca-bundle", "", "--port", "0"], 2, /^roles-anywhere-agent: --ca-bundle is empty \(/],
    ["doctor: an empty --pkcs8-password-file", ["doctor", ...KEY, ...ARNS, "--pkcs8-password-file", ""], 2, /^roles-anywhere-agent: --pkcs8-password-file is empty \(/],
    // Each command's own flags too: csr --out "" printed to stdout, install-certificate --out "" wrote beside the key,
    // serve --bind "" listened on 127.0.0.1, local-endpoint --region "" served us-east-1, agent --profile "" …
    ...([
      ["csr", ...KEY, "--subject", "/CN=a", "--out", ""],
      ["install-certificate", ...KEY, "--out="],
      ["update", "--once", ...KEY, ...ARNS, "--config-profile", ""],
      ["serve", ...KEY, ...ARNS, "--bind", ""],
      ["serve", ...KEY, ...ARNS, "--ecs", "--ecs-audience", ""],
      ["serve", "--config", config, "--profile", "ok", "--profile", ""],
      ["agent", "--config", config, "--profile", ""],
      ["local-endpoint", "--trust-anchors", "ca.pem", "--region", ""],
      ["principal-tags", "--certificate", "c.pem", "--trust-anchor-arn", ""],
      ["credential-process", ...KEY, ...ARNS, "--profile", ""],
      // Before: "--ecs-consumer : the name may use …" and "--condition : this certificate yields no such tag".
      ["serve", ...KEY, ...ARNS, "--ecs", "--ecs-consumer", ""],
      ["principal-tags", "--certificate", "c.pem", "--condition", ""],
    ] as const).map((argv) => {
      const flag = argv.findLast((a) => a.startsWith("--"))!.replace(/=$/, "");
      return [`${argv[0]}: an empty ${flag}`, argv, 2, new RegExp(`^roles-anywhere-agent: ${flag} is empty \\(`)] as const;
    }),
    ["read-certificate-data: an empty --pkcs11-pin-env", ["read-certificate-data", "--certificate", "pkcs11:object=x", "--pkcs11-pin-env", ""], 2, /^roles-anywhere-agent: --pkcs11-pin-env is empty \(/],
    ["update --once", ["update", "--once", ...KEY, ...MISMATCH, "--credentials-file", join(dir, "credentials")], 3, /regions don't match/],
    ["update: a --profile the credentials file cannot hold", ["update", "--once", ...KEY, ...ARNS, "--profile", "a\nb"], 2, /^roles-anywhere-agent: --profile "a\\nb" cannot name a section of the credentials file \(/],
    // Before: "--trust-anchor-arn is required (… or --profile NAME with a config file)", which is what was given.
    ["update: --profile used for the config's profile", ["update", "--once", "--config", config, "--profile", "ok"], 2,
      /^roles-anywhere-agent: update's --profile names the section it writes in the credentials file, not a config profile \(take the settings from config profile ok with --config-profile ok, or give --trust-anchor-arn, --profile-arn and --role-arn\)\n$/],
    ["update: a --profile with a bracket", ["update", ...KEY, ...ARNS, "--profile", "a]"], 2, /--profile "a]" cannot name a section/],
    ...(["a ;b", "__proto__"] as const).map((profile) => [`update: --profile ${profile}, which the JS SDK cannot read`, ["update", ...KEY, ...ARNS, "--profile", profile], 2,
      new RegExp(`^roles-anywhere-agent: --profile "${profile}" cannot name a section of the credentials file \\(the AWS SDK for JavaScript cannot read that section: " ;" and " #" start a comment to it, and __proto__ it refuses\\)\n$`)] as const),
    ["--no-tpm-key-password with a password file", ["credential-process", ...KEY, ...ARNS, "--no-tpm-key-password", "--tpm-key-password-file", "/p"], 2, /^roles-anywhere-agent: if any flags in the group \[no-tpm-key-password tpm-key-password-file\] are set/],
    ["--no-tpm-key-password with a password variable", ["serve", ...KEY, ...ARNS, "--tpm-key-password-env", "P", "--no-tpm-key-password"], 2, /\[no-tpm-key-password tpm-key-password-env\]/],
    ["update --config-profile", ["update", "--once", "--config", config, "--config-profile", "west", "--credentials-file", join(dir, "credentials")], 3, /regions don't match/],
    ["serve", ["serve", ...KEY, ...MISMATCH, "--port", "0"], 3, /regions don't match/],
    ["serve --profile", ["serve", "--config", config, "--profile", "west", "--port", "0"], 3, /regions don't match/],
    ["serve: port above 65535", ["serve", ...KEY, ...ARNS, "--port", "65536"], 2, /^roles-anywhere-agent: --port must be a whole number from 0 to 65535 \(got 65536\)\n$/],
    ["serve: negative port", ["serve", ...KEY, ...ARNS, "--port=-1"], 2, /^roles-anywhere-agent: --port must be a whole number from 0 to 65535 \(got -1\)\n$/],
    ["agent", ["agent", "--config", config, "--profile", "west", "--socket", join(dir, "agent.sock")], 3, /regions don't match/],
    ["doctor: warning days below 0", ["doctor", ...KEY, ...ARNS, "--certificate-warning-days", "-5"], 2, /--certificate-warning-days -5 is out of range: use 0 \(never warn\) to 3650/],
    ["doctor: warning days not whole", ["doctor", ...KEY, ...ARNS, "--certificate-warning-days", "1.5"], 2, /--certificate-warning-days/],
    // ARNs (exit 3, input: README's exit codes): a line break once printed a forged `FAKE (role R` line in serve --ecs.
    ["a role ARN with a line break", ["serve", "--ecs", ...KEY, ...ARNS.slice(0, 4), "--role-arn", "arn:aws:iam::1:role/R\nFAKE"], 3, /^roles-anywhere-agent: invalid role ARN: character 22 is U\+000A \(an ARN is printable ASCII[^\n]*\)\n$/],
    ["a role ARN with no name", ["credential-process", ...KEY, ...ARNS.slice(0, 4), "--role-arn", "arn:aws:iam::1:role/p/"], 3, /^roles-anywhere-agent: invalid role ARN 'arn:aws:iam::1:role\/p\/': the role name '' is not valid \(/],
    ["a role name of 65 characters", ["credential-process", ...KEY, ...ARNS.slice(0, 4), "--role-arn", `arn:aws:iam::1:role/${"n".repeat(65)}`], 3, /the role name 'n{65}' is not valid/],
    ["a role name with a character IAM refuses", ["credential-process", ...KEY, ...ARNS.slice(0, 4), "--role-arn", "arn:aws:iam::1:role/a*b"], 3, /the role name 'a\*b' is not valid/],
    ["a trust anchor ARN with an escape", ["credential-process", ...KEY, "--trust-anchor-arn", `${TA}\u001b[2J`, ...ARNS.slice(2)], 3, /^roles-anywhere-agent: invalid trust anchor ARN: character 61 is U\+001B \(/],
    ["a profile ARN whose id is empty after a slash", ["credential-process", ...KEY, ...ARNS.slice(0, 2), "--profile-arn", `${PA}/`, ...ARNS.slice(4)], 3, /resource must be 'profile\/<id>'/],
    ["a role ARN of 100,000 characters, not quoted back", ["credential-process", ...KEY, ...ARNS.slice(0, 4), "--role-arn", `arn:aws:iam::1:role/${"p/".repeat(50_000)}R`], 3, /^roles-anywhere-agent: invalid role ARN: 100021 characters, more than an ARN's 2048\n$/],
    ["a role ARN without an account", ["credential-process", ...KEY, ...ARNS.slice(0, 4), "--role-arn", "arn:aws:iam:::role/R"], 3, /invalid role ARN 'arn:aws:iam:::role\/R': expected arn:<partition>:iam::<account>:role\/<name>/],
    ["a trust anchor ARN without an account", ["credential-process", ...KEY, "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1::trust-anchor/ta", ...ARNS.slice(2)], 3, /invalid trust anchor ARN '.*': the account section is empty/],
    ["a profile ARN with a space", ["credential-process", ...KEY, ...ARNS.slice(0, 2), "--profile-arn", `${PA} x`, ...ARNS.slice(4)], 3, /invalid profile ARN: character 55 is U\+0020/],
    // Before: any --role-session-name reached the signer (a PIN spent) and then CreateSession's 400.
    ...["a", "a\nFORGED", "a b", "x".repeat(65), "é-name"].map((name) => [`--role-session-name ${JSON.stringify(name.slice(0, 12))}`, ["credential-process", ...KEY, ...ARNS, "--role-session-name", name], 2, /^roles-anywhere-agent: --role-session-name must be 2 to 64 characters from letters, digits and _\+=,\.@-\n$/] as const),
    // Before: "no role named  is served" (an empty name), and "a=R=x" served role R.
    ["serve: --ecs-consumer with an empty role", ["serve", ...KEY, ...ARNS, "--ecs", "--ecs-consumer", "a=", "--port", "0"], 2, /^roles-anywhere-agent: --ecs-consumer a=: no role named '' is served \(served roles: device\)\n$/],
    ["serve: --ecs-consumer with a second =", ["serve", ...KEY, ...ARNS, "--ecs", "--ecs-consumer", "a=device=x", "--port", "0"], 2, /--ecs-consumer a=device=x: no role named 'device=x' is served/],
    ["a partition without dual-stack endpoints", ["credential-process", ...KEY, ...ARNS, "--region", "us-iso-east-1"], 3, /DualStack is enabled but this partition does not support DualStack/, { AWS_USE_DUALSTACK_ENDPOINT: "true" }],
  ] as const)("%s", async (_name, argv, code, pattern, env?: NodeJS.ProcessEnv) => {
    const r = await run(argv, env);
    expect(r.stderr).toMatch(pattern);
    expect(r.code).toBe(code);
    expect(createSigner).not.toHaveBeenCalled();
  });

  it("the SDK provider throws at once", () => {
    const options = { certificate: join(dir, "missing", "cert.pem"), trustAnchorArn: TA, profileArn: PA_WEST, roleArn: RA };
    expect(() => fromRolesAnywhere(options)).toThrow(expect.objectContaining({ code: "REGION_MISMATCH" }));
    expect(createSigner).not.toHaveBeenCalled();
  });

  it("an empty value of a flag the Go helper has means not given, as in Go (scripts pass \"$X\" with X unset)", async () => {
    const r = await run(["credential-process", ...KEY, ...ARNS, "--intermediates", "", "--region=", "--role-session-name", ""]);
    expect(r.stderr).toMatch(/does not exist/);
    expect(createSigner).toHaveBeenCalledTimes(1);
  });

  it("while valid settings do reach the signer (which then finds no key file)", async () => {
    const r = await run(["credential-process", ...KEY, ...ARNS]);
    expect(r.stderr).toMatch(/does not exist/);
    expect(createSigner).toHaveBeenCalledTimes(1);
  });
});

describe("each setting's type is checked by the settings module, named as its origin names it", () => {
  it("flags, a config profile and the SDK's options get the one check, driven by SETTINGS_FIELDS' kinds", async () => {
    const { credentialSettings, FLAG_ORIGIN, profileOrigin } = await import("../../src/settings/credential-settings.js");
    const input = { certificate: "c.pem", trustAnchorArn: TA, profileArn: PA, roleArn: RA, durationSeconds: "900" as never };
    expect(() => credentialSettings(input, FLAG_ORIGIN)).toThrow(
      expect.objectContaining({ code: "USAGE", message: "--session-duration must be a number" }),
    );
    expect(() => credentialSettings(input, profileOrigin('config c.json: profile "p"'))).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID", message: 'config c.json: profile "p": field "session-duration" must be a number' }),
    );
    const pin = { kind: "file", path: 5 } as unknown as string;
    const sdk = { certificate: "c.pem", trustAnchorArn: TA, profileArn: PA, roleArn: RA, pkcs11: { pin } };
    expect(() => fromRolesAnywhere(sdk)).toThrow(
      expect.objectContaining({ code: "USAGE", message: expect.stringMatching(/^pkcs11\.pin must be a string, or/) }),
    );
    expect(() => fromRolesAnywhere({ ...sdk, pkcs11: { reusePin: "yes" as unknown as boolean } })).toThrow("pkcs11.reusePin must be a boolean");
    expect(createSigner).not.toHaveBeenCalled();
  });

  it("an invalid endpoint is named as it was given: --endpoint, the profile's field, the SDK's option", async () => {
    const { credentialSettings, profileOrigin } = await import("../../src/settings/credential-settings.js");
    const why = (from: string) => `(from ${from}): scheme 'ftp' is not supported`;
    const { stderr } = await run(["credential-process", ...KEY, ...ARNS, "--endpoint", "ftp://x"]);
    expect(stderr).toContain(why("--endpoint"));
    const input = { certificate: "c.pem", trustAnchorArn: TA, profileArn: PA, roleArn: RA, endpoint: "ftp://x" };
    expect(() => credentialSettings(input, profileOrigin('config c.json: profile "p"'))).toThrow(why('field "endpoint"'));
    expect(() => fromRolesAnywhere(input)).toThrow(why("endpoint"));
    expect(createSigner).not.toHaveBeenCalled();
  });
});
