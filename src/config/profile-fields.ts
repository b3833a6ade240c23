import type { SecretSource } from "../secrets/secret-source.js";

/**
 * The fields a named profile may set. Names are exactly the command-line flag names, so a profile reads
 * like the flags it replaces and merging a profile with flags is a per-name affair.
 */

export const PROFILE_FIELD_KINDS = {
  description: "text",
  certificate: "key-source",
  "private-key": "key-source",
  intermediates: "path",
  "trust-anchor-arn": "text",
  "profile-arn": "text",
  "role-arn": "text",
  "session-duration": "integer",
  "role-session-name": "text",
  region: "text",
  endpoint: "text",
  "use-fips-endpoint": "boolean",
  "ca-bundle": "path",
  "no-verify-ssl": "boolean",
  "connect-timeout": "integer",
  timeout: "integer",
  "max-attempts": "integer",
  "pkcs11-lib": "library",
  "reuse-pin": "boolean",
  "pkcs11-pin": "secret",
  "pkcs11-context-pin": "secret",
  "pkcs8-password": "secret",
  "tpm-device": "text",
  "tpm-key-password": "secret",
  "no-tpm-key-password": "boolean",
  "tpm-parent-password": "secret",
} as const;

export type ProfileField = keyof typeof PROFILE_FIELD_KINDS;
export type FieldKind = (typeof PROFILE_FIELD_KINDS)[ProfileField];

type ValueOfKind<K extends FieldKind> = K extends "boolean" ? boolean : K extends "integer" ? number : K extends "secret" ? SecretSource : string;

/**
 * A profile whose values have the types their fields require (paths absolute, secrets as sources); what the
 * values may be is checked by src/settings/ when the file is read.
 */
export type ProfileSettings = { readonly [F in ProfileField]?: ValueOfKind<(typeof PROFILE_FIELD_KINDS)[F]> };

export const PROFILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
