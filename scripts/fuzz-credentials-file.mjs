#!/usr/bin/env node
// Differential fuzz of `update`'s credentials-file rewrite (src/update/credentials-file.ts, upsertProfileCredentials)
// against the two readers of the file: botocore (python3, botocore.configloader.raw_config_parse, which the AWS CLI's
// shared-credentials provider uses) and the AWS SDK for JavaScript (@smithy/core's parseIni, the parser of
// loadSharedConfigFiles, run on the file read as UTF-8, as its readFile does, each case in a fresh realm: a
// [constructor] section writes onto the realm's Object). `nice -n 10 node scripts/fuzz-credentials-file.mjs
// [--cases N] [--seed S] [--cli N]`. Not part of `npm test`; needs python3 with botocore, and the AWS CLI for --cli.
//
// 1. Files with structure: 1-6 sections (the target, others, [default], [DEFAULT], [profile x], [ gw ], [gw]]
//    duplicates, text or a comment after "]", indented headers), keys in any case with "=" or ":" and any spaces
//    around them, indentation and continuation lines (some looking like a header or a key), subsections ("s3 =" and
//    indented keys), comments ("#", ";", indented, inline), blank and whitespace-only lines, lines before the first
//    header, LF/CRLF/CR/mixed line endings and no final newline, a BOM, Latin-1 and invalid UTF-8 bytes, "%",
//    NUL, very long lines, Unicode spaces (U+00A0, U+2003, U+0085, \v, \x1c...) and U+FEFF/U+200B; a profile name
//    among those `update --profile` accepts (isProfileName, not DEFAULT: "profile x", "foo bar", NUL, Unicode,
//    long...) and some it refuses ("a ;b", "__proto__", " gw"...); credentials shaped as AWS's.
// 2. Oracle per case: (a) when botocore read the file before, it reads the target's three keys as the new values
//    after, every other profile exactly as before (raw_config_parse's dict, DEFAULT-inherited values included) and
//    the target's other keys as before; (b) the same for the JS SDK, when it read the file before; (c) a refusal is
//    one of the documented ones (an invalid profile name; a header with text after "]" the JS SDK does not read,
//    which botocore must read as the target's where it reads the file; two target sections; a "[]", or an indented "[x]" continuing a value, in the target); upsertProfileCredentials only returns
//    bytes, so a refused file is unchanged by construction; (d) bytes outside the target section (its lines as
//    botocore finds them: the parser's own state, watched line by line) are unchanged; (e) a second write of the same
//    credentials changes nothing and is not refused; (f) `update` warns (once, naming a line of the written file; the
//    header lines of "two [x] sections") exactly when botocore refuses the written file (ParsingError,
//    MissingSectionHeaderError, DuplicateSectionError, DuplicateOptionError, UnicodeDecodeError, or the ValueError of
//    a nested value), and where botocore reads it, it reads the target's new keys. Each disagreement is classified: `defect` (ours), `documented`
//    (listed in docs/long-running.md's `update` section), `documented?` (a change to the target's other keys with no
//    rule for it yet: to look at), or `quirk` (the two readers read the file differently before it is touched, and
//    the failure is that difference carried over: the reason names the line or feature). Kinds and reasons are
//    counted, the first case of each kind kept in fuzz-out/credentials-file/ (CREDFILE_FUZZ_MORE=n keeps n).
// 3. The AWS CLI (`aws configure get KEY --profile P`, --cli N files, default 20) on some rewritten files that agree.
//   Round 34, 2,000 cases (seed 34, about a minute here): 0 defects, 1,783 of 1,783 warnings as botocore's verdict;
//   6,000 (seed 31): 0 defects, 5,353 of 5,353 (round 33's credentials-file.ts, seed 34: 118 defects of 500, the
//   lines botocore refuses unwarned; it found this round's [DEFAULT] warning told where botocore read the file); figures in
//   docs/long-running.md. Round 31, 6,000 cases (seed 31, about 2 minutes here): 0 defects. Earlier
//   runs found round 31's five CHANGELOG lines (a value ended where configparser does not end it, and went on where it
//   ends; --profile __proto__; \x1c/U+0085 indentation; --profile "a ;b"). Run on older credentials-file.ts (before
//   983d9fb0, a6ac3654) it finds their hand-found defects too (138 and 349 cases of 1,500; 17 before round 31).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import vm from "node:vm";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const CASES = Number(arg("--cases", 6000));
const CLI_CASES = Number(arg("--cli", 20)); // cases whose rewritten file the AWS CLI reads too (about 1.5 s each)
const SEED = Number(arg("--seed", 31)) >>> 0 || 1;
let seed = SEED;
const random = () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) / 2 ** 32);
const pick = (list) => list[Math.floor(random() * list.length)];
const int = (n) => Math.floor(random() * n);
const chance = (p) => random() < p;

const work = mkdtempSync(join(tmpdir(), "raa-credfile-fuzz-"));
const out = resolve("fuzz-out", "credentials-file");
mkdirSync(out, { recursive: true });

// --- ours and the JavaScript SDK's parser ------------------------------------------------------------------------------
const ours = join(work, "ours.mjs");
writeFileSync(join(work, "entry.ts"), `export { upsertProfileCredentials, isProfileName } from ${JSON.stringify(resolve("src/update/credentials-file.ts"))};`);
await build({
  entryPoints: [join(work, "entry.ts")], outfile: ours, bundle: true, format: "esm", platform: "node", target: "node20",
  define: { __AGENT_VERSION__: '"0.0.0-fuzz"' }, logLevel: "warning",
});
const { upsertProfileCredentials, isProfileName } = await import(ours);

const sdkDir = resolve("node_modules/@smithy/core/dist-es/submodules/config/shared-ini-file-loader");
const iniBundle = join(work, "parse-ini.js");
await build({
  entryPoints: [join(sdkDir, "parseIni.js")], outfile: iniBundle, bundle: true, format: "iife", globalName: "ini",
  platform: "neutral", mainFields: ["module", "main"], logLevel: "warning",
});
const iniSource = (await import("node:fs")).readFileSync(iniBundle, "utf8");
const iniScript = new vm.Script(iniSource + "\nini.parseIni(text)");
const iniDefine = new vm.Script(iniSource);
/** The JS SDK's reading of the file: loadSharedConfigFiles reads it as UTF-8 and parses it (a throw: it reads {}). */
function jsRead(bytes) {
  const context = vm.createContext({ text: Buffer.from(bytes).toString("utf8") });
  try {
    // Plain data out of the fresh realm ([constructor] is the realm's Object function, with the keys on it).
    const parsed = iniScript.runInContext(context);
    const plain = {};
    for (const [name, keys] of Object.entries(parsed)) plain[name] = Object.fromEntries(Object.entries(keys));
    return { ok: plain };
  } catch (error) {
    return { error: String(error.message) };
  }
}
/**
 * The section the JS SDK puts each line (as botocore splits them: `starts`) in, or null: the file up to the end of the
 * line with a probe key after it, parsed; the probe's section is the line's. One realm per file.
 */
function jsLineSections(bytes, starts) {
  const context = vm.createContext({});
  iniDefine.runInContext(context);
  return starts.map((_, i) => {
    const end = i + 1 < starts.length ? starts[i + 1] : bytes.length;
    const text = Buffer.from(bytes.subarray(0, end)).toString("utf8") + "\n__probe__ = 1\n";
    try {
      const parsed = context.ini.parseIni(text);
      const found = Object.keys(parsed).find((name) => Object.hasOwn(parsed[name], "__probe__")) ?? null;
      for (const name of Object.keys(parsed)) delete parsed[name].__probe__; // [constructor] is the realm's Object: it stays
      return found;
    } catch {
      return null;
    }
  });
}

/** The key the JS SDK files section [profile] under, or null when it files it under none. */
function jsKeyOf(profile) {
  const r = jsRead(Buffer.from(`[${profile}]\n__probe = 1\n`, "utf8"));
  const keys = r.ok ? Object.keys(r.ok) : [];
  return keys.length === 1 ? keys[0] : null;
}

// --- botocore --------------------------------------------------------------------------------------------------------
const PYTHON = String.raw`
import configparser, io, json, sys
from botocore.configloader import raw_config_parse, _parse_nested
import botocore

class Watched:
    """Lines for configparser's _read, noting after each line whether it was a header and the section it is in."""
    def __init__(self, lines):
        self.lines, self.i, self.states = lines, 0, []
    def __iter__(self):
        return self
    def __next__(self):
        frame = sys._getframe(1)  # _read (enumerate is C)
        if self.i > 0:
            l = frame.f_locals
            mo, value = l.get("mo"), l.get("value")
            header = bool(value) and mo is not None and mo.re is l["self"].SECTCRE and mo.string == value
            self.states.append([header, l.get("sectname")])
        if self.i == len(self.lines):
            raise StopIteration
        self.i += 1
        return self.lines[self.i - 1]

def spans(path):
    with open(path, "rb") as f:
        data = f.read()
    lines = list(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape", newline=None))
    w = Watched(lines)
    cp = configparser.RawConfigParser(strict=False)
    try:
        cp._read(w, path)
    except configparser.MissingSectionHeaderError:
        return None  # stopped at the line: no map of the rest
    except configparser.Error:
        pass
    return w.states

def read(path):
    try:
        parsed = raw_config_parse(path)
    except Exception as e:
        inner = getattr(e, "kwargs", {}).get("error")
        r = {"error": type(inner or e).__name__}
        try:  # a nested value's ValueError: configparser read it, raw_config_parse then refused it
            cp = configparser.RawConfigParser()
            cp.read([path])
            r["raw"] = {s: dict(cp.items(s)) for s in cp.sections()}
        except Exception:
            pass
        return r
    cp = configparser.RawConfigParser()
    cp.read([path])
    defaults = {}
    for k, v in cp.defaults().items():
        try:
            defaults[k] = _parse_nested(v) if v.startswith("\n") else v
        except ValueError:  # no section to inherit it: raw_config_parse never parsed it
            defaults[k] = v
    return {"ok": parsed, "defaults": defaults}

out = []
for job in json.load(sys.stdin):
    r = read(job["path"])
    if job.get("spans"):
        r["spans"] = spans(job["path"])
    out.append(r)
json.dump({"version": botocore.__version__, "results": out}, sys.stdout)
`;
function botocore(jobs) {
  const text = execFileSync("python3", ["-c", PYTHON], { input: JSON.stringify(jobs), maxBuffer: 1 << 30, encoding: "utf8" });
  return JSON.parse(text);
}

// --- the generator ---------------------------------------------------------------------------------------------------
const utf8 = (text) => Buffer.from(text, "utf8").toString("latin1"); // a "byte string"
const SPACES = [" ", " ", " ", "\t", "  ", "\u00a0", "\u2003", "\u3000", "\v", "\f", "\x1c", "\x85", "\u2028"];
const NOT_SPACES = ["\ufeff", "\u200b"];
// A "clean" case (40 %) has none of what makes botocore refuse a file (a line that is no setting, a duplicate, bytes
// that are not UTF-8, a BOM, a lone CR), so that most of its files are ones botocore reads: oracle (a) on every feature.
let clean = false;
const space = () => (chance(0.85) ? pick([" ", "\t", "  "]) : pick(SPACES));
const spaces = () => (chance(0.5) ? "" : space());
const KEYS = ["aws_access_key_id", "aws_secret_access_key", "aws_session_token"];
const anyCase = (key) => (chance(0.8) ? key : [...key].map((c) => (chance(0.5) ? c.toUpperCase() : c)).join(""));
const PROFILES = [
  "gw", "gw", "gw", "default", "default", "prod-1", "a.b", "gw-é", "profile x", "foo bar", "a ;b", "a #b", "g#w", "g;w",
  "%(x)s", "gw%", "__proto__", "profile __proto__", "constructor", "toString", "g\0w", "gw\x85", "\x1cgw", "a=b", "a:b",
  "p".repeat(300), "Default", "a\u00a0b", "sso-session s", "services s", "GW", "gw\u2028x", "a  b", "ünï",
];
const REFUSED_PROFILES = ["DEFAULT", " gw", "gw\t", "g]w", "[gw", "g\nw", "", "gw\ufeff"];
const OTHER_NAMES = ["other", "default", "DEFAULT", "DEFAULT", "profile x", "gw2", "a ;b", "Default", "x y", "__proto__"];

function value() {
  switch (int(16)) {
    case 0: return "";
    case 1: return "%(x)s";
    case 2: return "50%";
    case 3: return "v ; inline";
    case 4: return "v # inline";
    case 5: return chance(0.1) && !clean ? "caf\xe9" : "cafe"; // Latin-1
    case 6: return chance(0.1) && !clean ? "\xff\xfe" : "ok";
    case 7: return "a\0b";
    case 8: return "x".repeat(1 + int(20000));
    case 9: return utf8("é" + pick(NOT_SPACES));
    case 10: return "[gw]";
    case 11: return "a=b";
    default: return pick(["OLD", "AKIAOTHER", "eu-west-1", "json", "v"]);
  }
}
const delimiter = () => (chance(0.7) ? `${spaces()}${pick(["=", "=", ":"])}${spaces()}` : `${space()}${pick(["=", ":"])}${space()}`);

function header(name, target) {
  let text = `[${name}]`;
  if (name === target && chance(0.15)) text = pick([`[ ${name} ]`, `[${name}]]`, `[${name} ]`, `[${name.toUpperCase()}]`]);
  const trailer = chance(0.85) ? "" : pick([" ; comment", " # comment", ";c", "x", " x", space(), `${space()}; c`, "]"]);
  const indent = chance(0.9) ? "" : pick([" ", "\t", "\u00a0", "\u2003", "  "]);
  return utf8(indent + text + trailer);
}

/** The lines of one section's body, as byte strings, and the features used. */
function body(features) {
  const lines = [];
  const used = new Set();
  const once = (list) => {
    const fresh = list.filter((k) => !used.has(k));
    const key = fresh.length > 0 && (clean || chance(0.99)) ? pick(fresh) : pick(list);
    used.add(key);
    return key;
  };
  let indent = chance(0.85) ? "" : pick(["  ", "\t", "\u00a0"]);
  for (let n = int(7); n > 0; n--) {
    const kind = int(20);
    if (kind < 7) {
      const key = anyCase(once(KEYS));
      if (key !== key.toLowerCase()) features.add("key-case");
      lines.push(utf8(indent + key + delimiter()) + value());
    } else if (kind < 9) {
      lines.push(utf8(indent + once(["region", "output", "aws_access_key_id_x", "x_aws_session_token", "aws_access_key_id x"]) + delimiter()) + value());
    } else if (kind < 11) {
      features.add("comment");
      lines.push(utf8(pick(["", " ", "  ", "\u00a0"]) + pick(["#", ";"]) + " note"));
    } else if (kind < 13) {
      lines.push(utf8(pick(["", "", " ", "\t", "\u00a0", "\u2003", "\x85", "\v"])));
    } else if (kind < 15) {
      features.add("continuation");
      const deeper = indent + pick(["  ", "\t", "\u00a0", "\u2003", " "]);
      lines.push(utf8(deeper + pick(["continued", "[gw]", "[other]", "aws_session_token = C", "k = v", "# c", "%"])));
    } else if (kind === 15 && !used.has("s3")) {
      used.add("s3");
      features.add("subsection");
      lines.push(utf8(indent + "s3 =" + pick(["", " "])), utf8(indent + "  signature_version = s3v4"), utf8(indent + "  " + anyCase(pick(KEYS)) + " = SUB"));
      if (!clean && chance(0.2)) lines.push(utf8(indent + "  " + pick(["addressing_style", "a : b", "x\u2028y = 1"]))); // no "=": botocore's ValueError
    } else if (kind === 16 && chance(0.3) && !clean) {
      features.add("garbage");
      lines.push(utf8(indent + pick(["garbage", "=novalue", "aws_session_token", "[unclosed", "[]", ": x", "=x"])));
    } else if (kind === 17) {
      features.add("long");
      lines.push(utf8(indent + "long = ") + "y".repeat(5000 + int(60000)));
    } else if (kind === 18) {
      indent = pick(["", "  ", "\t", "\u00a0", "\u2003", "\x1c", "\x85"]);
      features.add("indent");
    } else if (chance(0.3) && !clean) {
      features.add("bytes");
      lines.push(utf8(indent + "k = ") + pick(["\xe9t\xe9", "\xc3\x28", "\0", "\x80", "\xef\xbb\xbf", "%%"]));
    }
  }
  return lines;
}

function makeCase(i) {
  const features = new Set();
  clean = chance(0.4);
  if (clean) features.add("clean");
  const refused = chance(0.02);
  const profile = refused ? pick(REFUSED_PROFILES) : chance(0.8) ? pick(PROFILES.slice(0, 8)) : pick(PROFILES);
  const target = profile;
  const lines = [];
  if (chance(0.2)) lines.push(...pick([["# credentials"], [""], ["; hand-written", ""], ["# a"]]).map(utf8));
  if (chance(0.01) && !clean) lines.push("stray = 1");
  const names = [];
  const count = 1 + int(6);
  const at = chance(0.8) ? int(count) : -1; // where the target goes, if at all
  for (let s = 0; s < count; s++) {
    const fresh = OTHER_NAMES.filter((n) => n !== target && !names.includes(n));
    names.push(s === at ? target : clean || chance(0.95) ? pick(fresh) : pick(OTHER_NAMES));
  }
  if (chance(0.05) && !clean) names.push(target); // a duplicate
  for (const name of names) {
    if (name === "DEFAULT") features.add("DEFAULT");
    lines.push(header(name, target), ...body(features));
  }
  const eolKind = chance(0.9) || clean ? pick(["\n", "\n", "\r\n"]) : pick(["\r", "mixed"]);
  features.add(`eol:${JSON.stringify(eolKind)}`);
  let text = lines.map((l, j) => l + (j === lines.length - 1 && chance(0.2) ? "" : eolKind === "mixed" ? pick(["\n", "\r\n", "\r"]) : eolKind)).join("");
  if (chance(0.04) && !clean) {
    text = "\xef\xbb\xbf" + text;
    features.add("bom");
  }
  const b64 = (n) => Array.from({ length: n }, () => pick([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"])).join("");
  const credentials = {
    accessKeyId: "ASIA" + b64(16).replace(/[^A-Z0-9]/g, "Q"),
    secretAccessKey: b64(40).replace(/%/g, "") + (chance(0.05) ? "%" : ""),
    sessionToken: b64(200 + int(900)) + pick(["", "=", "=="]),
    expiration: new Date("2030-01-01T00:00:00Z"),
  };
  return { i, profile, credentials, before: Buffer.from(text, "latin1"), features: [...features] };
}

// --- the oracle --------------------------------------------------------------------------------------------------------
const TWO_SECTIONS = /^the credentials file has two \[[^]*\] sections, lines \d+ and \d+: botocore \(the AWS CLI\) reads no profile of the file/;
const HIDING = /^the credentials file's line \d+ \(".*"\) in \[[^]*\] is no setting to botocore \(the AWS CLI\) but a section to the AWS SDK for JavaScript, which reads no key of \[[^]*\] below it$/;
const SECTION_MISMATCH = /^the credentials file's line ".*" is section \[[^]*\] to botocore \(the AWS CLI\) but no section to the AWS SDK for JavaScript$/;
const withoutKeys = (section, exact = false) =>
  Object.fromEntries(Object.entries(section ?? {}).filter(([k]) => !KEYS.includes(exact ? k : k.toLowerCase())));
/** Byte offsets where each line starts, as Python's universal newlines splits them. */
const lineStarts = (bytes) => {
  const starts = [0];
  const text = bytes.toString("latin1");
  for (const m of text.matchAll(/\r\n|\r|\n/g)) starts.push(m.index + m[0].length);
  if (starts.at(-1) === text.length) starts.pop();
  return starts;
};

function judge(c, boto, jsBefore, jsAfter) {
  const problems = [];
  const values = { aws_access_key_id: c.credentials.accessKeyId, aws_secret_access_key: c.credentials.secretAccessKey, aws_session_token: c.credentials.sessionToken };
  if (c.error) {
    const documented = (c.error.code === "INPUT_INVALID" && (SECTION_MISMATCH.test(c.error.message) || TWO_SECTIONS.test(c.error.message) || HIDING.test(c.error.message)))
      || (c.error.code === "FILE_WRITE_FAILED" && /^invalid profile name /.test(c.error.message) && !isProfileName(c.profile))
      || (c.error.code === "FILE_WRITE_FAILED" && c.profile === "DEFAULT");
    if (!documented) problems.push(`refused: ${c.error.code} ${c.error.message.replace(/".*"/, '"…"')}`);
    else if (c.error.code === "INPUT_INVALID") {
      // Justified only if botocore reads a [profile] header there and the JS SDK files no section under the name.
      const b = boto.before;
      if (b.ok && !b.spans.some(([h, name]) => h && name === c.profile)) problems.push("refusal: botocore reads no such header");
    }
    return problems;
  }
  if (!isProfileName(c.profile) || c.profile === "DEFAULT") problems.push("accepted a refused profile name");
  // The next refresh, with the same credentials, writes the same bytes
  try {
    if (!upsertProfileCredentials(c.after, c.profile, c.credentials).equals(c.after)) problems.push("a second write changes the file");
  } catch (error) {
    problems.push(`a second write is refused (${error.code})`);
  }
  const target = c.profile;
  // (a) botocore
  const [b, a] = [boto.before, boto.after];
  // (f) warned exactly when botocore reads no profile of the written file, once, naming a line of it; where it reads
  // the file, the target's keys are the new ones (whether or not it read the file before)
  if (a.ok && c.warned.length > 0) problems.push("warned, though botocore reads the file");
  if (!a.ok && c.warned.length !== 1) problems.push(`botocore refuses the file (${a.error}), ${c.warned.length} warnings`);
  for (const line of c.warned) {
    const numbers = [...line.matchAll(/\bline(?:s)? (\d+)(?: and (\d+))?/g)].flatMap((m) => [m[1], m[2]]).filter(Boolean).map(Number);
    if (numbers.length === 0 || numbers.some((n) => n < 1 || n > lineStarts(c.after).length) || /[\r\n]/.test(line)) problems.push("a warning names no line of the file");
    // "two [x] sections, lines N and M": both are header lines of the written file
    const starts = lineStarts(c.after);
    const lineAt = (n) => c.after.subarray(starts[n - 1], starts[n] ?? c.after.length).toString("latin1");
    if (/^two \[/.test(line.replace(/^the credentials file has /, "")) && numbers.some((n) => !lineAt(n).includes("["))) problems.push("a warning names another line of the file");
  }
  if (a.ok && !b.ok) for (const k of KEYS) if (a.ok[target]?.[k] !== values[k]) problems.push(`boto: target ${k} not the new value`);
  if (b.ok) {
    if (!a.ok) problems.push(`boto: unreadable after (${a.error.split(":")[0]})`);
    else {
      for (const k of KEYS) if (a.ok[target]?.[k] !== values[k]) problems.push(`boto: target ${k} not the new value`);
      for (const s of new Set([...Object.keys(b.ok), ...Object.keys(a.ok)])) {
        if (s !== target && !isDeepStrictEqual(b.ok[s], a.ok[s])) problems.push("boto: another profile changed");
      }
      if (!isDeepStrictEqual(withoutKeys(a.ok[target]), withoutKeys(Object.hasOwn(b.ok, target) ? b.ok[target] : b.defaults) /* not Object.prototype's: --profile toString */)) problems.push("boto: target's other keys changed");
    }
  }
  // (b) the JS SDK
  const jsKey = jsKeyOf(target);
  if (jsBefore.ok) {
    if (!jsAfter.ok) problems.push(`js: unreadable after (${jsAfter.error})`);
    else {
      if (jsKey !== null) {
        for (const k of KEYS) if (jsAfter.ok[jsKey]?.[k] !== values[k]) problems.push(`js: target ${k} not the new value`);
        if (!isDeepStrictEqual(withoutKeys(jsAfter.ok[jsKey], true), withoutKeys(jsBefore.ok[jsKey], true))) problems.push("js: target's other keys changed");
      }
      for (const s of new Set([...Object.keys(jsBefore.ok), ...Object.keys(jsAfter.ok)])) {
        if (s !== jsKey && !isDeepStrictEqual(jsBefore.ok[s], jsAfter.ok[s])) problems.push("js: another profile changed");
      }
    }
  }
  // (d) bytes outside the target section, as botocore finds its lines
  const spans = boto.before.spans;
  if (!spans) return [...new Set(problems)];
  const starts = lineStarts(c.before);
  let from = c.before.length;
  let to = c.before.length;
  const h = spans.findIndex(([isHeader, name]) => isHeader && name === target);
  if (h >= 0) {
    from = starts[h];
    const next = spans.findIndex(([isHeader], j) => j > h && isHeader);
    to = next < 0 ? c.before.length : starts[next];
  }
  const [B, A] = [c.before, c.after];
  const kept = A.length >= from + (B.length - to) && A.subarray(0, from).equals(B.subarray(0, from))
    && A.subarray(A.length - (B.length - to)).equals(B.subarray(to));
  if (!kept) problems.push("bytes changed outside the target section");
  return [...new Set(problems)];
}

/**
 * Why a disagreement is not ours, or "" (a defect): a difference docs/long-running.md lists (`documented`), or the
 * two readers reading the file differently before it is touched (`quirk`).
 */
function explain(problem, c, boto, jsBefore, jsAfter) {
  const unnested = Object.values(boto.before.defaults ?? {}).some((v) => typeof v === "string" && v.startsWith("\n"));
  if (problem === "boto: unreadable after (ValueError)" && unnested && c.warned.length === 1) {
    // raw_config_parse parses a value that starts with a line break as "key = value" lines only in a section that
    // inherits it; the new [profile] does (update warns)
    return ["quirk", "a [DEFAULT] value botocore cannot read as nested keys: it reads the file only while every section sets that name itself"];
  }
  if (!problem.startsWith("js:")) return ["defect", ""];
  const text = c.before.toString("latin1");
  if (/\r(?!\n)/.test(text)) return ["quirk", "a lone CR ends a line for botocore, not for the JS SDK"];
  if (problem.startsWith("js: unreadable after")) return ["defect", ""]; // it read every profile before
  const jsKey = jsKeyOf(c.profile);
  if (jsKey === null) return ["documented", "a profile name the JS SDK files under no section"];
  const spans = boto.before.spans;
  if (!spans) {
    const why = text.startsWith("\xef\xbb\xbf") ? "a byte-order mark: botocore refuses the file (no section header), the JS SDK trims it" : "a setting before any header: botocore refuses the file, the JS SDK reads on";
    return ["quirk", why];
  }
  if (spans.filter(([h, name]) => h && name === c.profile).length > 1) {
    return ["documented", "a second [profile] section: only the first is rewritten (botocore refuses the file, the JS SDK reads the last value)"];
  }
  // Lines in the target section to one reader and not to the other
  const starts = lineStarts(c.before);
  const js = jsLineSections(c.before, starts);
  const h = spans.findIndex(([isHeader, name]) => isHeader && name === c.profile);
  const botoTarget = (i) => h >= 0 && i >= h && !spans.slice(h + 1, i + 1).some(([isHeader]) => isHeader);
  const lineOf = (i) => Buffer.from(c.before.subarray(starts[i], starts[i + 1] ?? c.before.length)).toString("utf8");
  const meaningful = (i) => !/^\s*([#;].*)?$/.test(lineOf(i).replace(/[\r\n]+$/, ""));
  const split = starts.findIndex((_, i) => meaningful(i) && botoTarget(i) !== (js[i] === jsKey));
  if (split >= 0) {
    const line = lineOf(split).replace(/[\r\n]+$/, "");
    const [inBoto, jsIn] = [botoTarget(split), js[split] === null ? "no section" : js[split] === jsKey ? "[profile]" : "another section"];
    const shape = /^[\s\x1c-\x1f\x85]*\[/.test(line) // Python's spaces
      ? (/^[\s\x1c-\x1f\x85]/.test(line) && !spans[split][0] ? "an indented [header] that botocore reads as more of the value above" : "a [header] line the readers read differently")
      : "a line after a [header] the readers read differently";
    return ["quirk", `${shape} (in ${inBoto ? "[profile]" : "another section"} to botocore, in ${jsIn} to the JS SDK)`];
  }
  const jsTarget = jsBefore.ok[jsKey] ?? {};
  // To the JS SDK "name =" with no value (or only what String#trim takes: U+FEFF) files the indented keys below it
  // as name.key; to botocore they are keys, or "name"'s value.
  const nested = (k) => /\./.test(k) && k.split(".").some((part) => KEYS.includes(part.toLowerCase()));
  if ([...Object.keys(jsTarget), ...Object.keys(jsAfter.ok?.[jsKey] ?? {})].some(nested)) {
    return ["quirk", "an indented line after \"name =\" with no value: the JS SDK files it as name.key, botocore as a key or name's value"];
  }
  // A line that is more of another value to botocore and a credential key to the JS SDK: the rewrite leaves it
  const botoTargetKeys = (boto.before.ok ?? boto.before.raw)?.[c.profile];
  const key = KEYS.find((k) => problem === `js: target ${k} not the new value`);
  if (key && botoTargetKeys && jsTarget[key] !== undefined && jsTarget[key] !== botoTargetKeys[key]) {
    return ["quirk", "a line that is more of another value to botocore and a credential key to the JS SDK"];
  }
  if (problem === "js: target's other keys changed") {
    const after = jsAfter.ok[jsKey] ?? {};
    const changed = Object.keys({ ...jsTarget, ...after }).filter((k) => !KEYS.includes(k) && jsTarget[k] !== after[k]);
    const credentialLine = (k) => KEYS.some((key) => k.replace(/^[\x1c-\x1f\x85\s]+/, "").toLowerCase().startsWith(key));
    if (changed.every(credentialLine)) {
      return ["documented", "a credential line the JS SDK reads under another name (other case, \":\" before \"=\", a leading \\x1c-\\x1f or U+0085) is rewritten"];
    }
    // Lines of the file the rewrite dropped (a replaced value's continuation lines), as the JS SDK reads them
    const linesOf = (bytes) => Buffer.from(bytes).toString("utf8").split(/\r?\n/).map((l) => l.trim());
    const kept = new Map();
    for (const l of linesOf(c.after)) kept.set(l, (kept.get(l) ?? 0) + 1);
    const dropped = linesOf(c.before).filter((l) => {
      kept.set(l, (kept.get(l) ?? 0) - 1);
      return kept.get(l) < 0;
    });
    const fromDropped = (k) => dropped.some((l) => l.startsWith(k) && l.slice(k.length).trim().startsWith("="));
    if (changed.every((k) => credentialLine(k) || fromDropped(k))) {
      return ["documented", "a replaced value's continuation lines go (the JS SDK read them as keys)"];
    }
  }
  return ["defect", ""];
}

// --- the run -----------------------------------------------------------------------------------------------------------
const kinds = new Map();
const tally = (verdict, kind, c, detail) => {
  const key = `${verdict}: ${kind}`;
  const entry = kinds.get(key) ?? { count: 0, example: null };
  entry.count++;
  // CREDFILE_FUZZ_MORE=n keeps the first n cases of each kind, not one
  if (entry.count <= Number(process.env.CREDFILE_FUZZ_MORE ?? 1)) {
    entry.example ??= `${String(kinds.size).padStart(3, "0")}-case-${c.i}`;
    const name = `${entry.example.split("-case-")[0]}-case-${c.i}`;
    writeFileSync(join(out, `${name}.before`), c.before);
    if (c.after) writeFileSync(join(out, `${name}.after`), c.after);
    writeFileSync(join(out, `${name}.json`), JSON.stringify({ profile: c.profile, features: c.features, kind, detail }, null, 2));
  }
  kinds.set(key, entry);
};
let version = "";
const cliCases = [];
const readBefore = { botocore: 0, js: 0 };
const byReason = new Map(); // cases that are not agreements, by why
const verdicts = { agree: 0, refused: 0, defect: 0, "documented?": 0, documented: 0, quirk: 0 };
const told = new Map(); // botocore's verdict on the written file, by whether update warned (oracle f)
const toldAgree = { yes: 0, no: 0 };
const BATCH = 250;
for (let first = 0; first < CASES; first += BATCH) {
  const batch = [];
  for (let i = first; i < Math.min(CASES, first + BATCH); i++) {
    const c = makeCase(i);
    c.warned = [];
    try {
      c.after = upsertProfileCredentials(c.before, c.profile, c.credentials, (line) => c.warned.push(line));
    } catch (error) {
      c.error = { code: error.code ?? "INTERNAL", message: String(error.message) };
    }
    writeFileSync(join(work, `${i}.before`), c.before);
    if (c.after) writeFileSync(join(work, `${i}.after`), c.after);
    batch.push(c);
  }
  const jobs = batch.flatMap((c) => [{ path: join(work, `${c.i}.before`), spans: true }, ...(c.after ? [{ path: join(work, `${c.i}.after`) }] : [])]);
  const read = botocore(jobs);
  version = read.version;
  let k = 0;
  for (const c of batch) {
    const boto = { before: read.results[k++] };
    if (c.after) boto.after = read.results[k++];
    const jsBefore = jsRead(c.before);
    const jsAfter = c.after ? jsRead(c.after) : undefined;
    const problems = judge(c, boto, jsBefore, jsAfter);
    if (c.after) {
      const key = `${boto.after.ok ? "botocore parses it" : boto.after.error}, ${c.warned.length ? "warned" : "not warned"}`;
      told.set(key, (told.get(key) ?? 0) + 1);
      toldAgree[!boto.after.ok === (c.warned.length === 1) && (boto.after.ok || c.warned.length === 1) ? "yes" : "no"]++;
    }
    if (boto.before.ok) readBefore.botocore++;
    if (jsBefore.ok) readBefore.js++;
    if (problems.length === 0) {
      if (!c.error && boto.after.ok && cliCases.length < CLI_CASES && c.i % 7 === 0) cliCases.push(c);
      verdicts[c.error ? "refused" : "agree"]++;
      tally(c.error ? "refused" : "agree", c.error ? c.error.code : boto.before.ok ? "botocore read it" : `botocore refused it before (${boto.before.error})`, c, {});
      continue;
    }
    const classified = problems.map((p) => {
      const [verdict, why] = explain(p, c, boto, jsBefore, jsAfter);
      return [verdict, why ? `${p} — ${why}` : p];
    });
    const worst = ["defect", "documented?", "documented", "quirk"].find((v) => classified.some(([verdict]) => verdict === v));
    verdicts[worst]++;
    for (const reason of new Set(classified.map(([verdict, kind]) => `${verdict}: ${kind.split(" — ")[1] ?? kind}`))) {
      byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
    }
    for (const [verdict, kind] of classified) tally(verdict, kind, c, { problems: classified, error: c.error, boto: boto.before.error ?? null });
  }
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  process.stderr.write(`\r${Math.min(CASES, first + BATCH)}/${CASES}`);
}
process.stderr.write("\n");

// The AWS CLI on some rewritten files: `aws configure get <key> --profile <profile>` gives the new value
const cli = { agree: 0, differ: [] };
const cliVersion = execFileSync("aws", ["--version"], { encoding: "utf8" }).trim();
for (const [n, c] of cliCases.entries()) {
  const key = KEYS[n % 3];
  const file = join(work, `cli-${c.i}`);
  writeFileSync(file, c.after);
  const env = { ...process.env, AWS_SHARED_CREDENTIALS_FILE: file, AWS_CONFIG_FILE: join(work, "absent") };
  const got = execFileSync("aws", ["configure", "get", key, "--profile", c.profile], { env, encoding: "utf8" }).replace(/\n$/, "");
  const want = { aws_access_key_id: c.credentials.accessKeyId, aws_secret_access_key: c.credentials.secretAccessKey, aws_session_token: c.credentials.sessionToken }[key];
  if (got === want) cli.agree++;
  else cli.differ.push(c.i);
}
rmSync(work, { recursive: true, force: true });

const lines = [...kinds].sort(([a], [b]) => a.localeCompare(b)).map(([key, { count, example }]) => `${String(count).padStart(6)}  ${key}  (${example})`);
const summary = [
  `credentials-file fuzz: ${CASES} cases, seed ${SEED}; botocore ${version}`,
  `  read before the rewrite: ${readBefore.botocore} by botocore, ${readBefore.js} by the JS SDK`,
  `  per case: ${verdicts.agree} agree, ${verdicts.refused} refused as documented, ${verdicts.documented} documented differences, ${verdicts.quirk} readers' quirks, ${verdicts.defect} defects`,
  `  warnings (written files): ${toldAgree.yes} agree with botocore's verdict, ${toldAgree.no} do not; by verdict:`,
  ...[...told].sort(([a], [b]) => a.localeCompare(b)).map(([why, count]) => `  ${String(count).padStart(6)}  ${why}`),
  `  the AWS CLI (${cliVersion}) on ${cliCases.length} rewritten files: ${cli.agree} read the new value${cli.differ.length ? `, cases ${cli.differ.join(", ")} did not` : ""}`,
  "  cases by why (a case can show several):",
  ...[...byReason].sort(([a], [b]) => a.localeCompare(b)).map(([why, count]) => `  ${String(count).padStart(6)}  ${why}`),
  "  by kind:",
  ...lines.map((l) => `  ${l}`),
].join("\n");
writeFileSync(join(out, "summary.txt"), summary + "\n");
console.log(summary);
process.exitCode = verdicts.defect > 0 || cli.differ.length > 0 ? 1 : 0;
