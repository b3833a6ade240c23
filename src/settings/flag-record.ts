import type { SecretSource } from "../secrets/secret-source.js";
import { FLAG_OF_FIELD, type SettingsField, type SettingsInput } from "./credential-settings.js";

/**
 * Settings named as the command-line flags are, which a config profile's fields are too: `session-duration`
 * in seconds, `no-verify-ssl`, and each secret under its own name (`pkcs11-pin`) as a {@link SecretSource}.
 */
export type FlagRecord = Readonly<Record<string, string | number | boolean | SecretSource | undefined>>;

/** Flags that set the same thing: one given on the command line replaces all of them from the profile. */
const SAME_SETTING: readonly (readonly string[])[] = [["tpm-key-password", "no-tpm-key-password"]];

/** A profile's record with command-line flags over it: a flag the user gave wins. */
export function mergeFlagRecords(profile: FlagRecord, flags: FlagRecord): FlagRecord {
  const merged: Record<string, FlagRecord[string]> = { ...profile };
  for (const group of SAME_SETTING) if (group.some((f) => flags[f] !== undefined)) for (const f of group) delete merged[f];
  for (const [flag, value] of Object.entries(flags)) if (value !== undefined) merged[flag] = value;
  return merged;
}

/** The record as {@link SettingsInput}: seconds become milliseconds, `no-verify-ssl` becomes `verifyTls: false`. */
export function inputFromFlags(record: FlagRecord): SettingsInput {
  const input: Record<string, unknown> = {};
  for (const [field, flag] of Object.entries(FLAG_OF_FIELD) as [SettingsField, string][]) {
    if (Object.hasOwn(record, flag) && record[flag] !== undefined) input[field] = record[flag];
  }
  const seconds = (flag: string) => (typeof record[flag] === "number" ? (record[flag] as number) * 1000 : undefined);
  return {
    ...input,
    verifyTls: record["no-verify-ssl"] === true ? false : undefined,
    connectTimeoutMs: seconds("connect-timeout"),
    timeoutMs: seconds("timeout"),
  };
}
