import { dropFailures } from "../debug-log.js";
import { boundedLine, UsageError } from "../errors.js";
import { nearestNames } from "../nearest-names.js";
import { ENVIRONMENT, isPlainObject, ownCopy, ownValue, wrongOption } from "../own-value.js";
import type { CreateSessionOptions } from "../rolesanywhere/types.js";
import { heldSecret, heldValue, type SecretSource } from "../secrets/secret-source.js";
import {
  credentialSettings,
  SETTINGS_FIELDS,
  type CredentialSettings,
  type SettingsField,
  type SettingsInput,
  type SettingsOrigin,
} from "../settings/credential-settings.js";
import { noKeyHint } from "../signers/options.js";

/**
 * A PIN or password: a string is the secret itself; a {@link SecretSource} reads it when the key is opened
 * (`{ kind: "file", path }`, or `{ kind: "env", name }` from `process.env`), which keeps it out of your code
 * and config.
 */
export type SecretInput = string | SecretSource;

/**
 * Options of {@link fromRolesAnywhere}. They mirror the `credential-process` flags of the CLI (and of
 * aws_signing_helper): `certificate` is `--certificate`, `privateKey` is `--private-key`, and so on. How to reach
 * CreateSession (`endpoint` to `maxAttempts`): the same settings, defaults and documentation as the client's own options.
 */
export interface RolesAnywhereProviderOptions extends Pick<
  CreateSessionOptions,
  "endpoint" | "useFipsEndpoint" | "useDualStackEndpoint" | "caBundle" | "verifyTls" | "connectTimeoutMs" | "timeoutMs" | "maxAttempts"
> {
  /** PEM/DER certificate file (may hold the chain, or the key too), PKCS#12 file, or `pkcs11:` URI. */
  readonly certificate?: string;
  /** Key file (PKCS#8, encrypted PKCS#8, SEC1, PKCS#1), `pkcs11:` URI, TSS2 TPM key file, or `handle:0x81…`. */
  readonly privateKey?: string;
  /** PEM bundle of intermediate CA certificates, sent as `X-Amz-X509-Chain`. */
  readonly intermediates?: string;
  /** Password of an encrypted PKCS#8 key or of a PKCS#12 file. */
  readonly keyPassword?: SecretInput;

  readonly trustAnchorArn: string;
  readonly profileArn: string;
  readonly roleArn: string;
  /** 900 to 43200 seconds (the profile may allow less). Default 3600. */
  readonly durationSeconds?: number;
  readonly roleSessionName?: string;
  /** Signing and endpoint region. Default: the trust anchor ARN's region. */
  readonly region?: string;

  readonly pkcs11?: {
    /** PKCS#11 module. Default: the URI's `module-path`, else the p11-kit proxy. */
    readonly library?: string;
    /** Token PIN, when the URI has no `pin-value`/`pin-source`. */
    readonly pin?: SecretInput;
    /** Use the user PIN for `CKA_ALWAYS_AUTHENTICATE` keys too. */
    readonly reusePin?: boolean;
    /** A different context-specific PIN for `CKA_ALWAYS_AUTHENTICATE` keys. */
    readonly contextPin?: SecretInput;
  };
  readonly tpm?: {
    /** `/dev/tpmrm0` (default, or `TPM_DEVICE`), a device path, `unix:/path` or `tcp:host:port`. */
    readonly device?: string;
    readonly keyPassword?: SecretInput;
    /** The `handle:` key has no password. */
    readonly noKeyPassword?: boolean;
    /** Use `keyPassword` although the key file says emptyAuth TRUE (files from tpm2_encodeobject before tpm2-tools 5.7). */
    readonly ignoreEmptyAuth?: boolean;
    /** Password of the parent key or hierarchy. */
    readonly parentPassword?: SecretInput;
  };

  /** Environment for `AWS_*`, proxy, `TPM_DEVICE` and PKCS#11 defaults. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Receives diagnostic lines (endpoint, canonical request, string to sign, status); never a secret. */
  readonly debug?: (line: string) => void;
}

/** The settings given under `pkcs11` and `tpm`: where. */
const NESTED: Partial<Record<SettingsField, readonly ["pkcs11" | "tpm", string]>> = {
  pkcs11Library: ["pkcs11", "library"], pkcs11Pin: ["pkcs11", "pin"], reusePin: ["pkcs11", "reusePin"],
  pkcs11ContextPin: ["pkcs11", "contextPin"], tpmDevice: ["tpm", "device"], tpmKeyPassword: ["tpm", "keyPassword"],
  noTpmKeyPassword: ["tpm", "noKeyPassword"], tpmIgnoreEmptyAuth: ["tpm", "ignoreEmptyAuth"],
  tpmParentPassword: ["tpm", "parentPassword"],
};
const HINT = "see the options of fromRolesAnywhere in docs/integrations.md";

/** Settings from the SDK provider's options: messages name the option (the settings module checks each one's type). */
const OPTIONS_ORIGIN: SettingsOrigin = {
  name: (field) => ownValue(NESTED, field)?.join(".") ?? field,
  invalid: (message, cause) => cause ?? new UsageError("USAGE", message, { hint: HINT }),
  missing: (field) =>
    field === "certificate"
      ? new UsageError("USAGE", "no private key given", { hint: noKeyHint("options") })
      : new UsageError("USAGE", `${field} is required`),
};

/**
 * The options as validated settings; throws for what can be known without the key or the network. A missing PIN or
 * password is never asked for on the application's terminal (it would hang every call): the error names the option.
 */
export function credentialSettingsFromOptions(given: RolesAnywhereProviderOptions): CredentialSettings {
  const o = optionsOnce(given);
  const wrong = wrongOption(o, {
    pkcs11: "object", tpm: "object", env: ENVIRONMENT, debug: "function", onRefresh: "function",
  });
  if (wrong) throw new UsageError("USAGE", wrong, { hint: HINT });
  checkKnownOptions(o);
  const input: Record<string, unknown> = {};
  try {
    for (const field of Object.keys(SETTINGS_FIELDS) as SettingsField[]) {
      const [group, name] = ownValue(NESTED, field) ?? [];
      const value = group ? (o[group] as Record<string, unknown> | undefined)?.[name!] : o[field as keyof typeof o];
      input[field] = SETTINGS_FIELDS[field][1] === "secret" ? secretSource(value) : value;
    }
    const context = { env: o.env, debug: dropFailures(o.debug) };
    const settings = credentialSettings(input as SettingsInput, OPTIONS_ORIGIN, context);
    return { ...settings, signer: { ...settings.signer, prompt: false, names: "options" } };
  } catch (error) {
    Object.values(input).forEach((v) => heldSecret(v as SecretSource)?.wipe()); // no provider will own them
    throw error;
  }
}

/**
 * The options as read once, own properties only (`pkcs11` and `tpm` too), into objects without a prototype: a getter
 * runs once, so the value checked is the value used, and no inherited property (nor one a polluted Object.prototype
 * adds: an endpoint, `verifyTls`, a PKCS#11 module) is taken for an option. Idempotent.
 */
export function optionsOnce<O extends RolesAnywhereProviderOptions>(given: O): O {
  const wrong = wrongOption({ options: given }, { options: "object" }, { name: () => "the options", required: ["options"] });
  if (wrong) throw new UsageError("USAGE", wrong, { hint: HINT });
  const o = ownCopy(given);
  for (const group of ["pkcs11", "tpm"] as const) {
    const value = o[group];
    if (value !== undefined && !wrongOption({ [group]: value }, { [group]: "object" })) o[group] = ownCopy(value as object);
  }
  // A caller's environment is read here, once, as the options are: a getter or Proxy there would otherwise be read at
  // each refresh, after its check (a number for AWS_MAX_ATTEMPTS). Node's own process.env stays live (strings only).
  if (isPlainObject(o["env"]) && o["env"] !== process.env) o["env"] = ownCopy(o["env"]);
  return o as O;
}

/** Option names, nested ones as `tpm.keyPassword`: an unknown one is a typo that would silently be ignored. */
export const KNOWN_OPTIONS: ReadonlySet<string> = new Set([...(Object.keys(SETTINGS_FIELDS) as SettingsField[]).map((f) => ownValue(NESTED, f)?.join(".") ?? f),
  "pkcs11", "tpm", "env", "debug", "onRefresh"]);

/** Refuses an unknown option (a typo such as `tpm.keypassword` would open the key with no password). */
function checkKnownOptions(o: RolesAnywhereProviderOptions): void {
  const nested = (["pkcs11", "tpm"] as const).map((group) => Object.keys(o[group] ?? {}).map((k) => `${group}.${k}`));
  const names = Object.keys(o).concat(...nested);
  const unknown = names.find((name) => !KNOWN_OPTIONS.has(name));
  if (unknown === undefined) return;
  const [guess] = nearestNames(unknown, KNOWN_OPTIONS);
  const hint = guess ? `did you mean "${guess}"?` : HINT;
  throw new UsageError("USAGE", `unknown option ${JSON.stringify(boundedLine(unknown, 57))}`, { hint });
}

/** A plain string is the secret itself: never parsed, so a PIN such as `env:1234` means what it says. */
function secretSource(input: unknown): SecretSource | undefined {
  if (typeof input === "string") return input === "" ? undefined : heldValue(input);
  if (!isPlainObject(input)) return input as undefined; // refused by the settings' type check, unless undefined
  const { kind, value, path, name, prompt } = input; // each read once: the kind checked is the kind kept
  if (kind === "value" && typeof value === "string") return heldValue(value);
  // Only the field its kind reads: a `value` beside a `path` is not kept for the provider's life.
  return { kind, ...(kind === "file" ? { path } : kind === "env" ? { name } : kind === "prompt" ? { prompt } : { value }) } as SecretSource;
}
