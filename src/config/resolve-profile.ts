import { boundedLine, InputError, UsageError } from "../errors.js";
import { credentialSettings, inputFromFlags, mergeFlagRecords, profileOrigin, type CredentialSettings, type FlagRecord, type SettingsContext } from "../settings/credential-settings.js";
import { heldSecret } from "../secrets/secret-source.js";
import type { AgentConfig, ProfileSettings } from "./parse-config.js";

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

/** The validated credential settings of profile `name`, with `flags` (from the command line) over it. */
export function profileCredentialSettings(config: AgentConfig, name: string, context: SettingsContext, flags: FlagRecord = {}): CredentialSettings {
  const record = mergeFlagRecords(findProfile(config, name), flags);
  const withFlags = Object.values(flags).some((v) => v !== undefined);
  const origin = profileOrigin(`config ${config.path}: profile "${name}"`, withFlags);
  return credentialSettings(inputFromFlags(record, origin), origin, context);
}

/** `build` for each profile; when one fails, the URI pin-values of those built before it are wiped (no source owns them). */
export function eachProfileSettings(names: readonly string[], build: (name: string, i: number) => CredentialSettings): CredentialSettings[] {
  // Twice, a daemon would serve it by two sources of one name: both opened, the first never closed.
  const twice = names.find((name, i) => names.indexOf(name) < i);
  if (twice !== undefined) throw new UsageError("USAGE", `profile ${JSON.stringify(boundedLine(twice, 64))} is named twice`, { hint: "name each profile once" });
  const built: CredentialSettings[] = [];
  try {
    for (const [i, name] of names.entries()) built.push(build(name, i));
    return built;
  } catch (error) {
    for (const s of built) heldSecret(s.signer.pkcs11?.uriPin)?.wipe();
    throw error;
  }
}
