import { InputError } from "../errors.js";
import type { Credentials } from "../credentials/credentials.js";

const KEYS = ["aws_access_key_id", "aws_secret_access_key", "aws_session_token"] as const;
type Key = (typeof KEYS)[number];

const HEADER = /^\s*\[([^\]]*)\]\s*(?:[#;].*)?$/;
const KEY_LINE = /^(aws_access_key_id|aws_secret_access_key|aws_session_token)\s*[=:]/;
const BLANK_OR_COMMENT = /^\s*(?:[#;].*)?$/;

/**
 * Puts `credentials` into section `[profile]` of a shared credentials file's text and returns the new text.
 * Every byte outside the three credential lines of that section is kept: other profiles, comments, blank
 * lines, unknown keys, line endings (CRLF stays CRLF), and a missing final newline. Missing keys are added
 * after the section's last setting; a missing section is appended. Only the first `[profile]` section is
 * touched (later duplicates are left alone, as aws_signing_helper does).
 */
export function upsertProfileCredentials(text: string, profile: string, credentials: Credentials): string {
  const values: Record<Key, string> = {
    aws_access_key_id: credentials.accessKeyId,
    aws_secret_access_key: credentials.secretAccessKey,
    aws_session_token: credentials.sessionToken,
  };
  for (const value of Object.values(values)) {
    if (/[\r\n]/.test(value) || value === "") {
      throw new InputError("FILE_WRITE_FAILED", "refusing to write credentials containing a line break or an empty value");
    }
  }
  if (!/^[^\[\]\r\n]+$/.test(profile) || profile.trim() !== profile) {
    throw new InputError("FILE_WRITE_FAILED", `invalid profile name ${JSON.stringify(profile)} for the credentials file`);
  }

  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const content = (line: string) => line.replace(/\r?\n$/, "");
  const lineFor = (key: Key) => `${key} = ${values[key]}${eol}`;

  const start = lines.findIndex((l) => HEADER.exec(content(l))?.[1]?.trim() === profile);
  if (start < 0) {
    let prefix = text;
    if (prefix !== "" && !prefix.endsWith("\n")) prefix += eol;
    if (prefix !== "" && !/(^|\n)\r?\n$/.test(prefix)) prefix += eol;
    return `${prefix}[${profile}]${eol}${KEYS.map(lineFor).join("")}`;
  }
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    if (HEADER.test(content(lines[i]!))) {
      end = i;
      break;
    }
  }

  const out = lines.slice(0, start + 1);
  const written = new Set<Key>();
  let lastSetting = start; // index in `out` after which missing keys go
  for (let i = start + 1; i < end; i++) {
    const line = lines[i]!;
    const key = KEY_LINE.exec(content(line))?.[1] as Key | undefined;
    if (key) {
      if (written.has(key)) continue; // a duplicate would shadow or confuse: drop it
      written.add(key);
      // Keep the line's own terminator, or none if it was the file's unterminated last line.
      out.push(`${key} = ${values[key]}${line.endsWith("\n") ? (line.endsWith("\r\n") ? "\r\n" : "\n") : ""}`);
    } else {
      out.push(line);
    }
    if (!BLANK_OR_COMMENT.test(content(line))) lastSetting = out.length - 1;
  }
  const missing = KEYS.filter((k) => !written.has(k));
  if (missing.length > 0) {
    const at = lastSetting + 1;
    if (!out[lastSetting]!.endsWith("\n")) out[lastSetting] += eol;
    out.splice(at, 0, ...missing.map(lineFor));
  }
  return out.join("") + lines.slice(end).join("");
}
