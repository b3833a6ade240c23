import type { Kind } from "../../own-value.js";
import { refuseWrongOptions } from "../../signers/options.js";

/**
 * The source identity Roles Anywhere sets on the session (IAM Roles Anywhere User Guide, "Trust policy",
 * "Source identity rules"):
 * - `CN=` + the subject CN when it is set and at most 61 characters;
 * - the CN alone when it has 62 to 64 characters;
 * - `ID=` + the hex serial number, left-padded with a zero to an even length, when the subject has no CN.
 */
export interface SourceIdentity {
  /** The `sts:SourceIdentity` value, or undefined when the documented rules do not say. */
  readonly value: string | undefined;
  readonly rule: string;
}

/** An array of strings, from plain JavaScript. */
export const TEXTS: Kind = [(l) => Array.isArray(l) && l.every((t) => typeof t === "string"), "an array of strings"];

export function sourceIdentity(commonNames: readonly string[], serialHex: string): SourceIdentity {
  const args = { commonNames, serialHex };
  refuseWrongOptions("sourceIdentity", args, { commonNames: TEXTS, serialHex: "string" }, Object.keys(args));
  if (commonNames.length === 0) {
    const digits = serialHex.replace(/^-/, "");
    const hex = `${serialHex.startsWith("-") ? "-" : ""}${digits.length % 2 === 0 ? "" : "0"}${digits}`;
    return { value: `ID=${hex}`, rule: "no subject CN: ID= and the hex serial number (letter case not documented)" };
  }
  // Several CNs: joined like their principal tag. The documentation does not cover this case.
  const cn = commonNames.join("/");
  const length = [...cn].length;
  const note = commonNames.length > 1 ? " (several CNs, joined with /: not documented)" : "";
  if (length <= 61) return { value: `CN=${cn}`, rule: `subject CN of at most 61 characters: CN= and the CN${note}` };
  if (length <= 64) return { value: cn, rule: `subject CN of 62 to 64 characters: the CN alone${note}` };
  return { value: undefined, rule: `subject CN longer than 64 characters (${length}): not covered by the documented rules` };
}
