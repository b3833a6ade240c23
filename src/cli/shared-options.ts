import { DEFAULT_EXPIRY_WARNING_DAYS } from "../x509/validity.js";
import type { OptionSpec } from "./command.js";

/** Options that choose the certificate and key (credential-process, serve, update, sign-string, …). */
export const SIGNER_OPTIONS: readonly OptionSpec[] = [
  { name: "certificate", type: "string", description: "Certificate: PEM/DER file (may hold the chain), PKCS#12 file, or pkcs11: URI" },
  { name: "private-key", type: "string", description: "Private key: PEM/DER file, pkcs11: URI, TSS2 TPM key file, or handle:0x81… (TPM)" },
  { name: "intermediates", type: "string", description: "PEM bundle of intermediate CA certificates sent as X-Amz-X509-Chain" },
  { name: "pkcs8-password", type: "string", description: "Password of an encrypted PKCS#8 or PKCS#12 key (prefer --pkcs8-password-file or -env)" },
  { name: "pkcs8-password-file", type: "string", refuseEmpty: true, description: "Read the key password from this file" },
  { name: "pkcs8-password-env", type: "string", refuseEmpty: true, description: "Read the key password from this environment variable" },
  { name: "pkcs11-lib", type: "string", description: "PKCS#11 module path (default: module-path from the URI, else p11-kit-proxy.so)" },
  { name: "reuse-pin", type: "boolean", description: "Use the token's user PIN for CKA_ALWAYS_AUTHENTICATE keys too" },
  { name: "pkcs11-pin-file", type: "string", refuseEmpty: true, description: "Read the token PIN from this file" },
  { name: "pkcs11-pin-env", type: "string", refuseEmpty: true, description: "Read the token PIN from this environment variable" },
  { name: "pkcs11-context-pin-file", type: "string", refuseEmpty: true, description: "Read the CKA_ALWAYS_AUTHENTICATE (context-specific) PIN from this file" },
  { name: "pkcs11-context-pin-env", type: "string", refuseEmpty: true, description: "Read the context-specific PIN from this environment variable" },
  { name: "tpm-key-password", type: "string", description: "TPM key password (prefer --tpm-key-password-file or -env)" },
  { name: "tpm-key-password-file", type: "string", refuseEmpty: true, description: "Read the TPM key password from this file" },
  { name: "tpm-key-password-env", type: "string", refuseEmpty: true, description: "Read the TPM key password from this environment variable" },
  { name: "no-tpm-key-password", type: "boolean", description: "The TPM key (handle:) has no password: do not prompt" },
  { name: "tpm-ignore-empty-auth", type: "boolean", description: "Use --tpm-key-password although the key file says the key has none (files from tpm2_encodeobject before tpm2-tools 5.7)" },
  { name: "tpm-parent-password", type: "string", refuseEmpty: true, description: "Password of the TPM parent key or hierarchy (or file:/path, env:NAME, prompt)" },
  { name: "tpm-device", type: "string", refuseEmpty: true, description: "TPM: /dev/tpmrm0 (default), a device path, unix:/path or tcp:host:port (also TPM_DEVICE)" },
  { name: "cert-selector", type: "string", description: "OS certificate store selector (macOS/Windows only; not available on Linux)" },
  { name: "system-store-name", type: "string", description: "Windows certificate store name (not available on Linux)" },
  { name: "use-latest-expiring-certificate", type: "boolean", description: "OS certificate stores only (not available on Linux)" },
  { name: "wait-for-device", type: "number", description: "Wait up to SECONDS for a token that is not plugged in yet or a TPM that is not up (never retries a PIN or password)" },
  { name: "debug", type: "boolean", description: "Log the canonical request and string to sign to stderr (secrets redacted)" },
];

/** SIGNER_OPTIONS' entries of these names, for the commands that take only some of them. */
export const signerOptionsNamed = (...names: string[]): OptionSpec[] => names.map((name) => SIGNER_OPTIONS.find((o) => o.name === name)!);

/** `--config` of the commands that read the config file. */
export const CONFIG_OPTION: OptionSpec = {
  name: "config", type: "string", refuseEmpty: true,
  description: "Config file (default: roles-anywhere-agent/config.json in $XDG_CONFIG_HOME, else in ~/.config)",
};

/** `--debug` of the commands that do not sign a request. */
export const DEBUG_OPTION: OptionSpec = { name: "debug", type: "boolean", description: "Debug output on stderr" };

/** Options of the commands that keep credentials fresh (agent, serve, update). */
export const CERTIFICATE_WARNING_OPTION: OptionSpec = {
  name: "certificate-warning-days",
  type: "number",
  default: DEFAULT_EXPIRY_WARNING_DAYS,
  description: "Log a warning (at start, then daily) when the certificate expires within this many days (0 = never)",
};

export const FAIL_FAST_OPTION: OptionSpec = {
  name: "fail-fast",
  type: "boolean",
  description: "Exit (with the error's exit code) when the first credentials cannot be obtained, instead of retrying in the background",
};

/** Options that choose the role session (credential-process, serve, update). */
export const SESSION_OPTIONS: readonly OptionSpec[] = [
  { name: "role-arn", type: "string", description: "ARN of the role to assume" },
  { name: "profile-arn", type: "string", description: "ARN of the Roles Anywhere profile" },
  { name: "trust-anchor-arn", type: "string", description: "ARN of the Roles Anywhere trust anchor" },
  { name: "session-duration", type: "number", default: 3600, description: "Session duration in seconds (900–43200)" },
  { name: "role-session-name", type: "string", description: "Role session name sent to CreateSession" },
  { name: "region", type: "string", description: "Signing and endpoint region (default: the trust anchor's)" },
  { name: "endpoint", type: "string", description: "CreateSession endpoint base URL (default: AWS_ENDPOINT_URL_ROLESANYWHERE, else the regional one)" },
  { name: "use-fips-endpoint", type: "boolean", description: "Use the FIPS endpoint (also AWS_USE_FIPS_ENDPOINT=true)" },
  { name: "ca-bundle", type: "string", refuseEmpty: true, description: "Extra CA certificates (PEM) to trust for the endpoint (also AWS_CA_BUNDLE)" },
  { name: "no-verify-ssl", type: "boolean", description: "Do not verify the endpoint's TLS certificate (testing only)" },
  { name: "with-proxy", type: "boolean", description: "Accepted for compatibility: HTTPS_PROXY/NO_PROXY are always honoured" },
  { name: "connect-timeout", type: "number", default: 10, description: "Seconds to wait for a connection" },
  { name: "timeout", type: "number", default: 30, description: "Seconds for the whole CreateSession call, retries included" },
  { name: "max-attempts", type: "number", default: 3, description: "Attempts per call on 5xx, 429 and network errors (daemons leave 429 to their refresh; also AWS_MAX_ATTEMPTS)" },
];

/** The Go helper's mutually exclusive pairs for the credential commands: each flag with the flags it excludes. */
export const CREDENTIAL_CONFLICTS: readonly (readonly [string, string])[] = Object.entries({
  certificate: ["cert-selector", "system-store-name"],
  "private-key": ["cert-selector", "system-store-name", "use-latest-expiring-certificate"],
  "use-latest-expiring-certificate": ["intermediates", "reuse-pin"],
  "cert-selector": ["intermediates", "reuse-pin"],
  "system-store-name": ["reuse-pin"],
  "tpm-key-password": ["cert-selector", "reuse-pin"],
  "no-tpm-key-password": ["cert-selector", "tpm-key-password", "tpm-key-password-file", "tpm-key-password-env"],
  "pkcs8-password": ["tpm-key-password"],
}).flatMap(([flag, excluded]) => excluded.map((other) => [flag, other] as const));
