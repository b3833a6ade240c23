import type { SecretSource } from "../secrets/secret-source.js";
import type { Certificate } from "../x509/certificate.js";
import type { DebugLog } from "../debug-log.js";
import type { InputBytes } from "../io/input-file.js";
import { UsageError } from "../errors.js";
import { wrongOption, type Kind, type Kinds } from "../own-value.js";
import type { Secret } from "../secrets/secret.js";
import type { CertificateFile } from "../x509/read-certificates.js";
import type { ParsedTss2Key } from "./tpm/tpm-signer.js";

export type { DebugLog };

/**
 * Whether a key reference names a TPM key by its handle (`handle:0x81…`): by that prefix, as the Go helper asks
 * (`strings.HasPrefix`); `HANDLE:…` is a file name there, and so here, wherever a key reference is read.
 */
export function isTpmHandleRef(ref: string): boolean {
  return ref.startsWith("handle:");
}

/**
 * What the user asked for, in the Go helper's terms (`--certificate`, `--private-key`, …). The factory
 * (`createSigner`) decides which back-end that means, following aws_signing_helper's GetSigner rules.
 */
export interface SignerOptions {
  /** `--certificate`: PEM/DER file (optionally with chain and even the key), PKCS#12 file, or `pkcs11:` URI. */
  certificate?: string;
  /** `--private-key`: key file, `pkcs11:` URI, TSS2 key file or `handle:0x81…`. */
  privateKey?: string;
  /** `--intermediates`: PEM bundle of intermediate CAs. */
  intermediates?: string;
  /** Password of an encrypted PKCS#8 key or a PKCS#12 file. */
  keyPassword?: SecretSource;
  pkcs11?: Pkcs11Settings;
  tpm?: TpmSettings;
  debug?: DebugLog;
  /** Environment to read PKCS11/TPM defaults from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** `--wait-for-device`: keep trying this long while the token or TPM is absent (never on other errors). */
  waitForDeviceMs?: number;
  /** Told once when waiting for the device starts. */
  onDeviceWait?: (line: string) => void;
  /**
   * Sign with file keys on libuv's thread pool (long-running programs: agent, serve, update, the SDK provider),
   * so that a large RSA key never stops the event loop. One-shot commands sign synchronously (no thread start-up).
   */
  signOffThread?: boolean;
  /**
   * Ask on the terminal for a PIN or password that was not given (default true). false (a library's callers, such as
   * the SDK provider): fail instead, naming the option that gives it (`keyPassword`, `pkcs11.pin`, …).
   */
  prompt?: boolean;
  /** How hints name the option to change: `"flags"` (default), the CLI's; `"options"`, these (a library, the SDK). */
  names?: OptionNames;
  /**
   * Internal (signer-holder.ts): a token's user PIN or a TPM key password typed when none was given, kept for the
   * holder's re-opens (never asked again).
   */
  askedPin?: { pin?: KeptPin };
}

/**
 * Doctor's reads, which the signer takes as they are (factory.ts createSignerWith); not a {@link SignerOptions} field,
 * where a library caller's keyFile would stand for the file and silence the warnings about it.
 */
export interface ReadAlready {
  /** The key file (`privateKey`, else `certificate`) as read and judged; `tss2Key`, its TSS2 key as doctor parsed it. */
  keyFile?: InputBytes & { tss2Key?: Promise<ParsedTss2Key> };
  /** `intermediates` as read and parsed. */
  intermediatesFile?: CertificateFile;
  /** Internal (doctor): `certificate`, when `privateKey` is another file, as already read (then wiped as one read here). */
  certificateFile?: InputBytes;
}

export type OptionNames = "flags" | "options";
/** {@link OptionNames} as an option kind (own-value.ts wrongOption), for callers in plain JavaScript. */
export const OPTION_NAMES: Kind = [(n) => n === "flags" || n === "options", '"flags" or "options"'];

/** The options a hint names: their paths here (the SDK's, generateTpmKey's, buildCsr's) and the CLI's flags. */
const FLAGS = {
  certificate: "--certificate", privateKey: "--private-key", intermediates: "--intermediates",
  keyPassword: "--pkcs8-password-file FILE or --pkcs8-password-env NAME",
  "pkcs11.pin": "pin-source=, --pkcs11-pin-file or --pkcs11-pin-env", "pkcs11.reusePin": "--reuse-pin",
  "pkcs11.contextPin": "--pkcs11-context-pin-file / -env", "tpm.keyPassword": "--tpm-key-password",
  "tpm.ignoreEmptyAuth": "--tpm-ignore-empty-auth", "tpm.device": "--tpm-device",
  "tpm.parentPassword": '--tpm-parent-password or a config profile\'s "tpm-parent-password"',
  "pkcs11.library": "--pkcs11-lib",
  // generateKeyOnToken, installOnToken and listPkcs11Certificates (TokenSessionOptions)
  library: "--pkcs11-lib", pin: "pin-source=, --pkcs11-pin-file or --pkcs11-pin-env", label: "--label",
  spec: "--key-type", replace: "--replace",
  // generateTpmKey (TpmKeygenOptions) and buildCsr (CsrRequest)
  device: "--tpm-device", parent: "--tpm-parent", parentPassword: "--tpm-parent-password",
  ownerPassword: "--tpm-owner-password", "target.overwrite": "--force", "request.subject": "--subject",
} as const;

/** `option` as the caller gives it (see {@link SignerOptions.names}). */
export const optionName = (names: OptionNames | undefined, o: keyof typeof FLAGS) => names === "options" ? o : FLAGS[o];

/** A library entry point's options from plain JavaScript: the first of another kind is refused as `<entry>: …`. */
export function refuseWrongOptions(entry: string, options: unknown, kinds: Kinds, required?: readonly string[]): void {
  const wrong = wrongOption(options, kinds, { required });
  if (wrong) throw new UsageError("USAGE", `${entry}: ${wrong}`);
}

/** The hint for no private key given (also the settings'); `orCertificate`: also a combined certificate file. */
export const noKeyHint = (names?: OptionNames, orCertificate = true): string =>
  `pass ${optionName(names, "privateKey")} (a key file, pkcs11: URI or handle:0x…)` +
  (orCertificate ? `, or ${optionName(names, "certificate")} with a combined PEM or PKCS#12 file` : "");

/** KEY_CERTIFICATE_MISMATCH's hint for a token or TPM key (and doctor's key check). */
export const mismatchHint = (names?: OptionNames): string =>
  `point ${optionName(names, "privateKey")} at the key the certificate was issued for`;

export interface Pkcs11Settings {
  /** `--pkcs11-lib`. */
  library?: string;
  /** PIN when the URI carries none (`pin-value`/`pin-source` in the URI win). */
  pin?: SecretSource;
  /** `--reuse-pin`: use the user PIN for CKA_ALWAYS_AUTHENTICATE keys. */
  reusePin?: boolean;
  /** Context-specific PIN for CKA_ALWAYS_AUTHENTICATE keys (beyond the Go helper: non-interactive). */
  contextPin?: SecretSource;
  /**
   * Internal (settings): the `pin-value` of the `pkcs11:` URI in `privateKey` (else `certificate`), taken out of its
   * text as held bytes (a string is never wiped); it stands where the URI gave it, before `pin`.
   */
  uriPin?: SecretSource;
}

/**
 * A typed PIN kept for re-opens (pkcs11/pin.ts's RememberedPin), declared here by its use alone: the public types
 * must not reach pkcs11js's, which an application that omits the optional PKCS#11 packages does not have.
 */
export interface KeptPin {
  readonly description: string;
  read(): Promise<Secret>;
  wipe(): void;
}

export interface TpmSettings {
  /** `--tpm-device` / `TPM_DEVICE`: `/dev/tpmrm0`, a path, `unix:/path`, `tcp:host:port`. */
  device?: string;
  keyPassword?: SecretSource;
  /** `--no-tpm-key-password`. */
  noKeyPassword?: boolean;
  /** `--tpm-ignore-empty-auth`: use the given key password although the key file says emptyAuth TRUE. */
  ignoreEmptyAuth?: boolean;
  /** Parent key or hierarchy password (beyond the Go helper). */
  parentPassword?: SecretSource;
}

/** Given by the factory to the back-ends, which may prompt for a secret (a `prompt` source, or one not given). */
export interface PromptSignal {
  /** Ends a prompt's wait with its reason: a credential source's close(). */
  signal?: AbortSignal;
}

/** What the factory hands a hardware back-end besides its own settings, after it has resolved files. */
export interface DeviceSignerInput extends PromptSignal, Pick<SignerOptions, "askedPin"> {
  /** Certificate read from a file (hybrid mode). */
  certificate?: Certificate;
  /** Intermediates from `--intermediates` or the certificate file (else PKCS#11 uses CA certificates found on the token). */
  intermediates?: Certificate[];
  debug?: DebugLog;
  env?: NodeJS.ProcessEnv;
  prompt?: boolean;
  names?: OptionNames;
}

/** Input of the PKCS#11 back-end, after the factory has resolved files. */
export interface Pkcs11SignerOptions extends Pkcs11Settings, DeviceSignerInput {
  /** URI that locates the private key (may equal certificateUri). */
  keyUri: string;
  /** URI of the certificate on the token, when the certificate is not from a file. */
  certificateUri?: string;
}

/** Input of the TPM back-end, after the factory has resolved files. */
export interface TpmSignerOptions extends TpmSettings, DeviceSignerInput {
  key: { kind: "tss2-pem"; path: string; pem: string } | { kind: "handle"; handle: number };
}
