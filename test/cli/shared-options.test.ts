import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { CREDENTIAL_PROCESS_FLAGS } from "../../src/cli/commands/credential-process-options.js";
import { parseCommandArgs } from "../../src/cli/parse-args.js";
import { CREDENTIAL_CONFLICTS, SESSION_OPTIONS } from "../../src/cli/shared-options.js";
import { SOURCE_VALUED_SECRETS } from "../../src/secrets/secret-source.js";
import { DEFAULT_TIMEOUT_MS } from "../../src/rolesanywhere/create-session.js";
import { DEFAULT_CONNECT_TIMEOUT_MS } from "../../src/rolesanywhere/http-client.js";
import { DEFAULT_DURATION_SECONDS } from "../../src/rolesanywhere/request.js";
import { DEFAULT_MAX_ATTEMPTS } from "../../src/rolesanywhere/retry.js";

// --help shows these defaults, but the library applies its own (a flag the user did not give is not passed on):
// the two must agree. The option specs cannot import the constants: they are on the launcher's fast path.
describe("the session defaults --help shows", () => {
  it("are the ones the library applies", () => {
    const shown = Object.fromEntries(SESSION_OPTIONS.map((o) => [o.name, o.default]));
    expect(shown).toMatchObject({
      "session-duration": DEFAULT_DURATION_SECONDS,
      timeout: DEFAULT_TIMEOUT_MS / 1000,
      "connect-timeout": DEFAULT_CONNECT_TIMEOUT_MS / 1000,
      "max-attempts": DEFAULT_MAX_ATTEMPTS,
    });
  });
});

describe("the flags that name where a secret comes from", () => {
  it("refuse an empty value in every command: an unset $VAR is not 'no PIN' (then a prompt, or no password at all)", async () => {
    let checked = 0;
    for (const [name, load] of Object.entries(COMMANDS)) {
      for (const o of (await load()).options.filter((o) => /-(file|env)$/.test(o.name))) {
        expect(o.refuseEmpty, `${name} --${o.name}`).toBe(true);
        expect(() => parseCommandArgs({ name, options: [o] }, [`--${o.name}=`]), `${name} --${o.name}`).toThrow(`--${o.name} is empty`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it("that take prompt (SOURCE_VALUED_SECRETS) say so in every command's --help, with file:/path and env:NAME", async () => {
    let checked = 0;
    for (const [name, load] of Object.entries(COMMANDS)) {
      for (const o of (await load()).options.filter((o) => o.name in SOURCE_VALUED_SECRETS)) {
        expect(o.description, `${name} --${o.name}`).toMatch(/file:\/path, env:NAME, prompt\)$/);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  it("exclude each other as the Go helper's groups do: no key password with --no-tpm-key-password, one key password kind", () => {
    const value = (flag: string) => (CREDENTIAL_PROCESS_FLAGS.options.find((o) => o.name === flag)!.type === "boolean" ? [`--${flag}`] : [`--${flag}`, "x"]);
    const pairs: [string, string][] = [
      ["no-tpm-key-password", "tpm-key-password"], ["no-tpm-key-password", "tpm-key-password-file"], ["no-tpm-key-password", "tpm-key-password-env"],
      ["pkcs8-password", "tpm-key-password"], ["tpm-key-password", "reuse-pin"], ["certificate", "cert-selector"], ["agent", "no-agent"],
    ];
    for (const [a, b] of pairs) {
      expect(() => parseCommandArgs(CREDENTIAL_PROCESS_FLAGS, [...value(a), ...value(b)]), `${a} ${b}`).toThrow(/^if any flags in the group/);
    }
    expect(CREDENTIAL_CONFLICTS).toHaveLength(17);
  });
});
