import { codePointName, UsageError } from "../../errors.js";

/**
 * STS session tag limits (STS API reference, `Tag` data type): a value is at most 256 characters matching
 * `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`. Roles Anywhere drops certificate values that break them (IAM Roles
 * Anywhere User Guide, "Trust policy": "These values need to match the pattern defined in STS session
 * tags. The service ignores values that do not match this pattern.").
 */
const VALUE_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const MAX_VALUE_CHARACTERS = 256;

/** At most 50 session tags may be passed to AssumeRole (STS API reference, `Tags`). */
export const MAX_SESSION_TAGS = 50;

/** Why a value cannot be a session tag value, or undefined when it can. */
export function sessionTagValueProblem(value: string): string | undefined {
  if (typeof value !== "string") throw new UsageError("USAGE", "sessionTagValueProblem: value must be a string");
  const length = [...value].length;
  if (length > MAX_VALUE_CHARACTERS) return `longer than ${MAX_VALUE_CHARACTERS} characters (${length})`;
  if (!VALUE_PATTERN.test(value)) {
    const bad = [...new Set([...value].filter((c) => !VALUE_PATTERN.test(c)))];
    return `contains ${bad.map(describeCharacter).join(", ")}, which session tag values may not contain`;
  }
  return undefined;
}

function describeCharacter(c: string): string {
  const cp = c.codePointAt(0)!;
  return cp >= 0x21 && cp <= 0x7e ? `"${c}"` : codePointName(c);
}
