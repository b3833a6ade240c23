import { isUtf8 } from "node:buffer";
import { boundedLine, InputError } from "../errors.js";
import type { Credentials } from "../rolesanywhere/credentials.js";

const KEYS = ["aws_access_key_id", "aws_secret_access_key", "aws_session_token"] as const;
type Key = (typeof KEYS)[number];

// The file is handled as a "byte string" (latin1: one character per byte), so that bytes in any encoding
// (UTF-8, Latin-1, invalid sequences) pass through untouched; lines are read as UTF-8 (rolesOf), as botocore does.
// Whitespace is Python's (str.isspace, configparser's strip() and \S): JavaScript's \s without U+FEFF, with
// \x1c-\x1f and U+0085. botocore (configparser) lower-cases option names: AWS_Access_Key_Id is aws_access_key_id.
const SPACE = "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const BLANK_OR_COMMENT = new RegExp(`^${SPACE}*(?:[#;][^]*)?$`);
const INDENT = new RegExp(`^${SPACE}*`);
const BLANK = new RegExp(`^${SPACE}*$`);
const HEADER = new RegExp(`^${SPACE}*\\[([^]+)\\]`);
// Spaces that end a string, tried only where a run starts: "a" + 40,000 spaces + "b" took 20 s without the lookbehind
const TRAILING_SPACE = new RegExp(`(?<!${SPACE})${SPACE}+$`);

const linesOf = (text: string): string[] => text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
const content = (line: string): string => {
  const cut = line.endsWith("\r\n") ? 2 : line.endsWith("\n") || line.endsWith("\r") ? 1 : 0;
  return cut === 0 ? line : line.slice(0, -cut);
};
// Each line of a byte string as UTF-8 text (as botocore reads it), without its line break: the file is decoded once, not
// line by line (a Buffer each: 16 MiB of blank lines took 39 s). A line break is ASCII, which ends any UTF-8 sequence,
// so each line decodes as it would alone (U+FFFD for the same bytes). `lines`: linesOf(bytes), when known.
const textLinesOf = (bytes: string, lines?: readonly string[]): string[] =>
  lines && !/[\x80-\xff]/.test(bytes) ? lines.map(content) : linesOf(Buffer.from(bytes, "latin1").toString("utf8")).map(content);
const byteString = (text: string): string => (/[^\x00-\x7f]/.test(text) ? Buffer.from(text, "utf8").toString("latin1") : text);
// Indentation for a line we write: spaces for \x1c-\x1f and U+0085 (C2 85), which botocore strips and the AWS SDK for
// JavaScript (String#trim) keeps in the key's name; as many characters, so botocore's indentation levels stay.
const indentForBoth = (indent: string): string => indent.replace(/[\x1c-\x1f]|\xc2\x85/g, " ");

type Role = { header: string } | { key: Key | undefined; indent: string; name: string; nested: boolean } | "continuation" | "unparsed" | "other";

/**
 * What each line (UTF-8 text, without its line break: textLinesOf) is to botocore (configparser): a line indented deeper than the setting
 * above it continues that setting's value, even one that looks like a header or a key; a header is "[" to the last
 * "]" (text may follow). Comments and blank lines are "other"; a line that is none of these is "unparsed".
 */
function rolesOf(texts: readonly string[]): Role[] {
  let level = 0;
  let inSetting = false;
  return texts.map((text): Role => {
    if (BLANK_OR_COMMENT.test(text)) return "other";
    const indent = INDENT.exec(text)![0];
    if (inSetting && indent.length > level) return "continuation";
    level = indent.length;
    const header = HEADER.exec(text)?.[1];
    if (header !== undefined) {
      inSetting = false;
      return { header: byteString(header) };
    }
    // A line with no "=" or ":" is configparser's parse error: the value above goes on past it. "=x" names no option.
    const delimiter = text.slice(indent.length).search(/[=:]/);
    if (delimiter < 0) return "unparsed";
    inSetting = delimiter > 0;
    // As configparser's optionxform (str.lower): "aws_access_\u212aey_id" (Kelvin sign) is aws_access_key_id too.
    const name = byteString(text.slice(indent.length, indent.length + delimiter).replace(TRAILING_SPACE, "").toLowerCase());
    const nested = BLANK.test(text.slice(indent.length + delimiter + 1)); // "name =": botocore reads its lines as keys
    return { key: (KEYS as readonly string[]).includes(name) ? (name as Key) : undefined, indent: byteString(indent), name, nested };
  });
}

/**
 * A section name the credentials file can hold: no brackets or line breaks, no spaces around it; not DEFAULT, whose
 * keys botocore (configparser) gives to every other section of the file, nor one the AWS SDK for JavaScript throws on,
 * reading no profile of the file at all; no " ;" or " #", where it cuts the header as a comment.
 */
export const isProfileName = (profile: string): boolean => /^[^\[\]\r\n]+$/.test(profile) && profile.trim() === profile
  && !/\s[;#]/.test(profile) && !["DEFAULT", "__proto__", "profile __proto__"].includes(profile);

/**
 * Puts `credentials` into section `[profile]` of a shared credentials file's bytes: every byte outside the three
 * credential lines of that section is kept (other profiles, comments, unknown keys, non-UTF-8 bytes, CRLF, a
 * missing final newline). Keys match case-insensitively, as botocore reads them; a second line for the same key
 * is dropped (botocore refuses duplicates); missing keys go after the section's last setting, a missing section
 * at the end. A file with two `[profile]` sections is refused (aws_signing_helper writes the first); a written file
 * botocore reads no profile of (unreadableByBotocore, [profile]'s own lines included) is told to `warn`, naming its
 * line: the JS SDK reads it, so the write still counts.
 */
export function upsertProfileCredentials(file: Uint8Array, profile: string, credentials: Credentials, warn?: (line: string) => void): Buffer {
  const values: Record<Key, string> = {
    aws_access_key_id: byteString(credentials.accessKeyId),
    aws_secret_access_key: byteString(credentials.secretAccessKey),
    aws_session_token: byteString(credentials.sessionToken),
  };
  for (const value of Object.values(values)) {
    if (/[\r\n]/.test(value) || value === "") {
      throw new InputError("FILE_WRITE_FAILED", "refusing to write credentials containing a line break or an empty value");
    }
  }
  if (!isProfileName(profile)) {
    throw new InputError("FILE_WRITE_FAILED", `invalid profile name ${JSON.stringify(profile)} for the credentials file`);
  }

  const text = Buffer.from(file.buffer, file.byteOffset, file.byteLength).toString("latin1");
  const section = byteString(profile);
  // Lines end at CRLF, LF or a lone CR, as Python reads them (botocore): a file of CR-only lines is not one line.
  const eol = /\r\n|\r|\n/.exec(text)?.[0] ?? "\n";
  const lines = linesOf(text);
  const ending = (line: string) => line.slice(content(line).length);
  const lineFor = (key: Key) => `${key} = ${values[key]}${eol}`;

  const texts = textLinesOf(text, lines);
  const roles = rolesOf(texts);
  const headerOf = (i: number) => { const r = roles[i]; return typeof r === "object" && "header" in r ? r.header : undefined; };
  // [profile]'s first header and, when it has one, its second (the JavaScript SDKs merge both). DEFAULT, the one section
  // botocore (configparser) takes twice, is no profile name.
  // "[ gw ]" is profile " gw " to botocore and the JS SDK, not gw
  const start = roles.findIndex((_, i) => headerOf(i) === section);
  const twice = start < 0 ? -1 : roles.findIndex((_, i) => i > start && headerOf(i) === section);
  if (start < 0) {
    let prefix = text;
    const last = lines.at(-1);
    if (last !== undefined && ending(last) === "") prefix += eol;
    if (last !== undefined && content(last) !== "") prefix += eol; // a blank line before the new section
    return told(`${prefix}[${section}]${eol}${KEYS.map(lineFor).join("")}`, profile, warn);
  }
  const [header, cut] = jsHeader(texts[start]!);
  if (!isJsHeader(cut)) {
    const what = `is section [${profile}] to botocore (the AWS CLI) but no section to the AWS SDK for JavaScript`;
    throw new InputError("INPUT_INVALID", `the credentials file's line ${JSON.stringify(boundedLine(header, 60))} ${what}`, {
      hint: cut.startsWith("[") ? `make what follows "]" a comment ("[${profile}] ; …"), then run again` : "indent the header with spaces or tabs, or not at all, then run again",
    });
  }
  // The JavaScript SDKs read each key from the last section with it: writing either one leaves them with old keys.
  if (twice >= 0) {
    const what = "botocore (the AWS CLI) reads no profile of the file, the AWS SDK for JavaScript mixes both";
    throw new InputError("INPUT_INVALID", `the credentials file has two [${profile}] sections, lines ${start + 1} and ${twice + 1}: ${what}`, {
      hint: `delete one of them (keep the other's settings), then run again`,
    });
  }
  const next = roles.findIndex((_, i) => i > start && headerOf(i) !== undefined);
  const end = next < 0 ? lines.length : next;
  // "[]" is no line to botocore, an indented "[other]" under a setting more of its value, "\ufeff[x=]" option "\ufeff[x"
  // (Python's strip keeps U+FEFF); all are sections to the JS SDKs ("" files nothing): below them they read no key of
  // [profile], or another profile's (gw's keys as other's)
  const hiding = roles.findIndex((_, i) => i > start && i < end && isJsHeader(jsHeader(texts[i]!)[1]) && jsHeader(texts[i]!)[1] !== `[${profile}]`);
  if (hiding >= 0) {
    const line = `line ${hiding + 1} (${JSON.stringify(boundedLine(jsHeader(texts[hiding]!)[0], 60))})`;
    const what = `in [${profile}] is no section to botocore (the AWS CLI) but one to the AWS SDK for JavaScript, which reads no key of [${profile}] below it`;
    throw new InputError("INPUT_INVALID", `the credentials file's ${line} ${what}`, {
      hint: "delete it, then run again",
    });
  }

  const out = lines.slice(0, start + 1);
  const written = new Set<Key>();
  let lastSetting = start; // index in `out` after which missing keys go
  let replacing = false; // the setting above is one of ours: its old continuation lines go
  for (let i = start + 1; i < end; i++) {
    const line = lines[i]!;
    const role = roles[i]!;
    if (role === "continuation" && replacing) continue;
    const setting = typeof role === "object" && "key" in role ? role : undefined; // no header before `end`
    if (setting) replacing = setting.key !== undefined;
    const key = setting?.key;
    if (key) {
      if (written.has(key)) continue; // a duplicate would shadow or confuse: drop it
      written.add(key);
      // Keep the line's indentation (as spaces both readers strip) and terminator (none if it ended the file).
      out.push(`${indentForBoth(setting!.indent)}${key} = ${values[key]}${ending(line)}`);
    } else {
      out.push(line);
    }
    if (role !== "other") lastSetting = out.length - 1;
  }
  const missing = KEYS.filter((k) => !written.has(k));
  if (missing.length > 0) {
    if (ending(out[lastSetting]!) === "") out[lastSetting] += eol;
    // Indented like the next header: one indented deeper than the added lines would continue the last of them.
    const indent = next < 0 ? "" : indentForBoth(byteString(INDENT.exec(texts[next]!)![0]));
    out.splice(lastSetting + 1, 0, ...missing.map((key) => indent + lineFor(key)));
  }
  return told(out.join("") + lines.slice(end).join(""), profile, warn);
}

/**
 * A line (UTF-8 text) as the JavaScript SDKs read it, trimmed (String#trim keeps \x1c-\x1f and U+0085, which botocore
 * strips), and with a comment (" ;", " #") cut off: a header is "[…]" once cut (isJsHeader).
 */
function jsHeader(text: string): [string, string] {
  const trimmed = text.trim();
  return [trimmed, trimmed.split(/(?:^|\s)[;#]/)[0]!.trim()];
}
const isJsHeader = (cut: string) => cut.startsWith("[") && cut.endsWith("]");

/** The written file's bytes, once `warn` is told the first line for which botocore (the AWS CLI) reads none of it. */
function told(written: string, profile: string, warn?: (line: string) => void): Buffer {
  const problem = warn && unreadableByBotocore(written);
  if (problem) warn!(`the credentials file has ${problem[0]}: botocore (the AWS CLI) reads no profile of it, [${profile}] included; ${problem[1]}`);
  return Buffer.from(written, "latin1");
}

/** How many times `part` is in `text`. */
const countOf = (text: string, part: string): number => {
  let n = 0;
  for (let at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + part.length)) n++;
  return n;
};
/**
 * The first line (index) that is not UTF-8, or -1: each U+FFFD its text holds is one its bytes spell (EF BF BD) when it
 * is, one more for each sequence that is not (no such sequence holds EF BF BD: EF always starts one).
 */
function firstNotUtf8(bytes: string, texts: readonly string[]): number {
  if (isUtf8(Buffer.from(bytes, "latin1"))) return -1;
  const lines = linesOf(bytes);
  return texts.findIndex((text, i) => countOf(text, "\ufffd") !== countOf(lines[i]!, "\xef\xbf\xbd"));
}
const printed = (bytes: string) => boundedLine(Buffer.from(bytes, "latin1").toString("utf8"), 100);
// Python's str.splitlines, which botocore splits a "name =" value's indented lines with
const PY_LINE_BREAK = /[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

/**
 * What makes botocore (raw_config_parse) refuse the file of these bytes, and what to do, or undefined: bytes that are
 * not UTF-8 (UnicodeDecodeError), a line before any header (MissingSectionHeaderError), a line with no "=" or ":" or
 * nothing before it (ParsingError), a section given twice but DEFAULT (DuplicateSectionError), a name set twice in a
 * section (DuplicateOptionError), an indented line with no "=" under "name =" (a ValueError of its nested keys).
 * The JS SDK reads such a file (it skips such lines, and merges sections given twice): the first one is told.
 */
function unreadableByBotocore(bytes: string): [string, string] | undefined {
  const texts = textLinesOf(bytes);
  const notUtf8 = firstNotUtf8(bytes, texts);
  const roles = rolesOf(texts);
  const sections = new Map<string, number>();
  const setAt = new Map<string, number>();
  let section: string | undefined;
  let nested: string | undefined; // the "name =" whose indented lines botocore reads as "key = value"
  // A [DEFAULT] one's, parsed only for a section that sets no such name: the first line per name (each is judged against
  // every section: 20,000 lines under one name and 20,000 sections took 97 s)
  const byDefault = new Map<string, [string, string]>();
  for (const [i, role] of roles.entries()) {
    const line = `line ${i + 1}`;
    if (i === notUtf8) return [`bytes that are not UTF-8 (${line})`, "save the file as UTF-8"];
    if (role === "other") continue;
    if (section === undefined && !(typeof role === "object" && "header" in role)) {
      return texts[i]!.startsWith("\ufeff") ? ["a byte-order mark (line 1)", "save the file without it"]
        : [`a line before any [section] header (${line})`, "delete it or move it under one"];
    }
    if (role === "unparsed") return [`a line that is no "name = value", [section] or comment (${line})`, "delete it or make it a comment (# …)"];
    if (role === "continuation") {
      if (nested !== undefined && texts[i]!.split(PY_LINE_BREAK).some((part) => !BLANK.test(part) && !part.includes("="))) {
        const problem: [string, string] = [`an indented line under "${printed(nested)} =" that is no "key = value" (${line})`, "make it one or delete it"];
        if (section !== "DEFAULT") return problem;
        if (!byDefault.has(nested)) byDefault.set(nested, problem);
      }
      continue;
    }
    if ("header" in role) {
      section = role.header;
      const at = sections.get(section);
      if (at !== undefined && section !== "DEFAULT") return [`two [${printed(section)}] sections, lines ${at + 1} and ${i + 1}`, "delete one of them (keep the other's settings)"];
      sections.set(section, i);
      continue;
    }
    if (role.name === "") return [`a line with no name before its "=" or ":" (${line})`, "give it one or delete it"];
    nested = role.nested ? role.name : undefined;
    const at = setAt.get(`${section}]${role.name}`);
    if (at !== undefined) return [`${printed(role.name)} twice in [${printed(section!)}], lines ${at + 1} and ${i + 1}`, "delete one of them"];
    setAt.set(`${section}]${role.name}`, i);
  }
  const named = [...sections.keys()].filter((name) => name !== "DEFAULT");
  return [...byDefault].find(([option]) => named.some((name) => !setAt.has(`${name}]${option}`)))?.[1];
}
