/**
 * README.md and docs/*.md name flags, error codes, library options and config fields: each must be the code's, and
 * each flag, provider option and config field must be documented. Everything is compared with the code's own
 * declarations (the CommandSpecs with their choices and defaults, ERROR_CODES and EXIT_CODES, the provider's option
 * names, PROFILE_FIELD_KINDS), never with a list kept here. Paths and relative links must lead somewhere.
 *
 * Where a flag belongs: in a code block, a shell line's segment (split at `|`, `&&`, `;`, `$(`); in prose, a code
 * span. `roles-anywhere-agent CMD`, `aws_signing_helper CMD`, `cli.js CMD` or a span starting with CMD give it
 * command CMD; a segment or span starting with any other word is another program's (npm, aws, kubectl, a message:
 * skipped); one starting with the flag itself belongs to the command(s) its section's heading names (`## 2. \`csr\``),
 * unless its paragraph names another one, else to none (the flag must then exist for some command). */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import type { OptionSpec } from "../../src/cli/command.js";
import { BUILT_IN_COMMANDS, COMMANDS } from "../../src/cli/commands/index.js";
import { PROFILE_FIELD_KINDS } from "../../src/config/parse-config.js";
import { EXIT_CODES } from "../../src/cli/exit-codes.js";
import { FOREIGN_FLAGS } from "../../src/cli/flag-suggestions.js";
import { ERROR_CODES, type ErrorCode } from "../../src/errors.js";
import { nearestNames } from "../../src/nearest-names.js";
import { ENDPOINT_SETTINGS_KINDS } from "../../src/rolesanywhere/endpoint.js";
import { KNOWN_OPTIONS } from "../../src/sdk/provider-options.js";

const DOCS = ["README.md", ...readdirSync("docs").filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const SPECS: Record<string, readonly OptionSpec[]> = Object.fromEntries(
  await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => [name, (await load()).options] as const)),
);
const ANY = "(some command)";
/** A mention's command: one, several (`serve,update`: a heading naming both), or ANY. */
const optionsOf = (command: string) => (command === ANY ? Object.values(SPECS) : command.split(",").map((c) => SPECS[c]!)).flat();
const flagsOf = (command: string) => optionsOf(command).map((o) => o.name);

/**
 * Flags of ours that no doc names, and why. (Empty today; a flag kept only for scripts written for the Go helper
 * would go here.)
 */
const UNDOCUMENTED: Record<string, string> = {};

/** Flags main.ts answers before any command's parser: `roles-anywhere-agent --version`, `CMD --help`. */
const GLOBAL: Record<string, string> = { help: '"--help"', version: 'name === "--version"' };
/** migration.md's `--flag=true|false`: any boolean flag. */
const PLACEHOLDER = "flag";

/**
 * Another program's flag alone in a span, where the paragraph (or table row) names the program: Node's and V8's
 * (`--max-semi-space-size=1`, `--trace-opt`: `node --v8-options` must list them), npm's (no list to ask).
 */
const NODE_FLAGS = new Set([
  ...[...process.allowedNodeEnvironmentFlags].map((f) => f.replace(/^--/, "")),
  ...[...execFileSync(process.execPath, ["--v8-options"], { encoding: "utf8" }).matchAll(/^ {2}--([a-z][a-z0-9_-]*)/gm)].map((m) => m[1]!.replace(/_/g, "-")),
]);
const NPM_FLAGS = ["omit", "ignore-scripts", "foreground-scripts", "allow-scripts", "location"];
const otherProgram = (m: Mention) =>
  (NODE_FLAGS.has(m.flag) && /\b(node|Node(\.js)?|V8|NODE_OPTIONS)\b/.test(m.context)) ||
  (NPM_FLAGS.includes(m.flag) && /\bnpm\b/.test(m.context));
/** A program a comment in a code block may name before its flags (`# … and aws … --endpoint-url`). */
const PROGRAM = /^(aws|npm|npx|node|curl|docker|podman|kubectl|openssl|pkcs11-tool|p11tool|ykman|systemctl|swtpm|tpm2_\w+)$/;

interface Mention { file: string; line: number; command: string; flag: string; text: string; context: string; value?: string }

/** The flags of a span or shell segment: `--x`, `--x=V`, `--[no-]x`, `--x-*`, each with the value after it. */
function flagsIn(tokens: string[], start: string, file: string, line: number, text: string, context: string, out: Mention[]) {
  let command = start;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!.replace(/^[[(]+/, "");
    if (PROGRAM.test(token)) command = "";
    if (/^(roles-anywhere-agent|aws_signing_helper|(\S*\/)?cli\.js)$/.test(token)) {
      command = tokens[i + 1] !== undefined && tokens[i + 1]! in SPECS ? tokens[++i]! : ANY;
      continue;
    }
    const m = /^--(\[no-\])?([a-z][a-z0-9-]*(?:\*)?)(?=$|[=\])},.:;'"`?]|\\\|)/.exec(token);
    if (!m || command === "") continue;
    const names = m[1] ? [m[2]!, `no-${m[2]}`] : [m[2]!];
    const value = m[0].length < token.length ? token.slice(m[0].length + 1) : tokens[i + 1]?.startsWith("-") ? undefined : tokens[i + 1];
    for (const flag of names) out.push({ file, line, command, flag, text, context, ...(value && { value }) });
  }
}

/** Every table row outside code blocks, with its table's header and its section's command. */
const ROWS: { file: string; line: number; command: string; header: string[]; cells: string[] }[] = [];
const cells = (row: string) => row.split(/(?<!\\)\|/).slice(1, -1);

/** Every flag the docs mention, with the command it goes with ("" for another program's: not collected). */
function mentions(): Mention[] {
  const out: Mention[] = [];
  for (const file of DOCS) {
    const lines = readFileSync(file, "utf8").split("\n");
    let fence = false;
    // The command a heading names (`## 2. \`csr\`: the certificate request`), for its prose and its subsections'.
    const sections: string[] = [];
    let header: string[] = [];
    let section = ANY;
    let paragraph: { line: number; text: string; context?: string } | undefined;
    const flushParagraph = () => {
      if (!paragraph) return;
      const { line, text, context = text } = paragraph;
      paragraph = undefined;
      // A paragraph that names another command (`credential-process` retries … (`--max-attempts`)) is not the section's.
      const others = [...context.matchAll(/`([a-z-]+)[`\s]/g)].some((m) => m[1]! in SPECS && !section.split(",").includes(m[1]!));
      const here = others ? ANY : section;
      for (const span of text.matchAll(/`([^`]+)`/g)) {
        const tokens = span[1]!.trim().split(/\s+/);
        const first = tokens[0]!;
        const start = first.startsWith("--") ? here : first in SPECS ? first : "";
        if (first in SPECS) tokens.shift();
        flagsIn(tokens, start, file, line, span[1]!, context, out);
      }
    };
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!;
      if (/^\s*```/.test(raw)) {
        flushParagraph();
        fence = !fence;
        continue;
      }
      if (fence) {
        // A logical line: `\` continues it, also before a comment (`--port 9912 \   # or --bind=… in a manifest`).
        const first = i;
        let [code, comment] = splitComment(raw.replace(/^\s*[+-]?credential_process\s*=/, ""));
        const comments = comment ? [comment] : [];
        while (code.trimEnd().endsWith("\\") && i + 1 < lines.length) {
          const [more, note] = splitComment(lines[++i]!);
          code = `${code.trimEnd().slice(0, -1)} ${more}`;
          if (note) comments.push(note);
        }
        const text = [code, ...comments].join(" # ");
        let last = "";
        for (const segment of code.split(/\s(?:\|\||&&|\||;)\s|\$\(/)) {
          const tokens = segment.trim().split(/\s+/).filter(Boolean);
          if (tokens.length === 0) continue;
          last = tokens[0]!.startsWith("--") ? ANY : "";
          flagsIn(tokens, last, file, first + 1, segment.trim(), text, out);
          const named = /(?:roles-anywhere-agent|aws_signing_helper|cli\.js)(?:\s+([a-z-]+))?/.exec(segment);
          if (named) last = named[1] !== undefined && named[1] in SPECS ? named[1] : ANY;
        }
        // A comment after a command goes with it (`# [--pin-file F]`); a comment line alone with no command.
        for (const note of comments) flagsIn(note.split(/\s+/), code.trim() === "" ? ANY : last, file, first + 1, note, text, out);
        continue;
      }
      if (raw.startsWith("|")) {
        flushParagraph();
        if (/^\|\s*:?-{3}/.test(lines[i + 1] ?? "")) header = cells(raw).map((c) => c.trim().toLowerCase());
        else if (!/^\|\s*:?-{3}/.test(raw)) ROWS.push({ file, line: i + 1, command: section, header, cells: cells(raw) });
        for (const cell of raw.split(/(?<!\\)\|/)) {
          paragraph = { line: i + 1, text: cell, context: raw };
          flushParagraph();
        }
      } else if (/^#+ /.test(raw)) {
        flushParagraph();
        const named = [...raw.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).filter((name) => name in SPECS);
        const level = raw.indexOf(" ");
        sections.length = level;
        sections[level - 1] = level === 1 ? "" : named.join(","); // a document's title names all it is about
        section = sections.findLast((c) => c) ?? ANY;
      } else if (raw.trim() === "" || /^\s*[-*] /.test(raw) || /^\s*\d+\. /.test(raw)) {
        flushParagraph();
        if (raw.trim() !== "") paragraph = { line: i + 1, text: raw }; // a list item starts a paragraph
      } else {
        paragraph = paragraph ? { line: paragraph.line, text: `${paragraph.text} ${raw}` } : { line: i + 1, text: raw };
      }
    }
    flushParagraph();
  }
  return out;
}

/** A shell line's code and its `# comment` (a `#` that starts a word, outside quotes). */
function splitComment(text: string): [string, string] {
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) quote = c === quote ? "" : quote;
    else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]!))) return [text.slice(0, i), text.slice(i + 1)];
  }
  return [text, ""];
}

const MENTIONS = mentions();
const exists = (m: Mention) => {
  if (m.flag === "help") return true; // every command's
  if (m.flag in GLOBAL) return m.command === ANY;
  if (m.flag === PLACEHOLDER) return optionsOf(m.command).some((o) => o.type === "boolean");
  const names = flagsOf(m.command);
  return m.flag.endsWith("*") ? names.some((n) => n.startsWith(m.flag.slice(0, -1))) : names.includes(m.flag);
};
const where = (m: Mention) => `${m.file}:${m.line} --${m.flag} (${m.command}): ${m.text.slice(0, 100)}`;

describe("the flags README.md and docs/ name", () => {
  it("finds the flags where they are (a parser that misses them checks nothing)", () => {
    expect(MENTIONS.length).toBeGreaterThan(600);
    for (const command of Object.keys(SPECS).filter((c) => c !== "version")) {
      expect(MENTIONS.some((m) => m.command.split(",").includes(command)), command).toBe(true);
    }
  });

  it("exist, for the command they are named with (for some command when no command is named)", () => {
    const wrong = MENTIONS.filter((m) => !exists(m) && !aliasShown(m) && !otherProgram(m)).map(where);
    expect(wrong).toEqual([]);
  });

  it("name each flag of each command: with that command, or where no command is named", () => {
    const missing: string[] = [];
    for (const [command, options] of Object.entries(SPECS)) {
      for (const { name } of options) {
        if (name in UNDOCUMENTED) continue;
        if (!MENTIONS.some((m) => m.flag === name && (m.command === ANY || m.command.split(",").includes(command)))) missing.push(`${command} --${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("exist for each command a parenthesis after them names (`--fail-fast` (`serve`, `update`))", () => {
    const wrong: string[] = [];
    let checked = 0;
    const sep = String.raw`(?:,\s*|\s+and\s+|\s+or\s+)`;
    const pattern = new RegExp(String.raw`((?:\`--[a-z0-9-]+\`${sep}?)+)\s+\(((?:\`[a-z-]+\`${sep}?)+)\)`, "g");
    for (const file of DOCS) {
      for (const m of readFileSync(file, "utf8").matchAll(pattern)) {
        const commands = [...m[2]!.matchAll(/`([a-z-]+)`/g)].map((c) => c[1]!);
        if (!commands.every((c) => c in SPECS)) continue;
        for (const [, flag] of m[1]!.matchAll(/`--([a-z0-9-]+)`/g)) {
          checked++;
          for (const command of commands) if (!flagsOf(command).includes(flag!)) wrong.push(`${file}: --${flag} (${command}): ${m[0]}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(3);
  });

  it("give a flag with choices only its choices (`--format json\\|text\\|bin`: all of them)", () => {
    const wrong: string[] = [];
    for (const m of MENTIONS.filter((m) => m.value !== undefined && exists(m))) {
      const given = m.value!.replace(/[`'",.;:)]+$/, "").split(/\\?\|/);
      if (!given.every((v) => /^[a-z0-9]+$|^SHA\d+$/.test(v))) continue; // a placeholder (FILE, N, "$X", …)
      const choices = optionsOf(m.command).filter((o) => o.name === m.flag && o.choices).map((o) => o.choices!);
      if (choices.length === 0) continue;
      const fits = choices.some((c) => (given.length > 1 ? [...c].sort().join() === [...given].sort().join() : c.includes(given[0]!)));
      if (!fits) wrong.push(`${where(m)}: ${given.join("|")} is not ${choices.map((c) => c.join("|")).join(" or ")}`);
    }
    expect(wrong).toEqual([]);
  });

  it("give the code's defaults in the tables with a default column", () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const row of ROWS.filter((r) => r.header[1] === "default")) {
      const flags = [...row.cells[0]!.matchAll(/`--([a-z0-9-]+)[ `]/g)].map((m) => m[1]!);
      const values = row.cells[1]!.split(/,\s*/).map((v) => v.trim().replace(/^`(.*)`$/, "$1"));
      if (flags.length !== values.length) continue; // `TPM_DEVICE`, `/dev/tpmrm0` for one flag: prose
      flags.forEach((flag, i) => {
        const value = values[i]!;
        if (!/^[\w./:-]+$/.test(value) || /^[A-Z][A-Z0-9_]+$/.test(value)) return; // empty, "trust anchor's", AWS_CA_BUNDLE
        const options = optionsOf(row.command).filter((o) => o.name === flag);
        const defaults = [...new Set(options.map((o) => String(o.default ?? (o.type === "boolean" ? false : ""))))];
        checked++;
        if (!defaults.includes(value)) wrong.push(`${row.file}:${row.line} --${flag} defaults to ${defaults.join(" or ") || "nothing"}, not ${value}`);
      });
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(15);
  });

  it("give the code's defaults in prose (`--max-attempts`, default 3; `--port` 9911 by default)", () => {
    const wrong: string[] = [];
    let checked = 0;
    const pattern = /`--([a-z0-9-]+)[^`]*`(?:[^`.;|]{0,12}?\(?default:? (`[^`]+`|\d+)| (\d+) by default)/g;
    for (const file of DOCS) {
      for (const m of readFileSync(file, "utf8").matchAll(pattern)) {
        const value = (m[2] ?? m[3])!.replace(/`/g, "");
        const options = optionsOf(ANY).filter((o) => o.name === m[1]);
        // A default the spec leaves to the code (--ecs-audience's) is in its description instead.
        const said = [...new Set(options.map((o) => (o.default !== undefined ? String(o.default) : o.description)))];
        checked++;
        if (!said.some((text) => text === value || new RegExp(`default:? ${value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-])`).test(text))) {
          wrong.push(`${file}: --${m[1]} defaults to ${said.join(" / ")}, not ${value}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  it("takes GLOBAL's flags from main.ts", () => {
    const main = readFileSync("src/cli/main.ts", "utf8");
    for (const text of Object.values(GLOBAL)) expect(main).toContain(text);
  });

  it("keeps UNDOCUMENTED to flags that exist and are not documented", () => {
    for (const name of Object.keys(UNDOCUMENTED)) {
      expect(flagsOf(ANY)).toContain(name);
      expect(MENTIONS.filter((m) => m.flag === name)).toEqual([]);
    }
  });
});

/**
 * "`--pkcs11-pin` → `--pkcs11-pin-file`": a spelling the CLI answers with a suggestion. The left one must be one
 * FOREIGN_FLAGS maps to the right one, or a misspelling whose nearest flag it is.
 */
function aliasShown(m: Mention): boolean {
  const after = new RegExp(`\`--${m.flag}\`\\s*→\\s*(?:did you mean\\s*)?\`--([a-z0-9-]+)\``).exec(readFileSync(m.file, "utf8"));
  if (!after) return false;
  const target = after[1]!;
  return (FOREIGN_FLAGS[m.flag]?.includes(target) ?? false) || nearestNames(m.flag, flagsOf(ANY)).includes(target);
}

it("lists every command in README.md's table of commands, and no other", () => {
  const named = ROWS.filter((r) => r.file === "README.md" && r.header[0] === "command").flatMap((r) => [...r.cells[0]!.matchAll(/`([a-z-]+)/g)].map((m) => m[1]!));
  expect(named.sort()).toEqual([...Object.keys(COMMANDS), ...Object.keys(BUILT_IN_COMMANDS)].sort());
});

describe("the error codes README.md and docs/ name", () => {
  /** A code's last word (`INVALID`, `NOT_FOUND`, …): a backquoted name ending in one claims to be a code. */
  const SUFFIXES = new Set(Object.keys(ERROR_CODES).map((c) => c.split("_").slice(-1)[0]!));
  const CONSTANT = /^(CK[A-Z]_|TPM_RC_|TPM2_|AF_|SO_|O_)/; // PKCS#11, TPM, socket and open(2) constants
  /** `CODE`, then maybe its exit code (`(3)`, `(exit 3`, `, exit 3`) or its category (`/\`auth\``, `(category \`input\``). */
  const categories = Object.keys(EXIT_CODES).filter((c) => c !== "ok").join("|");
  const CLAIM = new RegExp(`\`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,})\`(?: \\((?:exit )?(\\d)[),]|, exit (\\d)\\b|(?:\\/| \\(category )\`?(${categories})\`?)?`, "g");

  /**
   * The project's code and tests, but not its docs or this directory: a name only the docs know (`TPM_LOCKED_OUT`)
   * is taken for a code, as one that is an environment variable, a PKCS#11 constant or a file's name is not.
   */
  const CODE_TEXT = ["src", "test", "native-test", "bench", "scripts", "examples", "deploy", "native", "softhsm"]
    .flatMap((dir) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)))
    .filter((path) => !path.startsWith(join("test", "docs")) && /\.(ts|mts|cjs|mjs|js|c|h|sh|json|yaml|conf|txt)$/.test(path))
    .map((path) => readFileSync(path, "utf8"))
    .join("\n");
  /** Names no code of the project uses, and what they are. */
  const OTHERS: Record<string, string> = { SSL_CERT_DIR: "Go's and OpenSSL's CA directory variable (kubernetes.md)" };
  const elsewhere = (name: string) => new RegExp(`\\b${name}\\b`).test(CODE_TEXT);

  const claims = DOCS.flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(CLAIM)]
      .filter((m) => m[2] !== undefined || m[3] !== undefined || m[4] !== undefined || (!CONSTANT.test(m[1]!) && SUFFIXES.has(m[1]!.split("_").at(-1)!)) || (m[1]!.includes("_") && !elsewhere(m[1]!) && !(m[1]! in OTHERS)))
      .map((m) => ({ file, code: m[1]!, exit: m[2] ?? m[3], category: m[4] })),
  );

  it("finds them", () => expect(claims.length).toBeGreaterThan(150));

  it("README.md's table of exit codes and migration.md's list give each category its exit code", () => {
    const exits = Object.fromEntries(Object.entries(EXIT_CODES).map(([category, code]) => [code, category]));
    const table = ROWS.filter((r) => r.file === "README.md" && r.header[0] === "code").map((r) => [Number(r.cells[0]), r.cells[1]!.trim().split(/[\s:]/)[0]!] as const);
    const list = /roles-anywhere-agent exits 1 only for internal errors\s+and uses ([^—]*)/.exec(readFileSync("docs/migration.md", "utf8"))![1]!;
    const pairs = [...table, ...[...list.matchAll(/(\d) (\w+)/g)].map((m) => [Number(m[1]), m[2]!] as const)];
    expect(pairs.length).toBe(2 * Object.keys(EXIT_CODES).length - 2); // README: every code; migration.md: not 0 and 1
    expect(pairs.filter(([code, word]) => !(exits[code] === "ok" ? word === "success" : word.startsWith(exits[code]!)))).toEqual([]);
  });

  it("are codes of src/errors.ts, with their exit code and category", () => {
    const wrong: string[] = [];
    for (const { file, code, exit, category } of claims) {
      if (!(code in ERROR_CODES)) {
        wrong.push(`${file}: ${code} is not an error code`);
        continue;
      }
      const actual = ERROR_CODES[code as ErrorCode];
      if (exit !== undefined && EXIT_CODES[actual] !== Number(exit)) wrong.push(`${file}: ${code} exits ${EXIT_CODES[actual]}, not ${exit}`);
      if (category !== undefined && category !== actual) wrong.push(`${file}: ${code} is ${actual}, not ${category}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe("docs/integrations.md's lists of library options", () => {
  const text = readFileSync("docs/integrations.md", "utf8");
  /** `a`, `b: { c, d }` → a, b, b.c, b.d */
  const names = (list: string) =>
    [...list.matchAll(/`([a-zA-Z0-9]+)(?:: \{ ([^}]+) \})?`/g)].flatMap((m) => [m[1]!, ...(m[2]?.split(/,\s*/).map((n) => `${m[1]}.${n}`) ?? [])]);

  it("name the options of fromRolesAnywhere, all of them", () => {
    const list = /- \*\*Options\*\* mirror the CLI flags: ([\s\S]*?)\.\n/.exec(text)?.[1];
    expect(list).toBeDefined();
    const documented = names(list!);
    expect(documented.filter((n) => !KNOWN_OPTIONS.has(n))).toEqual([]);
    expect([...KNOWN_OPTIONS].filter((n) => !documented.includes(n))).toEqual([]);
  });

  it("name provider options where the key's errors do, and unknown ones where an unknown option is the example", () => {
    const named = /the key's errors name these options\s+\(([^)]*)\)/.exec(text)?.[1];
    const unknown = /an unknown option\s+\(([^)]*)\)/.exec(text)?.[1];
    expect(named).toBeDefined();
    expect(unknown).toBeDefined();
    const list = (t: string) => [...t.matchAll(/`([\w.]+)`/g)].map((m) => m[1]!);
    expect(list(named!).filter((n) => !KNOWN_OPTIONS.has(n))).toEqual([]);
    expect(list(unknown!).filter((n) => KNOWN_OPTIONS.has(n))).toEqual([]);
  });

  it("name the third argument's options of createSignedCreateSessionRequest", () => {
    const list = /retry\. ([\s\S]*?) choose the URL/.exec(text)?.[1];
    expect(list).toBeDefined();
    expect(names(list!).filter((n) => !(n in ENDPOINT_SETTINGS_KINDS))).toEqual([]);
    expect(names(list!).length).toBe(Object.keys(ENDPOINT_SETTINGS_KINDS).length);
  });
});

describe("docs/long-running.md's list of config-file fields", () => {
  const text = readFileSync("docs/long-running.md", "utf8");
  const list = /Field names are the command-line flag names: ([\s\S]*?)\.\s+Secrets — ([\s\S]*?) — are written/.exec(text);

  it("names every field of a profile, and only those; the secrets as secrets", () => {
    expect(list).not.toBeNull();
    const [plain, secrets] = [list![1]!, list![2]!].map((names) => [...names.matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1]!));
    expect([...plain!, ...secrets!].sort()).toEqual(Object.keys(PROFILE_FIELD_KINDS).sort());
    expect(secrets!.filter((name) => PROFILE_FIELD_KINDS[name] !== "secret")).toEqual([]);
    expect(plain!.filter((name) => PROFILE_FIELD_KINDS[name] === "secret")).toEqual([]);
  });
});

describe("where the command is", () => {
  // npm's global bin directory depends on the prefix (/usr/local/bin, /usr/bin, ~/.nvm/versions/node/vX/bin): a line
  // naming one fails wherever the package was installed elsewhere. install-systemd writes the real path it runs from.
  const files = [...DOCS, ...readdirSync("examples").map((f) => `examples/${f}`)];
  it("no credential_process line or command names a fixed directory for roles-anywhere-agent, and the docs say how to find it", () => {
    const fixed = files.flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/(?:^|[\s=`"'(])((?:\/[\w.-]+)*\/bin\/roles-anywhere-agent)(?=[\s`"')]|$)/gm)].map((m) => `${file}: ${m[1]}`));
    expect(fixed).toEqual([]);
    expect(readFileSync("docs/long-running.md", "utf8")).toContain("command -v roles-anywhere-agent");
    expect(readFileSync("examples/aws-config", "utf8")).toContain("command -v roles-anywhere-agent");
  });

  it("examples/aws-config says what --agent does: the agent's credentials or a failure, never signing itself", () => {
    expect(SPECS["credential-process"]!.find((o) => o.name === "agent")?.description).toMatch(/^Require the running agent/);
    const blocks = readFileSync("examples/aws-config", "utf8").split(/\n\n/);
    const agentOnly = blocks.filter((b) => / --agent /.test(b));
    expect(agentOnly).toHaveLength(1);
    expect(agentOnly[0]).not.toMatch(/falls back/i);
    expect(agentOnly[0]).toMatch(/fails/);
  });
});

describe("the files and links README.md, docs/ and SECURITY.md name", () => {
  const texts = [...DOCS, "SECURITY.md"].map((file) => ({ file, text: readFileSync(file, "utf8") }));
  /** GitHub's anchor of a heading: lower case, punctuation dropped, each space a hyphen. */
  const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/ /g, "-");
  const anchors = (file: string) => [...readFileSync(file, "utf8").matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1]!));

  it("names repository paths that exist (`src/…`, `test/…`, …)", () => {
    const missing = texts.flatMap(({ file, text }) =>
      [...text.matchAll(/`((?:src|test|native-test|bench|scripts|examples|deploy|native|softhsm)\/[\w./-]+)`/g)]
        .map((m) => m[1]!)
        .filter((path) => !existsSync(path))
        .map((path) => `${file}: ${path}`),
    );
    expect(missing).toEqual([]);
  });

  it("links to files and headings that exist", () => {
    const broken: string[] = [];
    for (const { file, text } of texts) {
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
        const [path, anchor] = target!.split("#");
        const linked = path ? join(dirname(file), path) : file;
        if (!existsSync(linked)) broken.push(`${file}: ${target}`);
        else if (anchor !== undefined && linked.endsWith(".md") && !anchors(linked).includes(anchor)) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
