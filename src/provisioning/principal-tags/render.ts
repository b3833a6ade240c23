import { escapeControls } from "../../errors.js";
import { isPlainObject, type Kinds } from "../../own-value.js";
import { refuseWrongOptions } from "../../signers/options.js";
import { TAGS, type PrincipalTagReport } from "./derive-tags.js";
import { TEXTS } from "./source-identity.js";

const REPORT_KINDS: Kinds = {
  report: {
    tags: TAGS, ignored: TEXTS, warnings: TEXTS, sourceIdentity: { value: "string", rule: "string" },
    dropped: [(l) => Array.isArray(l) && l.every(isPlainObject), "an array of { key, value, reason }"],
  },
  trustPolicy: "object",
};
const REPORT_REQUIRED = ["report", "trustPolicy",
  ...["tags", "dropped", "ignored", "sourceIdentity", "sourceIdentity.rule", "warnings"].map((f) => `report.${f}`)];

/** The human-readable listing `principal-tags` prints (the JSON form is the report itself). */
export function renderPrincipalTags(report: PrincipalTagReport, trustPolicy: object): string {
  refuseWrongOptions("renderPrincipalTags", { report, trustPolicy }, REPORT_KINDS, REPORT_REQUIRED);
  const lines: string[] = ["Session tags (default attribute mapping of a Roles Anywhere profile):"];
  const width = Math.max(0, ...report.tags.map((t) => t.key.length)) + "aws:PrincipalTag/".length;
  for (const tag of report.tags) {
    const note = tag.documented ? "" : "   (attribute name not in AWS's documentation: check before relying on it)";
    lines.push(`  ${`aws:PrincipalTag/${tag.key}`.padEnd(width)}  ${JSON.stringify(tag.value)}${note}`);
  }
  if (report.tags.length === 0) lines.push("  (none)");
  lines.push("", `Source identity (sts:SourceIdentity): ${report.sourceIdentity.value === undefined ? "unknown" : JSON.stringify(report.sourceIdentity.value)}`);
  lines.push(`  rule: ${report.sourceIdentity.rule}`);
  const section = (title: string, items: readonly string[]) => {
    if (items.length > 0) lines.push("", title, ...items.map((item) => `  ${item}`));
  };
  const dropped = report.dropped.map((d) => `${d.key}${d.value === undefined ? "" : ` = ${JSON.stringify(d.value)}`}: ${d.reason}`);
  section("Not available as tags (Roles Anywhere ignores these values):", dropped);
  section("Not mapped:", report.ignored);
  for (const w of report.warnings) lines.push("", `Warning: ${w}`);
  lines.push(
    "",
    "A profile with custom attribute mappings (aws rolesanywhere put-attribute-mapping) maps only what its rules select.",
    "",
    "Example role trust policy:",
    JSON.stringify(trustPolicy, null, 2),
    "",
  );
  // Certificate values reach every part: JSON escapes C0 controls, not C1 or bidi ones (U+202E reorders the line).
  return lines.join("\n").split("\n").map(escapeControls).join("\n");
}
