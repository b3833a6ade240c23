import { SETTINGS_FIELDS, type FlagRecord } from "../settings/credential-settings.js";

/**
 * The fields a named profile may set: the settings (src/settings/), named exactly as their command-line flags,
 * so a profile reads like the flags it replaces and merging a profile with flags is a per-name affair.
 */
export type FieldKind = "text" | "key-source" | "path" | "library" | "secret" | "boolean" | "integer";

/** How a field's JSON value is read; paths are resolved against the file's directory. */
const PATH_KINDS: Readonly<Record<string, FieldKind>> = { certificate: "key-source", "private-key": "key-source", intermediates: "path", "ca-bundle": "path", "pkcs11-lib": "library" };

export const PROFILE_FIELD_KINDS: Readonly<Record<string, FieldKind>> = Object.fromEntries([
  ["description", "text"],
  ...Object.values(SETTINGS_FIELDS)
    .filter(([flag]) => flag !== "use-dual-stack-endpoint") // no such flag either
    .map(([flag, type]) => [flag, PATH_KINDS[flag] ?? (type === "string" ? "text" : type)]),
]);

/** A profile whose values have the types their fields require (paths absolute, secrets as sources). */
export type ProfileSettings = FlagRecord & { readonly description?: string };

export const PROFILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
