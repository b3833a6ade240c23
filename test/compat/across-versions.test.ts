/**
 * A fleet upgrades the package in place and keeps its units and config files: install-systemd is not run again on
 * every device, nor every config rewritten. What this release (0.1.0) writes or documents must keep working in later
 * releases: a flag renamed or removed is a usage error (exit 2), which RestartPreventExitStatus=2 keeps from being
 * restarted, and a config field renamed or removed is CONFIG_INVALID (exit 3): the service would stay down after the
 * upgrade. Frozen here on purpose; add a release's lines when they change, never edit these.
 */
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { parseConfig, PROFILE_FIELD_KINDS } from "../../src/config/parse-config.js";
import { parseCommandArgs } from "../../src/cli/parse-args.js";
import { generateFiles } from "../../src/systemd/unit-files.js";

/** ExecStart= of 0.1.0's units after `dist/cli.js`, with --profile gateway and --pin-file (the ECS line commented). */
const UNITS_0_1_0 = [
  "serve --config /etc/roles-anywhere-agent/config.json --profile gateway --port 9911 --pkcs11-pin-file %d/pkcs11-pin",
  "serve --config /etc/roles-anywhere-agent/config.json --profile gateway --ecs --port 0 --ecs-env-dir /run/roles-anywhere-agent --pkcs11-pin-file %d/pkcs11-pin",
  "update --config /etc/roles-anywhere-agent/config.json --config-profile gateway --pkcs11-pin-file %d/pkcs11-pin",
  "update --once --config /etc/roles-anywhere-agent/config.json --config-profile gateway --pkcs11-pin-file %d/pkcs11-pin",
  "agent",
];

async function parses(line: string): Promise<void> {
  const [command, ...args] = line.split(" ");
  const load = COMMANDS[command!];
  expect(load, line).toBeDefined();
  const spec = await load!();
  expect(() => parseCommandArgs(spec, args), line).not.toThrow();
}

describe("units across versions", () => {
  it("the command lines of 0.1.0's units still parse", async () => {
    for (const line of UNITS_0_1_0) await parses(line);
  });

  it("so do the ones this version writes (the generator and the parser agree)", async () => {
    const files = generateFiles({
      node: "/usr/bin/node", cli: "/usr/lib/node_modules/roles-anywhere-agent/dist/cli.js",
      configPath: "/etc/roles-anywhere-agent/config.json", profile: "gateway", port: 9911, user: "roles-anywhere",
      tpmDevice: "/dev/tpmrm0", notify: true, protectHome: "yes", pinFile: "/etc/roles-anywhere-agent/pin",
    });
    const lines = files.flatMap((f) => [...f.content.matchAll(/^#?ExecStart=\S+ (?:--\S+ )*\S+\/dist\/cli\.js (.+)$/gm)].map((m) => m[1]!));
    expect(lines.length).toBe(UNITS_0_1_0.length);
    for (const line of lines) await parses(line);
  });
});

/** The config file's profile fields of 0.1.0 (docs/long-running.md, "The config file"), with their kinds. */
const PROFILE_FIELDS_0_1_0 = {
  description: "text", certificate: "key-source", "private-key": "key-source", intermediates: "path", "pkcs8-password": "secret",
  "pkcs11-lib": "library", "pkcs11-pin": "secret", "pkcs11-context-pin": "secret", "reuse-pin": "boolean", "tpm-device": "text",
  "tpm-key-password": "secret", "no-tpm-key-password": "boolean", "tpm-ignore-empty-auth": "boolean", "tpm-parent-password": "secret",
  "trust-anchor-arn": "text", "profile-arn": "text", "role-arn": "text", "session-duration": "integer", "role-session-name": "text",
  region: "text", endpoint: "text", "use-fips-endpoint": "boolean", "ca-bundle": "path", "no-verify-ssl": "boolean",
  "connect-timeout": "integer", timeout: "integer", "max-attempts": "integer",
};

describe("config files across versions", () => {
  it("every profile field of 0.1.0 is still read, as the same kind of value", () => {
    expect(Object.fromEntries(Object.keys(PROFILE_FIELDS_0_1_0).map((f) => [f, PROFILE_FIELD_KINDS[f]]))).toEqual(PROFILE_FIELDS_0_1_0);
  });

  it("a 0.1.0 file with every top-level key still parses", () => {
    const text = JSON.stringify({
      $schema: "https://example.invalid/schema.json",
      version: 1,
      profiles: { gw: { certificate: "/etc/raa/gw.pem", "private-key": "/etc/raa/gw.key", "pkcs8-password": "file:/etc/raa/pw" } },
      agent: { profiles: ["gw"], socket: "/run/user/1000/roles-anywhere-agent.sock" },
    });
    expect(parseConfig(text, "/etc/raa/config.json", "/root").agent.profiles).toEqual(["gw"]);
  });
});
