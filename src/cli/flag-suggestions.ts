import { nearestNames } from "../nearest-names.js";
import { ownValue } from "../own-value.js";

/** Flags users bring from the Go aws_signing_helper, pkcs11-tool, curl and the AWS CLI, and what they mean here. */
export const FOREIGN_FLAGS: Readonly<Record<string, readonly string[]>> = {
  // aws_signing_helper has no PIN flag (it prompts or reads pin-value from the URI); users guess these.
  "pkcs11-pin": ["pkcs11-pin-file", "pkcs11-pin-env"],
  pin: ["pkcs11-pin-file", "pkcs11-pin-env"],
  "pin-value": ["pkcs11-pin-file", "pkcs11-pin-env"],
  "tpm-password": ["tpm-key-password-file", "tpm-key-password-env"],
  "key-password": ["pkcs8-password-file", "tpm-key-password-file"],
  password: ["pkcs8-password-file", "tpm-key-password-file"],
  // pkcs11-tool, p11tool, curl, openssl, the AWS CLI
  module: ["pkcs11-lib"],
  provider: ["pkcs11-lib"],
  cert: ["certificate"],
  key: ["private-key"],
  cacert: ["ca-bundle"],
  "ca-cert": ["ca-bundle"],
  chain: ["intermediates"],
  insecure: ["no-verify-ssl"],
  k: ["no-verify-ssl"],
  role: ["role-arn"],
  "trust-anchor": ["trust-anchor-arn"],
  duration: ["session-duration"],
  "duration-seconds": ["session-duration"],
  "endpoint-url": ["endpoint"],
  tpm: ["tpm-device"],
  "tpm-handle": ["private-key handle:0x81…"],
  verbose: ["debug"],
  v: ["debug"],
};

/** The hint for an unknown flag: the Go/other-tool spelling first, then the nearest flags of this command. */
export function unknownFlagHint(flag: string, known: readonly string[]): string | undefined {
  const here = ownValue(FOREIGN_FLAGS, flag)?.filter((f) => known.includes(f.split(" ")[0]!)) ?? [];
  const names = here.length > 0 ? here : nearestNames(flag, known);
  return names.length > 0 ? `did you mean ${names.map((f) => `--${f}`).join(" or ")}?` : undefined;
}
