import { UsageError } from "../errors.js";
import type { SecretSource } from "../secrets/secret-source.js";
import { parseSecretSource } from "../secrets/secret-source.js";
import type { SignerOptions } from "../signers/options.js";
import { boolArg, stringArg, type CliIo, type ParsedArgs } from "./command.js";

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

/** One secret from a `--x`, `--x-file`, `--x-env` trio; at most one may be given. */
export function secretFromArgs(args: ParsedArgs, flag: string, promptText?: string): SecretSource | undefined {
  const value = args.explicit.has(flag) ? stringArg(args, flag) ?? "" : undefined;
  const file = stringArg(args, `${flag}-file`);
  const env = stringArg(args, `${flag}-env`);
  const given = [value !== undefined, file !== undefined, env !== undefined].filter(Boolean).length;
  if (given > 1) throw new UsageError("USAGE", `give only one of --${flag}, --${flag}-file and --${flag}-env`);
  if (file !== undefined) return { kind: "file", path: file };
  if (env !== undefined) return { kind: "env", name: env };
  if (value !== undefined && value !== "") return promptText ? parseSecretSource(value, promptText) : { kind: "value", value };
  return undefined;
}

export function debugLogger(args: ParsedArgs, io: CliIo): ((line: string) => void) | undefined {
  return boolArg(args, "debug") ? (line: string) => io.stderr.write(`debug: ${line}\n`) : undefined;
}

/** Translates the Go helper's signer flags (plus our secret-source additions) into SignerOptions. */
export function signerOptionsFromArgs(args: ParsedArgs, io: CliIo): SignerOptions {
  rejectOsStoreFlags(args);
  const pin = secretFromArgs(args, "pkcs11-pin");
  const contextPin = secretFromArgs(args, "pkcs11-context-pin");
  const tpmKeyPassword = secretFromArgs(args, "tpm-key-password");
  const parentPassword = stringArg(args, "tpm-parent-password");
  const keyPassword = secretFromArgs(args, "pkcs8-password");
  const debug = debugLogger(args, io);
  return {
    ...(stringArg(args, "certificate") ? { certificate: stringArg(args, "certificate")! } : {}),
    ...(stringArg(args, "private-key") ? { privateKey: stringArg(args, "private-key")! } : {}),
    ...(stringArg(args, "intermediates") ? { intermediates: stringArg(args, "intermediates")! } : {}),
    ...(keyPassword ? { keyPassword } : {}),
    pkcs11: {
      ...(stringArg(args, "pkcs11-lib") ? { library: stringArg(args, "pkcs11-lib")! } : {}),
      ...(pin ? { pin } : {}),
      ...(contextPin ? { contextPin } : {}),
      reusePin: boolArg(args, "reuse-pin"),
    },
    tpm: {
      ...(stringArg(args, "tpm-device") ? { device: stringArg(args, "tpm-device")! } : {}),
      ...(tpmKeyPassword ? { keyPassword: tpmKeyPassword } : {}),
      ...(parentPassword ? { parentPassword: parseSecretSource(parentPassword, "TPM parent password: ") } : {}),
      noKeyPassword: boolArg(args, "no-tpm-key-password"),
      ...(boolArg(args, "tpm-ignore-empty-auth") ? { ignoreEmptyAuth: true } : {}),
    },
    ...(debug ? { debug } : {}),
    ...waitForDeviceFromArgs(args, io),
    env: io.env,
  };
}

/** `--wait-for-device SECONDS`, checked, as the signer options that carry it. */
export function waitForDeviceFromArgs(args: ParsedArgs, io: CliIo): Pick<SignerOptions, "waitForDeviceMs" | "onDeviceWait"> {
  const seconds = args.values["wait-for-device"];
  if (typeof seconds !== "number") return {};
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 86_400) {
    throw new UsageError("USAGE", `--wait-for-device ${seconds} is out of range: give whole seconds from 0 to 86400`);
  }
  return seconds === 0 ? {} : { waitForDeviceMs: seconds * 1000, onDeviceWait: (line) => io.stderr.write(`${line}\n`) };
}
