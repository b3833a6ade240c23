/**
 * The fields a named profile may set. Names are exactly the command-line flag names, so a profile reads
 * like the flags it replaces and merging a profile with flags is a per-name affair.
 */

export const PROFILE_FIELD_KINDS = {
  description: "text",
  certificate: "key-source",
  "private-key": "key-source",
  intermediates: "path",
  "trust-anchor-arn": "trust-anchor-arn",
  "profile-arn": "profile-arn",
  "role-arn": "role-arn",
  "session-duration": "duration",
  "role-session-name": "text",
  region: "text",
  endpoint: "url",
  "use-fips-endpoint": "boolean",
  "ca-bundle": "path",
  "no-verify-ssl": "boolean",
  "connect-timeout": "seconds",
  timeout: "seconds",
  "max-attempts": "count",
  "pkcs11-lib": "library",
  "reuse-pin": "boolean",
  "pkcs11-pin": "secret",
  "pkcs11-context-pin": "secret",
  "pkcs8-password": "secret",
  "tpm-device": "text",
  "tpm-key-password": "secret",
  "no-tpm-key-password": "boolean",
  "tpm-ignore-empty-auth": "boolean",
  "tpm-parent-password": "secret",
} as const;

export type ProfileField = keyof typeof PROFILE_FIELD_KINDS;
export type FieldKind = (typeof PROFILE_FIELD_KINDS)[ProfileField];

type ValueOfKind<K extends FieldKind> = K extends "boolean" ? boolean : K extends "duration" | "seconds" | "count" ? number : string;

/** A validated profile: every value has the type its field requires; paths are absolute. */
export type ProfileSettings = { readonly [F in ProfileField]?: ValueOfKind<(typeof PROFILE_FIELD_KINDS)[F]> };

/**
 * Secret fields (written `file:/path`, `env:NAME` or `prompt` in the config file) and the flags each maps to.
 * A `prompt` source maps to no flag: the back-end then asks on the terminal, as without any option.
 */
export const SECRET_FIELD_FLAGS = {
  "pkcs11-pin": { file: "pkcs11-pin-file", env: "pkcs11-pin-env", group: ["pkcs11-pin-file", "pkcs11-pin-env"] },
  "pkcs11-context-pin": {
    file: "pkcs11-context-pin-file",
    env: "pkcs11-context-pin-env",
    group: ["pkcs11-context-pin-file", "pkcs11-context-pin-env"],
  },
  "pkcs8-password": {
    file: "pkcs8-password-file",
    env: "pkcs8-password-env",
    group: ["pkcs8-password", "pkcs8-password-file", "pkcs8-password-env"],
  },
  "tpm-key-password": {
    file: "tpm-key-password-file",
    env: "tpm-key-password-env",
    group: ["tpm-key-password", "tpm-key-password-file", "tpm-key-password-env", "no-tpm-key-password"],
  },
  // This flag takes the `file:`/`env:` form itself.
  "tpm-parent-password": { file: "tpm-parent-password", env: "tpm-parent-password", group: ["tpm-parent-password"] },
} as const satisfies Partial<Record<ProfileField, { file: string; env: string; group: readonly string[] }>>;

export const PROFILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
