import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../arn.js";
import { InputError, isAgentError, UsageError, type AgentError } from "../errors.js";
import { parseEndpointUrl } from "../rolesanywhere/endpoint.js";
import { checkRegionName } from "../rolesanywhere/region.js";
import { durationProblem } from "../rolesanywhere/request.js";
import { prepareCreateSession } from "../rolesanywhere/signed-request.js";
import type { CreateSessionOptions, CreateSessionParams } from "../rolesanywhere/types.js";
import type { SecretSource } from "../secrets/secret-source.js";
import type { DebugLog, SignerOptions } from "../signers/options.js";

/** Everything needed to turn a key into credentials for one role. */
export interface CredentialSettings {
  readonly signer: SignerOptions;
  readonly session: CreateSessionParams;
  readonly endpoint: CreateSessionOptions;
}

/**
 * The one plain record every source of settings is turned into: command-line flags, a config profile (whose
 * fields are the flags' names) and the SDK provider's options. Times are milliseconds.
 */
export interface SettingsInput {
  readonly certificate?: string | undefined;
  readonly privateKey?: string | undefined;
  readonly intermediates?: string | undefined;
  readonly keyPassword?: SecretSource | undefined;
  readonly pkcs11Library?: string | undefined;
  readonly pkcs11Pin?: SecretSource | undefined;
  readonly pkcs11ContextPin?: SecretSource | undefined;
  readonly reusePin?: boolean | undefined;
  readonly tpmDevice?: string | undefined;
  readonly tpmKeyPassword?: SecretSource | undefined;
  readonly noTpmKeyPassword?: boolean | undefined;
  readonly tpmParentPassword?: SecretSource | undefined;
  readonly trustAnchorArn?: string | undefined;
  readonly profileArn?: string | undefined;
  readonly roleArn?: string | undefined;
  readonly durationSeconds?: number | undefined;
  readonly roleSessionName?: string | undefined;
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly useFipsEndpoint?: boolean | undefined;
  readonly useDualStackEndpoint?: boolean | undefined;
  readonly caBundle?: string | undefined;
  readonly verifyTls?: boolean | undefined;
  readonly connectTimeoutMs?: number | undefined;
  readonly timeoutMs?: number | undefined;
  readonly maxAttempts?: number | undefined;
}

export type SettingsField = keyof SettingsInput;

/** What the settings run with that is not a setting: the environment (AWS_*, proxies, TPM_DEVICE) and --debug. */
export interface SettingsContext {
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly debug?: DebugLog | undefined;
}

/** Where the settings came from: how a field is named in messages, and which error a mistake becomes. */
export interface SettingsOrigin {
  /** `--session-duration`, `durationSeconds`, `field "session-duration"`. */
  name(field: SettingsField): string;
  /** A wrong value; `cause` is the ARN parser's own error. */
  invalid(message: string, cause?: AgentError): AgentError;
  /** A required field (or, for `certificate`, any key at all) is missing. */
  missing(field: "trustAnchorArn" | "profileArn" | "roleArn" | "certificate"): AgentError;
}

const FIRST_SESSION_FIELDS = ["trustAnchorArn", "profileArn", "roleArn"] as const;
const ONE_HOUR_MS = 3_600_000;
const MAX_ATTEMPTS_LIMIT = 10;

/**
 * Validates a record of settings and turns it into the settings the refresh engine runs on. Everything that
 * can be known without a key, token, TPM or network is checked here, before any signer exists: required and
 * well-formed ARNs, trust anchor and profile in the same region, region name, endpoint URL and its
 * FIPS/dual-stack combination, duration, timeouts and attempts, and that some key is given.
 */
export function credentialSettings(input: SettingsInput, origin: SettingsOrigin, context: SettingsContext = {}): CredentialSettings {
  for (const field of FIRST_SESSION_FIELDS) if (!input[field]) throw origin.missing(field);
  if (!input.certificate && !input.privateKey) throw origin.missing("certificate");
  checkSettingsFields(input, origin);
  const session: CreateSessionParams = {
    trustAnchorArn: parseTrustAnchorArn(input.trustAnchorArn!),
    profileArn: parseProfileArn(input.profileArn!),
    roleArn: parseRoleArn(input.roleArn!),
    durationSeconds: input.durationSeconds ?? 3600,
    ...(input.roleSessionName ? { roleSessionName: input.roleSessionName } : {}),
    ...(input.region ? { region: input.region } : {}),
  };
  const endpoint: CreateSessionOptions = {
    ...defined({
      endpoint: input.endpoint || undefined,
      useFipsEndpoint: input.useFipsEndpoint,
      useDualStackEndpoint: input.useDualStackEndpoint,
      caBundle: input.caBundle || undefined,
      verifyTls: input.verifyTls,
      connectTimeoutMs: input.connectTimeoutMs,
      timeoutMs: input.timeoutMs,
      maxAttempts: input.maxAttempts,
    }),
    ...defined(context),
  };
  prepareCreateSession(session, endpoint);
  return { session, endpoint, signer: signerOptions(input, context) };
}

/** The checks of single fields, for whatever the record holds (a config profile is checked so when the file is read). */
export function checkSettingsFields(input: SettingsInput, origin: SettingsOrigin): void {
  const arns = [
    ["trustAnchorArn", parseTrustAnchorArn],
    ["profileArn", parseProfileArn],
    ["roleArn", parseRoleArn],
  ] as const;
  for (const [field, parse] of arns) {
    const text = input[field];
    if (text === undefined) continue;
    try {
      parse(text);
    } catch (e) {
      if (!isAgentError(e)) throw e;
      throw origin.invalid(`${origin.name(field)} is not valid: ${e.message}`, e);
    }
  }
  const problem = (field: SettingsField, text: string | undefined): void => {
    if (text !== undefined) throw origin.invalid(`${origin.name(field)} ${text}`);
  };
  if (input.durationSeconds !== undefined) problem("durationSeconds", durationProblem(input.durationSeconds));
  for (const field of ["connectTimeoutMs", "timeoutMs"] as const) {
    const ms = input[field];
    if (ms !== undefined && !(ms > 0 && ms <= ONE_HOUR_MS)) problem(field, "must be more than 0 and at most one hour");
  }
  const attempts = input.maxAttempts;
  if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1 && attempts <= MAX_ATTEMPTS_LIMIT)) {
    problem("maxAttempts", `must be a whole number between 1 and ${MAX_ATTEMPTS_LIMIT}`);
  }
  for (const [field, check] of [["endpoint", parseEndpointUrl], ["region", checkRegionName]] as const) {
    const text = input[field];
    if (!text) continue;
    try {
      check(text);
    } catch (e) {
      if (!isAgentError(e)) throw e;
      throw origin.invalid(`${origin.name(field)} is not valid: ${e.message}`, e);
    }
  }
}

/** The signer's part of the settings (also what the key-only commands, sign-string and csr, use). */
export function signerOptions(input: SettingsInput, context: SettingsContext = {}): SignerOptions {
  return {
    ...defined({
      certificate: input.certificate || undefined,
      privateKey: input.privateKey || undefined,
      intermediates: input.intermediates || undefined,
      keyPassword: input.keyPassword,
    }),
    pkcs11: {
      ...defined({ library: input.pkcs11Library || undefined, pin: input.pkcs11Pin, contextPin: input.pkcs11ContextPin }),
      reusePin: input.reusePin === true,
    },
    tpm: {
      ...defined({ device: input.tpmDevice || undefined, keyPassword: input.tpmKeyPassword, parentPassword: input.tpmParentPassword }),
      noKeyPassword: input.noTpmKeyPassword === true,
    },
    ...defined(context),
  };
}

/** A stable text of the settings for change detection on reload (functions and the environment left out). */
export function settingsFingerprint(settings: CredentialSettings): string {
  return JSON.stringify(settings, (key, value: unknown) => (key === "env" || typeof value === "function" ? undefined : value));
}

/** The object without its undefined properties (the settings carry only what was given). */
function defined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** Settings from command-line flags (messages name the flag). */
export const FLAG_ORIGIN: SettingsOrigin = {
  name: (field) => `--${FLAG_OF_FIELD[field]}`,
  invalid: (message, cause) => cause ?? new UsageError("USAGE", message),
  missing: (field) =>
    field === "certificate"
      ? new UsageError("USAGE", "no private key given", {
          hint: "pass --private-key (a key file, pkcs11: URI or handle:0x…), or --certificate with a combined PEM or PKCS#12 file",
        })
      : new UsageError("USAGE", `--${FLAG_OF_FIELD[field]} is required`, {
          hint: "give --trust-anchor-arn, --profile-arn and --role-arn (or --profile NAME with a config file)",
        }),
};

/** Settings from the SDK provider's options (messages name the option). */
export const OPTIONS_ORIGIN: SettingsOrigin = {
  name: (field) => field,
  invalid: (message, cause) => cause ?? new UsageError("USAGE", message),
  missing: (field) =>
    field === "certificate"
      ? new UsageError("USAGE", "no key given", {
          hint: "set privateKey (a key file, pkcs11: URI, TSS2 key file or handle:0x…) and certificate, or certificate alone with a combined PEM, PKCS#12 file or pkcs11: URI",
        })
      : new UsageError("USAGE", `${field} is required`),
};

/**
 * Settings from a config profile, `where` naming it (`config /path: profile "gateway"`); every mistake is a
 * CONFIG_INVALID that names the profile and field. With `flags`, command-line flags were merged over the
 * profile: a wrong value then names the flag (the profile's own values were checked when the file was read).
 */
export function profileOrigin(where: string, flags = false): SettingsOrigin {
  return {
    name: flags ? FLAG_ORIGIN.name : (field) => `field "${FLAG_OF_FIELD[field]}"`,
    invalid: flags ? FLAG_ORIGIN.invalid : (message) => new InputError("CONFIG_INVALID", `${where}: ${message}`),
    missing: (field) =>
      field === "certificate"
        ? new InputError("CONFIG_INVALID", `${where} has neither "certificate" nor "private-key"`, {
            hint: 'add "certificate" (and "private-key" when the key is elsewhere) to the profile',
          })
        : new InputError("CONFIG_INVALID", `${where} has no "${FLAG_OF_FIELD[field]}"`, {
            hint: `add "${FLAG_OF_FIELD[field]}" to the profile or pass --${FLAG_OF_FIELD[field]}`,
          }),
  };
}

/** Each field's command-line flag, which is also its name in a config profile. */
export const FLAG_OF_FIELD = {
  certificate: "certificate",
  privateKey: "private-key",
  intermediates: "intermediates",
  keyPassword: "pkcs8-password",
  pkcs11Library: "pkcs11-lib",
  pkcs11Pin: "pkcs11-pin",
  pkcs11ContextPin: "pkcs11-context-pin",
  reusePin: "reuse-pin",
  tpmDevice: "tpm-device",
  tpmKeyPassword: "tpm-key-password",
  noTpmKeyPassword: "no-tpm-key-password",
  tpmParentPassword: "tpm-parent-password",
  trustAnchorArn: "trust-anchor-arn",
  profileArn: "profile-arn",
  roleArn: "role-arn",
  durationSeconds: "session-duration",
  roleSessionName: "role-session-name",
  region: "region",
  endpoint: "endpoint",
  useFipsEndpoint: "use-fips-endpoint",
  useDualStackEndpoint: "use-dual-stack-endpoint",
  caBundle: "ca-bundle",
  verifyTls: "no-verify-ssl",
  connectTimeoutMs: "connect-timeout",
  timeoutMs: "timeout",
  maxAttempts: "max-attempts",
} as const satisfies Record<SettingsField, string>;
