import { parseProfileArn, parseRoleArn, parseTrustAnchorArn, type ProfileArn, type RoleArn, type TrustAnchorArn } from "../arn.js";
import { InputError, isAgentError, UsageError, type AgentError } from "../errors.js";
import { parseEndpointUrl } from "../rolesanywhere/endpoint.js";
import { checkRegionName } from "../rolesanywhere/region.js";
import { DEFAULT_DURATION_SECONDS, NUMBER_RULES, roleSessionNameProblem } from "../rolesanywhere/request.js";
import { prepareCreateSession } from "../rolesanywhere/signed-request.js";
import type { CreateSessionOptions, CreateSessionParams } from "../rolesanywhere/types.js";
import { wholeNumberProblem, wrongOption, type Kind } from "../own-value.js";
import { heldAnswer, isSecretSource, SECRET_SOURCE_FORMS, type SecretSource } from "../secrets/secret-source.js";
import { isPkcs11Uri, parseWithoutPin, takePinValue } from "../pkcs11/uri.js";
import { noKeyHint, type DebugLog, type SignerOptions } from "../signers/options.js";

/** Everything needed to turn a key into credentials for one role. */
export interface CredentialSettings {
  readonly signer: SignerOptions;
  readonly session: CreateSessionParams;
  readonly endpoint: CreateSessionOptions;
}

/**
 * Every setting: its command-line flag, which is also its name in a config profile, and its kind there (paths are
 * resolved against the file's directory; a key source or library may also be a URI, handle or bare library name).
 * `connectTimeoutMs` and `timeoutMs` are seconds as flags; `verifyTls` is the flag `no-verify-ssl`, inverted.
 */
export const SETTINGS_FIELDS = {
  certificate: ["certificate", "key-source"],
  privateKey: ["private-key", "key-source"],
  intermediates: ["intermediates", "path"],
  keyPassword: ["pkcs8-password", "secret"],
  pkcs11Library: ["pkcs11-lib", "library"],
  pkcs11Pin: ["pkcs11-pin", "secret"],
  pkcs11ContextPin: ["pkcs11-context-pin", "secret"],
  reusePin: ["reuse-pin", "boolean"],
  tpmDevice: ["tpm-device", "text"],
  tpmKeyPassword: ["tpm-key-password", "secret"],
  noTpmKeyPassword: ["no-tpm-key-password", "boolean"],
  tpmIgnoreEmptyAuth: ["tpm-ignore-empty-auth", "boolean"],
  tpmParentPassword: ["tpm-parent-password", "secret"],
  trustAnchorArn: ["trust-anchor-arn", "text"],
  profileArn: ["profile-arn", "text"],
  roleArn: ["role-arn", "text"],
  durationSeconds: ["session-duration", "integer"],
  roleSessionName: ["role-session-name", "text"],
  region: ["region", "text"],
  endpoint: ["endpoint", "text"],
  useFipsEndpoint: ["use-fips-endpoint", "boolean"],
  useDualStackEndpoint: ["use-dual-stack-endpoint", "boolean"],
  caBundle: ["ca-bundle", "path"],
  verifyTls: ["no-verify-ssl", "boolean"],
  connectTimeoutMs: ["connect-timeout", "integer"],
  timeoutMs: ["timeout", "integer"],
  maxAttempts: ["max-attempts", "integer"],
} as const;

type Fields = typeof SETTINGS_FIELDS;
export type SettingsField = keyof Fields;

/** Each kind as the JavaScript type a record must hold (a secret as the SDK takes it: flags and config are parsed). */
const JS_KINDS: Readonly<Record<Fields[SettingsField][1], Kind>> = {
  "key-source": "string", path: "string", library: "string", text: "string", integer: "number", boolean: "boolean",
  secret: [isSecretSource, `a string, or ${SECRET_SOURCE_FORMS}`],
};
const FIELD_KINDS: Record<string, Kind> = {};
for (const field of Object.keys(SETTINGS_FIELDS)) FIELD_KINDS[field] = JS_KINDS[SETTINGS_FIELDS[field as SettingsField][1]];

type ValueOf<T> = T extends "secret" ? SecretSource : T extends "boolean" ? boolean : T extends "integer" ? number : string;

/** The one plain record every source of settings (flags, a config profile, SDK options) is turned into. */
export type SettingsInput = { readonly [F in SettingsField]?: ValueOf<Fields[F][1]> | undefined };

/** The same settings named as flags (and config profile fields) are: times in seconds, secrets under their own name. */
export type FlagRecord = { readonly [F in SettingsField as Fields[F][0]]?: ValueOf<Fields[F][1]> | undefined };

/** What the settings run with that is not a setting: the environment (AWS_*, proxies, TPM_DEVICE) and --debug. */
export interface SettingsContext {
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly debug?: DebugLog | undefined;
}

/** Where the settings came from: how a field is named in messages, and which error a mistake becomes. */
export interface SettingsOrigin {
  /** `--session-duration`, `durationSeconds`, `field "session-duration"`. */
  name(field: SettingsField): string;
  /** A wrong value; `cause` is the parser's own error (ARN, URL, region). */
  invalid(message: string, cause?: AgentError): AgentError;
  /** A required ARN is missing, or (`certificate`) no key at all is given. */
  missing(field: "trustAnchorArn" | "profileArn" | "roleArn" | "certificate"): AgentError;
}

/**
 * Validates a record of settings and turns it into the settings the refresh engine runs on. Everything that
 * can be known without a key, token, TPM or network is checked here, before any signer exists.
 */
export function credentialSettings(input: SettingsInput, origin: SettingsOrigin, context: SettingsContext = {}): CredentialSettings {
  for (const field of ["trustAnchorArn", "profileArn", "roleArn"] as const) if (!input[field]) throw origin.missing(field);
  if (!input.certificate && !input.privateKey) throw origin.missing("certificate");
  checkSettingsFields(input, origin);
  // checkSettingsFields has parsed the three ARNs.
  const session: CreateSessionParams = {
    trustAnchorArn: input.trustAnchorArn as TrustAnchorArn,
    profileArn: input.profileArn as ProfileArn,
    roleArn: input.roleArn as RoleArn,
    durationSeconds: input.durationSeconds ?? DEFAULT_DURATION_SECONDS,
    ...defined({ roleSessionName: input.roleSessionName || undefined, region: input.region || undefined }),
  };
  const { endpoint, useFipsEndpoint, useDualStackEndpoint, caBundle, verifyTls, connectTimeoutMs, timeoutMs, maxAttempts } = input;
  const options: CreateSessionOptions = {
    ...defined({ endpoint: endpoint || undefined, useFipsEndpoint, useDualStackEndpoint, caBundle: caBundle || undefined, verifyTls, connectTimeoutMs, timeoutMs, maxAttempts }),
    ...defined(context),
  };
  prepareCreateSession(session, options);
  return { session, endpoint: options, signer: signerOptions(input, context) };
}

/** The checks of single fields, for whatever the record holds (a config profile's are run when the file is read). */
export function checkSettingsFields(input: SettingsInput, origin: SettingsOrigin): void {
  const wrong = wrongOption(input, FIELD_KINDS, { name: origin.name as (field: string) => string }); // from JavaScript
  if (wrong) throw origin.invalid(wrong);
  const endpoint = (url: string) => parseEndpointUrl(url, "option", origin.name("endpoint")); // named as given
  // A pkcs11: URI that does not parse would keep its pin-value in the settings' text (and a config file holding it
  // would not be judged a secret file): refused here, its pin-value wiped as it is parsed.
  const uri = (text: string) => isPkcs11Uri(text) && parseWithoutPin(text);
  const parsers = [["trustAnchorArn", parseTrustAnchorArn], ["profileArn", parseProfileArn], ["roleArn", parseRoleArn],
    ["endpoint", endpoint], ["region", checkRegionName], ["privateKey", uri], ["certificate", uri]] as const;
  for (const [field, parse] of parsers) {
    try {
      if (input[field]) parse(input[field]);
    } catch (e) {
      if (!isAgentError(e)) throw e;
      throw origin.invalid(`${origin.name(field)} is not valid: ${e.message}`, e);
    }
  }
  for (const [field, [min, max]] of Object.entries(NUMBER_RULES) as [keyof typeof NUMBER_RULES, readonly number[]][]) {
    const problem = input[field] === undefined ? undefined : wholeNumberProblem(input[field], min!, max!);
    if (problem) throw origin.invalid(`${origin.name(field)} ${problem}`);
  }
  const nameProblem = input.roleSessionName && roleSessionNameProblem(input.roleSessionName);
  if (nameProblem) throw origin.invalid(`${origin.name("roleSessionName")} ${nameProblem}`);
}

/** The signer's part of the settings (also what the key-only commands, sign-string and csr, use). */
export function signerOptions(i: SettingsInput, context: SettingsContext = {}): SignerOptions {
  // A pkcs11: URI's pin-value as held bytes (uriPin), not in the URI's text, which the settings keep for a daemon's life.
  const [key, cert] = [i.privateKey, i.certificate].map((ref) => (ref ? takePinValue(ref) : undefined));
  if (key) cert?.pin.wipe(); // the key's wins
  const uriPin = (key ?? cert) && heldAnswer((key ?? cert)!.pin, "value");
  return {
    ...defined({ certificate: cert?.text ?? (i.certificate || undefined), privateKey: key?.text ?? (i.privateKey || undefined), intermediates: i.intermediates || undefined, keyPassword: i.keyPassword }),
    pkcs11: { ...defined({ library: i.pkcs11Library || undefined, pin: i.pkcs11Pin, contextPin: i.pkcs11ContextPin, uriPin }), reusePin: i.reusePin === true },
    tpm: { ...defined({ device: i.tpmDevice || undefined, keyPassword: i.tpmKeyPassword, parentPassword: i.tpmParentPassword }), noKeyPassword: i.noTpmKeyPassword === true, ...(i.tpmIgnoreEmptyAuth === true ? { ignoreEmptyAuth: true } : {}) },
    ...defined(context),
  };
}

/** A profile's record with command-line flags over it: a flag the user gave wins (either TPM key password flag replaces both). */
export function mergeFlagRecords(profile: FlagRecord, flags: FlagRecord): FlagRecord {
  const tpm = flags["tpm-key-password"] !== undefined || flags["no-tpm-key-password"] !== undefined;
  const base = tpm ? { ...profile, "tpm-key-password": undefined, "no-tpm-key-password": undefined } : profile;
  return { ...base, ...defined(flags) };
}

/**
 * A flag-named record as {@link SettingsInput}: `no-verify-ssl` becomes `verifyTls: false`, and seconds become
 * milliseconds, judged first as written (×1000 then ÷1000 quoted 0.0491 as 0.04909999999999999), named by `origin`.
 */
export function inputFromFlags(record: FlagRecord, origin: SettingsOrigin = FLAG_ORIGIN): SettingsInput {
  // Loops, not entries/fromEntries: those made ~60 short-lived arrays per call on every cold start.
  const input: Record<string, unknown> = {};
  for (const field of Object.keys(SETTINGS_FIELDS)) input[field] = (record as Record<string, unknown>)[SETTINGS_FIELDS[field as SettingsField][0]];
  input["verifyTls"] = record["no-verify-ssl"] ? false : undefined;
  for (const field of ["connectTimeoutMs", "timeoutMs"] as const) {
    const seconds = input[field];
    if (typeof seconds !== "number") continue; // anything else: refused as it is
    const problem = wholeNumberProblem(seconds, 1, NUMBER_RULES[field][1] / 1000);
    if (problem) throw origin.invalid(`${origin.name(field)} ${problem}`);
    input[field] = seconds * 1000;
  }
  return input as SettingsInput;
}

/** A stable text of the settings for change detection on reload (functions and the environment left out). */
export function settingsFingerprint(settings: CredentialSettings): string {
  return JSON.stringify(settings, (key, value: unknown) => (key === "env" || typeof value === "function" ? undefined : value));
}

/** The object without its undefined properties (the settings carry only what was given). */
function defined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) {
    const value = (o as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

const flagOf = (field: SettingsField) => SETTINGS_FIELDS[field][0];

/** Settings from command-line flags: messages name the flag. */
export const FLAG_ORIGIN: SettingsOrigin = {
  name: (field) => `--${flagOf(field)}`,
  invalid: (message, cause) => cause ?? new UsageError("USAGE", message),
  missing: (field) =>
    field === "certificate"
      ? new UsageError("USAGE", "no private key given", { hint: noKeyHint() })
      : new UsageError("USAGE", `--${flagOf(field)} is required`, { hint: "give --trust-anchor-arn, --profile-arn and --role-arn (or --profile NAME with a config file)" }),
};

/**
 * Settings from a config profile, `where` naming it (`config /path: profile "gateway"`): every mistake is a
 * CONFIG_INVALID that names the profile and field. With `flags` merged over the profile, a wrong value names the
 * flag (the profile's own values were checked when the file was read).
 */
export function profileOrigin(where: string, flags = false): SettingsOrigin {
  const fail = (what: string, hint?: string) => new InputError("CONFIG_INVALID", `${where}${what}`, hint ? { hint } : {});
  return {
    name: flags ? FLAG_ORIGIN.name : (field) => `field "${flagOf(field)}"`,
    invalid: flags ? FLAG_ORIGIN.invalid : (message, cause) => fail(`: ${message}`, cause?.hint), // the parser's hint, as a flag's
    missing: (field) =>
      field === "certificate"
        ? fail(' has neither "certificate" nor "private-key"', 'add "certificate" (and "private-key" when the key is elsewhere) to the profile')
        : fail(` has no "${flagOf(field)}"`, `add "${flagOf(field)}" to the profile or pass --${flagOf(field)}`),
  };
}
