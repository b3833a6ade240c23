import { UsageError } from "../errors.js";
import { DAY_MS, DEFAULT_EXPIRY_WARNING_DAYS } from "../x509/validity.js";
import { numberArg, type OptionSpec, type ParsedArgs } from "./command.js";

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

/** The `certificateWarning` option of a credential source, from --certificate-warning-days. */
export function certificateWarningFromArgs(args: ParsedArgs, log: (line: string) => void): { windowMs: number; log: (line: string) => void } | undefined {
  const days = numberArg(args, CERTIFICATE_WARNING_OPTION.name) ?? DEFAULT_EXPIRY_WARNING_DAYS;
  if (!Number.isInteger(days) || days < 0 || days > 3650) {
    throw new UsageError("USAGE", `--certificate-warning-days ${days} is out of range: use 0 (never warn) to 3650`);
  }
  return days === 0 ? undefined : { windowMs: days * DAY_MS, log };
}
