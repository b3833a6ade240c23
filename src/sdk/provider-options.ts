import { UsageError } from "../errors.js";
import { isPlainObject } from "../own-value.js";
import type { CreateSessionOptions } from "../rolesanywhere/types.js";
import { isSecretSource, SECRET_SOURCE_FORMS, type SecretSource } from "../secrets/secret-source.js";
import { credentialSettings, OPTIONS_ORIGIN, type CredentialSettings, type SettingsInput } from "../settings/credential-settings.js";

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

/** The options as validated settings; throws for what can be known without the key or the network. */
export function credentialSettingsFromOptions(o: RolesAnywhereProviderOptions): CredentialSettings {
  checkTypes(o, "", OPTION_TYPES);
  const input: SettingsInput = {
    ...o,
    keyPassword: secretSource(o.keyPassword),
    pkcs11Library: o.pkcs11?.library,
    pkcs11Pin: secretSource(o.pkcs11?.pin),
    pkcs11ContextPin: secretSource(o.pkcs11?.contextPin),
    reusePin: o.pkcs11?.reusePin,
    tpmDevice: o.tpm?.device,
    tpmKeyPassword: secretSource(o.tpm?.keyPassword),
    noTpmKeyPassword: o.tpm?.noKeyPassword,
    tpmIgnoreEmptyAuth: o.tpm?.ignoreEmptyAuth,
    tpmParentPassword: secretSource(o.tpm?.parentPassword),
  };
  // A faulty debug callback, like a faulty onRefresh listener, must not break getting credentials.
  const debug = o.debug && ((line: string) => {
    try {
      o.debug!(line);
    } catch {
      /* dropped */
    }
  });
  return credentialSettings(input, OPTIONS_ORIGIN, { env: o.env, debug });
}

type Types = { readonly [name: string]: "string" | "number" | "boolean" | "function" | "object" | "secret" | Types };
const each = (type: "string" | "number" | "boolean", names: string) =>
  Object.fromEntries(names.split(" ").map((n) => [n, type]));
const OPTION_TYPES: Types = {
  ...each("string", "certificate privateKey intermediates trustAnchorArn profileArn roleArn roleSessionName region"),
  ...each("string", "endpoint caBundle"),
  ...each("number", "durationSeconds connectTimeoutMs timeoutMs maxAttempts"),
  ...each("boolean", "useFipsEndpoint useDualStackEndpoint verifyTls"),
  keyPassword: "secret",
  pkcs11: { library: "string", pin: "secret", reusePin: "boolean", contextPin: "secret" },
  tpm: { device: "string", keyPassword: "secret", parentPassword: "secret",
    ...each("boolean", "noKeyPassword ignoreEmptyAuth") },
  env: "object",
  debug: "function",
  onRefresh: "function",
};

/** Plain JavaScript callers get a USAGE error naming the option, not a TypeError from deep inside; never the secret. */
function checkTypes(o: unknown, prefix: string, types: Types): void {
  const hint = "see the options of fromRolesAnywhere in docs/integrations.md";
  const wrong = (name: string, want: string) =>
    new UsageError("USAGE", `${name || "the options"} must be ${want}`, { hint });
  if (!isPlainObject(o)) throw wrong(prefix.slice(0, -1), "an object");
  for (const [field, type] of Object.entries(types)) {
    const value = o[field];
    const name = prefix + field;
    if (value === undefined) continue;
    if (typeof type === "object") checkTypes(value, `${name}.`, type);
    else if (type === "secret") {
      if (typeof value !== "string" && !isSecretSource(value)) throw wrong(name, `a string, or ${SECRET_SOURCE_FORMS}`);
    } else if (type === "object" ? !isPlainObject(value) : typeof value !== type) {
      throw wrong(name, `${type === "object" ? "an" : "a"} ${type}`);
    }
  }
}

/** A plain string is the secret itself: never parsed, so a PIN such as `env:1234` means what it says. */
function secretSource(input: SecretInput | undefined): SecretSource | undefined {
  if (typeof input !== "string") return input && ({ ...input } as SecretSource);
  return input === "" ? undefined : { kind: "value", value: input };
}
