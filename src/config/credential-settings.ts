import { parseProfileArn, parseRoleArn, parseTrustAnchorArn, type ProfileArn, type RoleArn, type TrustAnchorArn } from "../arn.js";
import { boolArg, numberArg, stringArg, type ParsedArgs } from "../cli/command.js";
import { InputError, UsageError } from "../errors.js";
import { parseSecretSource, type SecretSource } from "../secrets/secret-source.js";
import type { SignerOptions } from "../signers/options.js";

/** The role session to ask CreateSession for. */
export interface SessionSettings {
  readonly trustAnchorArn: TrustAnchorArn;
  readonly profileArn: ProfileArn;
  readonly roleArn: RoleArn;
  readonly durationSeconds: number;
  readonly roleSessionName?: string;
  readonly region?: string;
}

/** How to reach the CreateSession endpoint. */
export interface EndpointSettings {
  readonly endpoint?: string;
  readonly useFipsEndpoint?: boolean;
  readonly caBundle?: string;
  readonly verifyTls: boolean;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly maxAttempts?: number;
}

/** Everything needed to turn a key into credentials for one role. */
export interface CredentialSettings {
  readonly signer: SignerOptions;
  readonly session: SessionSettings;
  readonly endpoint: EndpointSettings;
}

/**
 * Builds the settings from parsed arguments (flags, possibly merged with a config profile). `origin` names
 * where the values came from (e.g. `profile "gateway" in /path/config.json`) so that a missing field is
 * reported as a config error naming the profile rather than as a missing flag.
 */
export function credentialSettingsFromArgs(args: ParsedArgs, origin?: string): CredentialSettings {
  const missing = (flag: string): never => {
    if (origin) throw new InputError("CONFIG_INVALID", `${origin} has no "${flag}"`, { hint: `add "${flag}" to the profile or pass --${flag}` });
    throw new UsageError("USAGE", `--${flag} is required`);
  };
  const trustAnchorArn = parseTrustAnchorArn(stringArg(args, "trust-anchor-arn") ?? missing("trust-anchor-arn"));
  const profileArn = parseProfileArn(stringArg(args, "profile-arn") ?? missing("profile-arn"));
  const roleArn = parseRoleArn(stringArg(args, "role-arn") ?? missing("role-arn"));
  if (!stringArg(args, "certificate") && !stringArg(args, "private-key")) missing("certificate");

  const durationSeconds = numberArg(args, "session-duration") ?? 3600;
  if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43200) {
    throw new UsageError("USAGE", `--session-duration ${durationSeconds} is out of range: use 900 to 43200 seconds`);
  }
  const session: SessionSettings = {
    trustAnchorArn,
    profileArn,
    roleArn,
    durationSeconds,
    ...optional("roleSessionName", stringArg(args, "role-session-name")),
    ...optional("region", stringArg(args, "region")),
  };

  const endpoint: EndpointSettings = {
    ...optional("endpoint", stringArg(args, "endpoint")),
    ...optional("useFipsEndpoint", boolArg(args, "use-fips-endpoint") || undefined),
    ...optional("caBundle", stringArg(args, "ca-bundle")),
    verifyTls: !boolArg(args, "no-verify-ssl"),
    connectTimeoutMs: (numberArg(args, "connect-timeout") ?? 10) * 1000,
    timeoutMs: (numberArg(args, "timeout") ?? 30) * 1000,
    ...optional("maxAttempts", numberArg(args, "max-attempts")),
  };

  const pkcs11Pin = secretFrom(args, "pkcs11-pin", undefined);
  const contextPin = secretFrom(args, "pkcs11-context-pin", undefined);
  const keyPassword = secretFrom(args, "pkcs8-password", "pkcs8-password");
  const tpmKeyPassword = secretFrom(args, "tpm-key-password", "tpm-key-password");
  const parentText = stringArg(args, "tpm-parent-password");
  const signer: SignerOptions = {
    ...optional("certificate", stringArg(args, "certificate")),
    ...optional("privateKey", stringArg(args, "private-key")),
    ...optional("intermediates", stringArg(args, "intermediates")),
    ...optional("keyPassword", keyPassword),
    pkcs11: {
      ...optional("library", stringArg(args, "pkcs11-lib")),
      ...optional("pin", pkcs11Pin),
      ...optional("reusePin", boolArg(args, "reuse-pin") || undefined),
      ...optional("contextPin", contextPin),
    },
    tpm: {
      ...optional("device", stringArg(args, "tpm-device")),
      ...optional("keyPassword", tpmKeyPassword),
      ...optional("noKeyPassword", boolArg(args, "no-tpm-key-password") || undefined),
      ...optional("parentPassword", parentText ? parseSecretSource(parentText, "TPM parent password: ") : undefined),
    },
  };
  return { signer, session, endpoint };
}

/** `--X` (literal, when allowed), `--X-file`, `--X-env`, in that order. */
function secretFrom(args: ParsedArgs, base: string, literalFlag: string | undefined): SecretSource | undefined {
  const literal = literalFlag ? stringArg(args, literalFlag) : undefined;
  if (literal !== undefined) return { kind: "value", value: literal };
  const file = stringArg(args, `${base}-file`);
  if (file !== undefined) return { kind: "file", path: file };
  const env = stringArg(args, `${base}-env`);
  if (env !== undefined) return { kind: "env", name: env };
  return undefined;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
