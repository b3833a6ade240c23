import type { CliIo, ParsedArgs } from "../cli/command.js";
import { InputError } from "../errors.js";
import { credentialSettingsFromArgs, type CredentialSettings } from "./credential-settings.js";
import { loadConfig } from "./load-config.js";
import type { AgentConfig } from "./parse-config.js";
import { SECRET_FIELD_FLAGS, type ProfileField, type ProfileSettings } from "./profile-fields.js";
import { ownValue } from "../own-value.js";

/** The settings of profile `name`, or CONFIG_PROFILE_NOT_FOUND listing the ones that exist. */
export function findProfile(config: AgentConfig, name: string): ProfileSettings {
  const settings = config.profiles.get(name);
  if (!settings) {
    const known = [...config.profiles.keys()];
    throw new InputError("CONFIG_PROFILE_NOT_FOUND", `profile "${name}" is not defined in ${config.path}`, {
      hint: known.length ? `defined profiles: ${known.join(", ")}` : 'the file has no profiles: add one under "profiles"',
    });
  }
  return settings;
}

/** Flag name → the flags that set the same secret (a flag from the group given on the command line wins). */
const SECRET_GROUP_OF_FLAG: ReadonlyMap<string, readonly string[]> = new Map(
  Object.values(SECRET_FIELD_FLAGS).flatMap((f) => f.group.map((flag) => [flag, f.group] as const)),
);

/**
 * Merges a profile into parsed command-line arguments: every profile field becomes the value of the flag of
 * the same name unless the user set that flag (flags win). For secrets, any flag of the same secret (e.g.
 * `--pkcs11-pin-env` against a profile's `pkcs11-pin: file:…`) overrides the profile's source.
 * `explicit` is left as the user's own, so flag-conflict checks keep applying to what the user typed.
 */
export function mergeProfileIntoArgs(settings: ProfileSettings, args: ParsedArgs): ParsedArgs {
  const values: Record<string, string | boolean | number | string[] | undefined> = { ...args.values };
  const overridden = (flag: string) =>
    args.explicit.has(flag) || (SECRET_GROUP_OF_FLAG.get(flag) ?? []).some((f) => args.explicit.has(f));
  for (const [field, value] of Object.entries(settings) as [ProfileField, string | number | boolean][]) {
    if (field === "description") continue;
    const secret = ownValue<{ file: string; env: string }>(SECRET_FIELD_FLAGS, field);
    if (secret) {
      const text = value as string;
      if (text === "prompt") continue;
      const flag = text.startsWith("env:") ? secret.env : secret.file;
      if (overridden(flag)) continue;
      // The parent-password flag takes the file:/env: form itself; the others take the bare path or name.
      values[flag] = field === "tpm-parent-password" ? text : text.slice(text.indexOf(":") + 1);
      continue;
    }
    if (overridden(field)) continue;
    values[field] = value;
  }
  return { values, explicit: args.explicit, positionals: args.positionals };
}

/**
 * For `credential-process --profile NAME` (and serve/update): loads the config file (`--config` or the
 * default location), finds the profile and merges it under the flags.
 */
export async function applyConfigProfile(
  args: ParsedArgs,
  profileName: string,
  options: { configPath?: string | undefined; env?: NodeJS.ProcessEnv } = {},
): Promise<ParsedArgs> {
  const config = await loadConfig(options.configPath, options.env ?? process.env);
  return mergeProfileIntoArgs(findProfile(config, profileName), args);
}

const NO_ARGS: ParsedArgs = { values: {}, explicit: new Set(), positionals: [] };

/** The credential settings of profile `name` alone (no flags): what the agent and `serve` use per profile. */
export function profileCredentialSettings(config: AgentConfig, name: string, io: CliIo): CredentialSettings {
  const args = mergeProfileIntoArgs(findProfile(config, name), NO_ARGS);
  return credentialSettingsFromArgs(args, io, `profile "${name}" in ${config.path}`);
}
