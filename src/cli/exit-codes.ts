import type { ErrorCategory } from "../errors.js";

/**
 * Exit codes, one per error category. The Go helper exits 1 for every failure; scripts that only test
 * for non-zero keep working, and scripts that care can tell a wrong PIN from a network outage.
 */
export const EXIT_CODES: Readonly<Record<ErrorCategory | "ok", number>> = {
  ok: 0,
  internal: 1,
  usage: 2,
  input: 3,
  auth: 4,
  device: 5,
  service: 6,
  network: 7,
};
