import { cutAt, escapeControls, MAX_LOG_LINE, UsageError } from "../errors.js";
import { ownValue } from "../own-value.js";
import type { CertificateWarning } from "../credentials/credential-source.js";
import type { TokenSessionOptions } from "../pkcs11/token-session-options.js";
import { heldSecret, heldValue, parseSecretSource, SOURCE_VALUED_SECRETS, type SecretSource } from "../secrets/secret-source.js";
import type { AgentConfig } from "../config/parse-config.js";
import { eachProfileSettings, profileCredentialSettings } from "../config/resolve-profile.js";
import { credentialSettings, FLAG_ORIGIN, inputFromFlags, SETTINGS_FIELDS, signerOptions, type CredentialSettings, type FlagRecord } from "../settings/credential-settings.js";
import type { SignerOptions } from "../signers/options.js";
import type { Signer } from "../signers/signer.js";
import { logTo } from "../daemon/signals.js";
import { heldSecrets } from "../credentials/signer-holder.js";
import { DAY_MS, DEFAULT_EXPIRY_WARNING_DAYS } from "../x509/validity.js";
import { boolArg, integerArg, stringArg, type CliIo, type ParsedArgs } from "./command.js";

/** OS certificate-store flags exist for drop-in compatibility but mean nothing on Linux. */
export function rejectOsStoreFlags(args: ParsedArgs): void {
  for (const flag of ["cert-selector", "system-store-name", "use-latest-expiring-certificate"]) {
    if (args.explicit.has(flag)) {
      throw new UsageError("UNSUPPORTED_ON_PLATFORM", `--${flag} selects from the macOS/Windows certificate store, which is not available on Linux`, {
        hint: "use --certificate with a file or a pkcs11: URI instead",
      });
    }
  }
}

/** One secret from a `--x`, `--x-file`, `--x-env` trio (at most one may be given), or a SOURCE_VALUED_SECRETS flag. */
export function secretFromArgs(args: ParsedArgs, flag: string): SecretSource | undefined {
  const value = args.explicit.has(flag) ? stringArg(args, flag) ?? "" : undefined;
  const file = stringArg(args, `${flag}-file`);
  const env = stringArg(args, `${flag}-env`);
  const given = [value !== undefined, file !== undefined, env !== undefined].filter(Boolean).length;
  if (given > 1) throw new UsageError("USAGE", `give only one of --${flag}, --${flag}-file and --${flag}-env`);
  if (file !== undefined) return { kind: "file", path: file };
  if (env !== undefined) return { kind: "env", name: env };
  if (value === undefined || value === "") return undefined;
  const prompt = ownValue(SOURCE_VALUED_SECRETS, flag);
  if (prompt === undefined) return heldValue(value);
  // Parsed under the flag's name, so that an `env:` or `file:` without its name is a usage error of that flag.
  const source = parseSecretSource(value, `--${flag}`);
  return source.kind === "prompt" ? { kind: "prompt", prompt } : source.kind === "value" ? heldValue(source.value) : source;
}

export function debugLogger(args: ParsedArgs, io: CliIo): ((line: string) => void) | undefined {
  // Escaped: a line quotes what a token, file or peer wrote (a label with a line break or a terminal escape).
  return boolArg(args, "debug") ? (line: string) => io.stderr.write(`debug: ${cutAt(escapeControls(line), MAX_LOG_LINE)}\n`) : undefined;
}

/** `--pkcs11-lib`, the token PIN and `--debug`, for the commands that reach a token directly (keygen, install-certificate, …). */
export function tokenAccessFromArgs(args: ParsedArgs, io: CliIo): Omit<TokenSessionOptions, "uri"> {
  return { library: stringArg(args, "pkcs11-lib"), pin: secretFromArgs(args, "pkcs11-pin"), debug: debugLogger(args, io), env: io.env };
}

/** The settings flags the user gave (defaults are the settings' own), each secret from its flag trio. */
export function flagRecordFromArgs(args: ParsedArgs): FlagRecord {
  rejectOsStoreFlags(args);
  const record: Record<string, unknown> = {};
  try {
    for (const [flag, kind] of Object.values(SETTINGS_FIELDS)) {
      const value = args.values[flag];
      if (kind === "secret") record[flag] = secretFromArgs(args, flag);
      else if (args.explicit.has(flag) && value !== "" && !Array.isArray(value)) record[flag] = value;
    }
  } catch (error) {
    wipeHeld(record); // a later secret flag is wrong: no source will own those before it
    throw error;
  }
  return record as FlagRecord;
}

/**
 * Wipes the secrets held as bytes (heldValue, a URI's pin-value) that no source will own: a flag record's, or the
 * signer options' of a one-shot command once it ends.
 */
export function wipeHeld(held: FlagRecord | SignerOptions): void {
  const secrets = [...Object.values(held).map((v) => heldSecret(v as SecretSource)), ...heldSecrets(held as SignerOptions)];
  secrets.forEach((secret) => secret?.wipe());
}

/**
 * Validated settings from the flags alone, or one per profile of the config file (`--config`) with the flags over it:
 * `loaded` when the caller read it already (then its row and these settings judge the same read).
 */
export async function settingsFromArgs(
  args: ParsedArgs,
  io: CliIo,
  profiles: readonly string[] = [],
  onConfig?: (config: AgentConfig) => void,
  loaded?: AgentConfig,
): Promise<CredentialSettings[]> {
  const records = [flagRecordFromArgs(args)];
  try {
    const wait = waitForDeviceFromArgs(args, io);
    const withWait = (s: CredentialSettings): CredentialSettings => ({ ...s, signer: { ...s.signer, ...wait } });
    const context = { env: io.env, debug: debugLogger(args, io) };
    if (profiles.length === 0) return [withWait(credentialSettings(inputFromFlags(records[0]!), FLAG_ORIGIN, context))];
    const config = loaded ?? (await (await import("../config/load-config.js")).loadConfig(stringArg(args, "config"), io.env));
    onConfig?.(config);
    // Each profile its own held secrets (flagRecordFromArgs again): each source wipes its own when it closes.
    return eachProfileSettings(profiles, (name, i) => {
      if (i > 0) records.push(flagRecordFromArgs(args));
      return withWait(profileCredentialSettings(config, name, context, records[i]));
    });
  } catch (error) {
    records.forEach(wipeHeld); // no source will own them (a SIGHUP with a broken config would leave one more copy per reload)
    throw error;
  }
}

/** The signer settings alone, for the commands that only use the key (sign-string, csr, install-certificate). */
export function signerOptionsFromArgs(args: ParsedArgs, io: CliIo): SignerOptions {
  const context = { env: io.env, debug: debugLogger(args, io) };
  const wait = waitForDeviceFromArgs(args, io); // checked first: then no held secret is left behind by its error
  return { ...signerOptions(inputFromFlags(flagRecordFromArgs(args)), context), ...wait };
}

/** A one-shot command's signer: closed after `use`, and the secrets `options` hold as bytes wiped (no source owns them). */
export async function withSigner<T>(options: SignerOptions, use: (signer: Signer) => Promise<T>): Promise<T> {
  try {
    const { createSigner } = await import("../signers/factory.js");
    const signer = await createSigner(options);
    try {
      return await use(signer);
    } finally {
      await signer.close();
    }
  } finally {
    wipeHeld(options);
  }
}

/** `--wait-for-device SECONDS`, checked, as the signer options that carry it (a per-invocation flag, not a profile setting). */
export function waitForDeviceFromArgs(args: ParsedArgs, io: CliIo): Pick<SignerOptions, "waitForDeviceMs" | "onDeviceWait"> {
  const seconds = integerArg(args, "wait-for-device", 0, 86_400, "is out of range: give whole seconds from 0 to 86400");
  return !seconds ? {} : { waitForDeviceMs: seconds * 1000, onDeviceWait: logTo(io.stderr) };
}

/** `--certificate-warning-days`, checked; 0 means never warn. */
export function certificateWarningDays(args: ParsedArgs): number {
  return integerArg(args, "certificate-warning-days", 0, 3650, "is out of range: use 0 (never warn) to 3650") ?? DEFAULT_EXPIRY_WARNING_DAYS;
}

/** The `certificateWarning` option of a credential source, from --certificate-warning-days: warnings go to stderr. */
export function certificateWarningFromArgs(args: ParsedArgs, io: CliIo): CertificateWarning | undefined {
  const days = certificateWarningDays(args);
  return days === 0 ? undefined : { windowMs: days * DAY_MS, log: logTo(io.stderr) };
}
