import { execFileSync } from "node:child_process";
import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { upsertProfileCredentials } from "../../src/update/credentials-file.js";
import { workOf } from "../helpers/work-counted.js";

/** The function on UTF-8 text, for readable cases (bytes that are not UTF-8: native-test/update-targets.test.ts). */
const upsert = (text: string, profile: string, credentials: Credentials): string =>
  upsertProfileCredentials(Buffer.from(text, "utf8"), profile, credentials).toString("utf8");
import type { Credentials } from "../../src/rolesanywhere/credentials.js";

const c: Credentials = {
  accessKeyId: "ASIANEW",
  secretAccessKey: "newsecret/+=",
  sessionToken: "newtoken==",
  expiration: new Date("2030-01-01T00:00:00Z"),
};
const thrown = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    return error;
  }
  return "not thrown";
};
const NEW = "aws_access_key_id = ASIANEW\naws_secret_access_key = newsecret/+=\naws_session_token = newtoken==\n";

describe("upsertProfileCredentials", () => {
  it("replaces the three keys in place and keeps everything else byte for byte", () => {
    const before = [
      "# managed by hand",
      "[default]",
      "aws_access_key_id = AKIAOTHER",
      "aws_secret_access_key = other",
      "",
      "[gw]   ; the gateway",
      "region = eu-west-1",
      "aws_access_key_id=OLD",
      "  # keep me",
      "aws_secret_access_key : OLD",
      "aws_session_token = OLD",
      "output = json",
      "",
      "[later]",
      "x = y",
      "",
    ].join("\n");
    const after = upsert(before, "gw", c);
    expect(after).toBe(
      [
        "# managed by hand",
        "[default]",
        "aws_access_key_id = AKIAOTHER",
        "aws_secret_access_key = other",
        "",
        "[gw]   ; the gateway",
        "region = eu-west-1",
        "aws_access_key_id = ASIANEW",
        "  # keep me",
        "aws_secret_access_key = newsecret/+=",
        "aws_session_token = newtoken==",
        "output = json",
        "",
        "[later]",
        "x = y",
        "",
      ].join("\n"),
    );
  });

  it("adds missing keys after the section's last setting, before trailing blank lines and comments", () => {
    const before = "[gw]\nregion = eu-west-1\n\n# next one\n[other]\nk = v\n";
    expect(upsert(before, "gw", c)).toBe(`[gw]\nregion = eu-west-1\n${NEW}\n# next one\n[other]\nk = v\n`);
  });

  it("keeps the last line of a section that ends the file (aws_signing_helper drops it)", () => {
    expect(upsert("[gw]\nregion = eu-west-1", "gw", c)).toBe(`[gw]\nregion = eu-west-1\n${NEW}`);
    expect(upsert("[gw]", "gw", c)).toBe(`[gw]\n${NEW}`);
    // All three keys there: nothing added, so no line break either.
    const all = NEW.slice(0, -1).replace(/NEW|new/g, "OLD");
    expect(upsert(`[gw]\n${all}`, "gw", c)).toBe(`[gw]\n${NEW.slice(0, -1)}`);
  });

  it("appends a new section, separated by a blank line, and creates a file from nothing", () => {
    expect(upsert("", "gw", c)).toBe(`[gw]\n${NEW}`);
    expect(upsert("[a]\nk = v", "gw", c)).toBe(`[a]\nk = v\n\n[gw]\n${NEW}`);
    expect(upsert("[a]\nk = v\n\n", "gw", c)).toBe(`[a]\nk = v\n\n[gw]\n${NEW}`);
  });

  it("keeps CRLF line endings", () => {
    const after = upsert("[a]\r\nk = v\r\n[gw]\r\naws_access_key_id = OLD\r\n", "gw", c);
    expect(after).toBe(`[a]\r\nk = v\r\n[gw]\r\naws_access_key_id = ASIANEW\r\n${NEW.split("\n").slice(1).join("\r\n")}`);
  });

  it("reads a lone CR as a line break, as botocore does: a CR-only file is updated in place, not given a second [gw]", () => {
    // Before: the file was one line to us, so [gw] was appended again, and botocore refused the whole file (every
    // profile) with "Unable to parse config file" (DuplicateSectionError); it read the CR-only file before.
    const before = "[gw]\raws_access_key_id = OLD\r[other]\rk = v\r";
    expect(upsert(before, "gw", c)).toBe(`[gw]\raws_access_key_id = ASIANEW\r${NEW.split("\n").slice(1).join("\r")}[other]\rk = v\r`);
    expect(upsert("[a]\rk = v", "gw", c)).toBe(`[a]\rk = v\r\r[gw]\r${NEW.replace(/\n/g, "\r")}`);
    // A CR inside a CRLF file ends a line there too (for botocore as for us); CRLF stays one line ending.
    expect(upsert("[a]\r\nk = v\r[gw]\r\naws_session_token = OLD\r\n", "gw", c)).toBe(
      "[a]\r\nk = v\r[gw]\r\naws_session_token = newtoken==\r\naws_access_key_id = ASIANEW\r\naws_secret_access_key = newsecret/+=\r\n",
    );
  });

  it("matches the section name exactly, as botocore does: [ gw ] is profile ' gw ', so --profile gw gets its own [gw]", () => {
    // Before: [ gw ] was updated, and `aws --profile gw` still said "The config profile (gw) could not be found".
    expect(upsert("[ gw ]\naws_access_key_id = OTHER\n", "gw", c)).toBe(`[ gw ]\naws_access_key_id = OTHER\n\n[gw]\n${NEW}`);
    expect(upsert("  [gw]  ; comment\naws_access_key_id = OLD\n", "gw", c)).toBe(`  [gw]  ; comment\n${NEW}`);
  });

  it("touches only exact key names, at the start of a line", () => {
    const before = "[gw]\naws_access_key_id_x = keep\n  aws_session_token = continuation\nx_aws_session_token = keep\n[other]\naws_access_key_id = other\n";
    const after = upsert(before, "gw", c);
    expect(after).toBe(`[gw]\naws_access_key_id_x = keep\n  aws_session_token = continuation\nx_aws_session_token = keep\n${NEW}[other]\naws_access_key_id = other\n`);
  });

  it("refuses a file with two [gw] sections, naming both lines: botocore reads none of it, the JS SDK the last one's keys", () => {
    // Before: the first was rewritten and the second kept, so `aws` still failed on the file (DuplicateSectionError) and
    // the AWS SDK for JavaScript (parseIni: later keys win) went on signing with the second section's old keys.
    for (const [text, lines] of [
      ["[gw]\naws_access_key_id = A1\n\n[other]\nx = 1\n[gw]\naws_access_key_id = A2\n", "1 and 6"],
      ["# c\r\n[gw] ; first\r\n  [gw]\r\n", "2 and 3"],
      ["[gw]\n[gw]\n[gw]\n", "1 and 2"], // the first two of three
    ] as const) {
      const told: string[] = [];
      expect(thrown(() => upsertProfileCredentials(Buffer.from(text), "gw", c, (line) => told.push(line))), text).toMatchObject({
        code: "INPUT_INVALID",
        message: `the credentials file has two [gw] sections, lines ${lines}: botocore (the AWS CLI) reads no profile of the file, the AWS SDK for JavaScript mixes both`,
        hint: "delete one of them (keep the other's settings), then run again",
      });
      expect(told, text).toEqual([]); // refused, not also warned of as another section
    }
    // Not a second [gw]: a header that continues a value, another name, a comment.
    const fine = "[gw]\nregion = x\n  [gw]\n[gw2]\n# [gw]\n";
    expect(upsert(fine, "gw", c)).toBe(`[gw]\nregion = x\n  [gw]\n${NEW}[gw2]\n# [gw]\n`);
  });

  it("reads indentation as botocore does: indented keys are replaced in place, a replaced value's continuation lines go", () => {
    // Before: indented keys (botocore reads them) were not seen, a second unindented set was added, and botocore refused
    // the whole file ("Unable to parse config file": every profile, the AWS CLI's traceback); a continuation line
    // of an old token was kept and became part of the new one.
    const before = "[default]\n    k = v\n[gw]\n    region = eu-west-1\n    aws_access_key_id = OLD\n    aws_session_token = OLD\n      continued\n\n      still\n    aws_secret_access_key = OLD\n";
    expect(upsert(before, "gw", c)).toBe(
      "[default]\n    k = v\n[gw]\n    region = eu-west-1\n    aws_access_key_id = ASIANEW\n    aws_session_token = newtoken==\n\n    aws_secret_access_key = newsecret/+=\n",
    );
    expect(upsert("[gw]\n  aws_access_key_id = OLD\n", "gw", c)).toBe(`[gw]\n  aws_access_key_id = ASIANEW\n${NEW.split("\n").slice(1).join("\n")}`);
    // Still a continuation of the line above it, not a key: kept (botocore reads region as two lines).
    expect(upsert("[gw]\nregion = x\n  aws_access_key_id = KEEP\n", "gw", c)).toBe(`[gw]\nregion = x\n  aws_access_key_id = KEEP\n${NEW}`);
  });

  it("finds section headers as botocore does: text after ']', a ']' in the name, a header that continues a value", () => {
    // Before: [gw] followed by text was not seen (a second [gw] was appended: botocore refused the whole file,
    // DuplicateSectionError), [gw]] (section "gw]") was read as part of [gw] above it and its keys replaced, and an
    // indented [gw] that botocore reads as more of the value above was updated instead of a real [gw] section.
    expect(upsert("[gw] ; device 42\naws_access_key_id = OLD\n", "gw", c)).toBe(`[gw] ; device 42\n${NEW}`);
    expect(upsert("[gw]\nk = v\n[gw]]\naws_access_key_id = OTHER\n", "gw", c)).toBe(`[gw]\nk = v\n${NEW}[gw]]\naws_access_key_id = OTHER\n`);
    expect(upsert("[a]\nk = v\n  [gw]\n", "gw", c)).toBe(`[a]\nk = v\n  [gw]\n\n[gw]\n${NEW}`);
    // A header starts its line: "[gw]" inside another section's value is not section gw (its keys stay).
    const value = "[a]\nnote = see [gw]\naws_access_key_id = AKIAOTHER\n\n[gw]\naws_access_key_id = OLD\n";
    expect(upsert(value, "gw", c)).toBe(`[a]\nnote = see [gw]\naws_access_key_id = AKIAOTHER\n\n[gw]\n${NEW}`);
    // Added keys are indented like the next header, which would otherwise continue the last of them.
    expect(upsert("[gw]\n  [other]\naws_access_key_id = OTHER\n", "gw", c)).toBe(`[gw]\n${NEW.replace(/^/gm, "  ").slice(0, -2)}  [other]\naws_access_key_id = OTHER\n`);
  });

  it("ends a value where configparser does: after \"=x\" (no option) an indented header is a header, after a line with no = or : a continuation", () => {
    // Before: "=x" was taken for a setting, so " [default]" below it continued it: [default]'s key was dropped as a
    // duplicate of [gw]'s and [gw]'s keys went under [default] (the JS SDK, which reads the file, then gave [default]
    // the role's credentials; botocore refuses the file for "=x" either way, and reads each section past it as here).
    const cases = [
      "[gw]\naws_access_key_id = OLD\n=x\n [default]\naws_access_key_id = AKIADEFAULT\n",
      "[a]\nk = v\n=x\n [gw]\naws_access_key_id = OLD\n",
      "[gw]\n aws_access_key_id = OLD\n =x\n  [default]\n aws_access_key_id = AKIADEFAULT\n", // indented alike: " =x" is no value's
      // Before: the old token's continuation past such a line was kept: more of the new token to botocore, and to the
      // JS SDK (which reads the file) a second aws_session_token, the old one, read after the new.
      "[gw]\naws_session_token = OLD\nno delimiter\n  aws_session_token = C\n[other]\nk = v\n",
    ];
    const outputs = cases.map((text) => upsertProfileCredentials(Buffer.from(text, "utf8"), "gw", c).toString("utf8"));
    const read = execFileSync("python3", ["-c", `
import configparser, json, sys
out = []
for text in json.load(sys.stdin):
    cp = configparser.RawConfigParser()
    try:
        cp.read_string(text)
    except configparser.ParsingError:
        pass  # raised at the end, every line read
    out.append({s: dict(cp.items(s)) for s in cp.sections()})
json.dump(out, sys.stdout)
`], { input: JSON.stringify(outputs), encoding: "utf8" });
    const gw = { aws_access_key_id: c.accessKeyId, aws_secret_access_key: c.secretAccessKey, aws_session_token: c.sessionToken };
    expect(JSON.parse(read)).toEqual([
      { gw: { "": "x", ...gw }, default: { aws_access_key_id: "AKIADEFAULT" } },
      { a: { "": "x", k: "v" }, gw },
      { gw: { "": "x", ...gw }, default: { aws_access_key_id: "AKIADEFAULT" } },
      { gw, other: { k: "v" } },
    ]);
    expect(outputs[3]).toBe(`[gw]\naws_session_token = newtoken==\nno delimiter\n${NEW.split("\n").slice(0, 2).join("\n")}\n[other]\nk = v\n`);
  });

  it("writes [gw] into a file with two [other] sections and warns once, naming them and their lines in the file as written: botocore reads none of it", () => {
    // Before: written without a word, though the AWS CLI (botocore 1.43.11: ConfigParseError, configparser's
    // DuplicateSectionError) reads no profile of the file, the [gw] just written included. The JS SDK reads it.
    // Round 34: the lines were the file's before the write ("lines 1 and 6": the written file's line 6 is a key of
    // [gw], the two keys added above pushed [other] to line 8).
    const text = "[other]\nx = 1\n[gw]\naws_access_key_id = OLD\n\n[other]\ny = 2\n[a]\n[a]\n";
    const told: string[] = [];
    const out = upsertProfileCredentials(Buffer.from(text), "gw", c, (line) => told.push(line)).toString();
    expect(out).toBe(`[other]\nx = 1\n[gw]\n${NEW}\n[other]\ny = 2\n[a]\n[a]\n`);
    expect(told).toEqual([
      "the credentials file has two [other] sections, lines 1 and 8: botocore (the AWS CLI) reads no profile of it, [gw] included; delete one of them (keep the other's settings)",
    ]);
    // A [gw] appended to such a file is told alike; the name is one printable line; [DEFAULT] twice botocore reads (merged).
    const appended: string[] = [];
    upsertProfileCredentials(Buffer.from("[x\u202ey]\r\n[x\u202ey]\r\n"), "gw", c, (line) => appended.push(line));
    expect(appended).toEqual([expect.stringMatching(/^the credentials file has two \[x.+y\] sections, lines 1 and 2: /)]);
    expect(appended[0]).not.toContain("\u202e");
    // Three: the first two are named (botocore stops at the second).
    const thrice: string[] = [];
    upsertProfileCredentials(Buffer.from("[a]\n[a]\n[a]\n"), "gw", c, (line) => thrice.push(line));
    expect(thrice).toEqual([expect.stringMatching(/^the credentials file has two \[a\] sections, lines 1 and 2: /)]);
    const quiet: string[] = [];
    const fine = "[DEFAULT]\nregion = a\n[gw]\n[DEFAULT]\nk = v\n[gw2]\nk = v\n  [gw2]\n";
    upsertProfileCredentials(Buffer.from(fine), "gw", c, (line) => quiet.push(line));
    expect(quiet).toEqual([]);
    const sections = execFileSync("python3", ["-c", `
import configparser, json, sys
out = []
for text in json.load(sys.stdin):
    try:
        configparser.RawConfigParser().read_string(text)  # what botocore.configloader reads a file with
        out.append("read")
    except configparser.DuplicateSectionError:
        out.append("refused")
json.dump(out, sys.stdout)
`], { input: JSON.stringify([out, fine]), encoding: "utf8" });
    expect(JSON.parse(sections)).toEqual(["refused", "read"]);
  });

  it("warns of a name set twice in one section (botocore: DuplicateOptionError, no profile read); [gw]'s credential keys are written once", () => {
    const cases = [
      "[other]\nRegion = a\n  more\nregion\t: b\n[gw]\n", // configparser lower-cases and strips option names
      "[DEFAULT]\nk = 1\n[gw]\n[DEFAULT]\nK=2\n", // across two [DEFAULT] sections too
      "[gw]\nregion = a\naws_session_token = OLD\nregion = b\n",
      "[r\u00e9gion]\nR\u00c9GION = a\nr\u00e9gion = b\n", // told as UTF-8, as read
      "[other]\naws_access_key_id = a\nAWS_ACCESS_KEY_ID = b\n[gw]\n", // a credential key of another profile
    ];
    const told = cases.map((text) => {
      const lines: string[] = [];
      const out = upsertProfileCredentials(Buffer.from(text), "gw", c, (line) => lines.push(line)).toString();
      return [out, lines] as const;
    });
    const tail = ": botocore (the AWS CLI) reads no profile of it, [gw] included; delete one of them";
    expect(told.map(([, lines]) => lines)).toEqual([
      [`the credentials file has region twice in [other], lines 2 and 4${tail}`],
      [`the credentials file has k twice in [DEFAULT], lines 2 and 8${tail}`], // as written: [gw]'s three keys above
      [`the credentials file has region twice in [gw], lines 2 and 4${tail}`],
      [`the credentials file has r\u00e9gion twice in [r\u00e9gion], lines 2 and 3${tail}`],
      [`the credentials file has aws_access_key_id twice in [other], lines 2 and 3${tail}`],
    ]);
    // Not told: [gw]'s own duplicate credential line (dropped), a name in two sections, an indented continuation.
    const fine = "[gw]\naws_session_token = a\nAWS_SESSION_TOKEN = b\nk = 1\n  k = 2\n[other]\nk = 3\n";
    const quiet: string[] = [];
    const written = upsertProfileCredentials(Buffer.from(fine), "gw", c, (line) => quiet.push(line)).toString();
    expect(quiet).toEqual([]);
    const read = execFileSync("python3", ["-c", `
import configparser, json, sys
out = []
for text in json.load(sys.stdin):
    try:
        configparser.RawConfigParser().read_string(text)
        out.append("read")
    except configparser.DuplicateOptionError:
        out.append("refused")
json.dump(out, sys.stdout)
`], { input: JSON.stringify([...told.map(([out]) => out), written]), encoding: "utf8" });
    expect(JSON.parse(read)).toEqual(["refused", "refused", "refused", "refused", "refused", "read"]);
  });

  it("judges a [DEFAULT] nested value's lines against every section once per name, not once per line (20,000 of each took 97 s)", async () => {
    const n = 20_000; // every section sets x itself, so no line under [DEFAULT]'s "x =" is parsed: nothing to tell
    const text = `[DEFAULT]\nx =\n${"  a\n".repeat(n)}${Array.from({ length: n }, (_, i) => `[s${i}]\nx = 1\n`).join("")}[gw]\nx = 1\n`;
    const told: string[] = [];
    // Each judgement is a look-up of "section]name" in a Map: before, one per line and section (n², 4·10⁸)
    const { work } = await workOf(Map.prototype, "has", () => upsertProfileCredentials(Buffer.from(text), "gw", c, (line) => told.push(line)), { budget: 4 * n });
    expect(work).toBeLessThanOrEqual(4 * n);
    expect(told).toEqual([]);
    // One section that sets no x of its own inherits the value: its first such line is told (the first of all).
    upsertProfileCredentials(Buffer.from(`${text}[t]\n`), "gw", c, (line) => told.push(line));
    expect(told).toEqual([expect.stringContaining(`an indented line under "x =" that is no "key = value" (line 3)`)]);
  });

  it("decodes the file as UTF-8 once, not line by line (a Buffer per line, twice: 16 MiB of blank lines took 23 s of CPU)", () => {
    const n = 5_000;
    const shapes = ["\n", "# c\n", "a = 1\n", "  more\n", "k = caf\u00e9\n", "x\n"];
    const text = `[gw]\naws_access_key_id = OLD\n${shapes.map((line, i) => `[s${i}]\n${line.repeat(n)}`).join("")}`;
    const from = vi.spyOn(Buffer, "from");
    try {
      const told: string[] = [];
      upsertProfileCredentials(Buffer.from(text), "gw", c, (line) => told.push(line));
      expect(told).toEqual([expect.stringContaining("a twice in [s2], lines ")]);
      // A few whole-file conversions and one per non-ASCII name or header: none per line (before: 12 per 6 lines and more)
      expect(from.mock.calls.length).toBeLessThan(20);
    } finally {
      from.mockRestore();
    }
  });

  it("names the first line that is not UTF-8, past lines that spell U+FFFD itself", () => {
    const told = (bytes: string) => {
      const lines: string[] = [];
      upsertProfileCredentials(Buffer.from(bytes, "latin1"), "gw", c, (line) => lines.push(line));
      return lines.map((line) => /\(line (\d+)\)/.exec(line)?.[1] ?? line);
    };
    const fffd = "\xef\xbf\xbd"; // U+FFFD, in UTF-8: a valid line
    expect(told(`[gw]\nk = ${fffd}\nl = ${fffd}${fffd}\n`)).toEqual([]);
    expect(told(`[gw]\nk = ${fffd}\nl = \xe0${fffd}\n`)).toEqual(["3"]); // E0 wants a continuation byte, not EF
    expect(told(`[gw]\nk = ${fffd}\nl = \xe2\x82\nm = 1\n`)).toEqual(["3"]); // cut short by the line break
    expect(told(`[gw]\nk = 1\nl = \xf0\x90\x80\nm = 1\n`)).toEqual(["3"]); // 3 bytes, as many as U+FFFD's
    expect(told(`[gw]\nk = 1\nl = 2\nm = \xff`)).toEqual(["4"]);
  });

  it("reads a name with a long run of spaces inside it in linear time (its trailing spaces were cut by a regex that backtracked over every run: 40,000 took 25 s)", () => {
    const text = `[other]\na${" ".repeat(40_000)}b = 1\na${" ".repeat(40_000)}b = 2\n[gw]\n`;
    const lines: string[] = [];
    // Its time: `npm run bench -- long-runs` (a backtracking regex does its work inside one call: nothing to count here)
    upsertProfileCredentials(Buffer.from(text), "gw", c, (line) => lines.push(line));
    expect(lines).toEqual([expect.stringMatching(/^the credentials file has a +…? twice in \[other\], lines 2 and 3: /)]);
  });

  it("warns of each line botocore refuses the whole file for (not UTF-8, before any header, no delimiter, no name, a nested line with no \"=\"), [gw]'s own too; the JS SDK reads the new keys", async () => {
    // Before (round 33): written without a word. botocore 1.43.11's raw_config_parse (configparser) raised ConfigParseError
    // for each, so the AWS CLI read no profile of the file; the AWS SDK for JavaScript skips such lines and reads [gw].
    // [gw]'s own line is warned of, not refused: refusing would leave both readers with the old keys, warning leaves
    // the JS SDK reading the new ones and says what botocore needs.
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const { loadSharedConfigFiles } = await import("@smithy/core/config");
    const tail = ": botocore (the AWS CLI) reads no profile of it, [gw] included; ";
    const cases: [string, string, string][] = [
      ["[other]\n=x\n[gw]\n", `a line with no name before its "=" or ":" (line 2)${tail}give it one or delete it`, "ParsingError"],
      ["[other]\n : x\n", `a line with no name before its "=" or ":" (line 2)${tail}give it one or delete it`, "ParsingError"],
      ["[other]\n[unclosed\n", `a line that is no "name = value", [section] or comment (line 2)${tail}delete it or make it a comment (# …)`, "ParsingError"],
      ["[other]\n[]\n", `a line that is no "name = value", [section] or comment (line 2)${tail}delete it or make it a comment (# …)`, "ParsingError"],
      ["[gw]\n  indented\naws_access_key_id = OLD\n", `a line that is no "name = value", [section] or comment (line 2)${tail}delete it or make it a comment (# …)`, "ParsingError"],
      ["[gw]\naws_session_token\n", `a line that is no "name = value", [section] or comment (line 2)${tail}delete it or make it a comment (# …)`, "ParsingError"],
      ["[gw]\n=x\n  more\n", `a line with no name before its "=" or ":" (line 2)${tail}give it one or delete it`, "ParsingError"],
      ["# c\nregion = x\n[gw]\n", `a line before any [section] header (line 2)${tail}delete it or move it under one`, "MissingSectionHeaderError"],
      ["  indented\n[gw]\n", `a line before any [section] header (line 1)${tail}delete it or move it under one`, "MissingSectionHeaderError"],
      ["\ufeff[gw]\naws_access_key_id = OLD\n", `a byte-order mark (line 1)${tail}save the file without it`, "MissingSectionHeaderError"],
      ["[other]\nk = caf\xe9\n", `bytes that are not UTF-8 (line 2)${tail}save the file as UTF-8`, "UnicodeDecodeError"],
      ["[other]\ns3 =\n  signature_version = s3v4\n  addressing_style\n", `an indented line under "s3 =" that is no "key = value" (line 4)${tail}make it one or delete it`, "ValueError"],
      ["[DEFAULT]\ns3 =\n  a : b\n[other]\ns3 = x\n", `an indented line under "s3 =" that is no "key = value" (line 3)${tail}make it one or delete it`, "ValueError"], // [gw] inherits it
      ["[other]\ns3 =\n  a = b\u2028c\n", `an indented line under "s3 =" that is no "key = value" (line 3)${tail}make it one or delete it`, "ValueError"], // Python's splitlines
      ["[other]\ns3 =\n  a = b\n  c : d\n", `an indented line under "s3 =" that is no "key = value" (line 4)${tail}make it one or delete it`, "ValueError"],
      ["[other]\ns3 =\n  a = b\vc\n", `an indented line under "s3 =" that is no "key = value" (line 3)${tail}make it one or delete it`, "ValueError"], // \v too
      ["[gw]\ns3 =\n  no equals sign\n", `an indented line under "s3 =" that is no "key = value" (line 3)${tail}make it one or delete it`, "ValueError"], // outside [DEFAULT], even where every section sets s3
    ];
    const dir = mkdtempSync(join(tmpdir(), "raa-unparsed-"));
    try {
      const files = cases.map(([text], i) => {
        const told: string[] = [];
        const bytes = Buffer.from(text, /\xe9/.test(text) ? "latin1" : "utf8");
        const file = join(dir, `case-${i}`);
        writeFileSync(file, upsertProfileCredentials(bytes, "gw", c, (line) => told.push(line)));
        expect(told, JSON.stringify(text)).toEqual([`the credentials file has ${cases[i]![1]}`]);
        return file;
      });
      // Not told: indented settings under a header, "name =" over "key = value" lines, and a [DEFAULT] "name =" over a
      // line with no "=" that every section sets itself (botocore parses only the values it gives a section). Before:
      // the fuzz (round 34, seed 34, case 1870) found that last warned of, though botocore read the file.
      const control = join(dir, "control");
      const fine = "[other]\n  k = 1\ns3 =\n  a = b\n\n  # c\n  c = d\u2028 \u2028e = f\n[DEFAULT]\ns3 =\n  no equals sign\n[gw]\ns3 = x\n[a]\nS3: y\n";
      writeFileSync(control, upsertProfileCredentials(Buffer.from(fine), "gw", c, (line) => expect.fail(line)));
      const verdicts = execFileSync("python3", ["-c", `
import json, sys
from botocore.configloader import raw_config_parse
out = []
for path in sys.argv[1:]:
    try:
        out.append(raw_config_parse(path)["gw"]["aws_access_key_id"])
    except Exception as e:
        out.append(type(getattr(e, "kwargs", {}).get("error") or e).__name__)
json.dump(out, sys.stdout)
`, ...files, control], { encoding: "utf8" });
      expect(JSON.parse(verdicts)).toEqual([...cases.map(([, , error]) => error), "ASIANEW"]);
      for (const file of files) {
        const sdk = await loadSharedConfigFiles({ filepath: file, configFilepath: join(dir, "none"), ignoreCache: true });
        expect(sdk.credentialsFile.gw, file).toMatchObject({ aws_access_key_id: "ASIANEW", aws_session_token: "newtoken==" });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a [gw] header that botocore reads as [gw] and the AWS SDK for JavaScript as no section (text after ']')", () => {
    // Rewritten in place, the JavaScript SDKs would not find the credentials; a second [gw] added, botocore refuses the
    // whole file. Only the owner can say which was meant: one line that says how to make it a comment.
    for (const header of ["[gw] device 42", "[gw];device 42", "  [gw]x"]) {
      expect(thrown(() => upsert(`[a]\n${header}\naws_access_key_id = OLD\n`, "gw", c)), header).toMatchObject({
        code: "INPUT_INVALID",
        message: `the credentials file's line ${JSON.stringify(header.trim())} is section [gw] to botocore (the AWS CLI) but no section to the AWS SDK for JavaScript`,
        hint: 'make what follows "]" a comment ("[gw] ; …"), then run again',
      });
    }
  });

  it("refuses a line of [gw] that botocore reads as no line (ParsingError) and the AWS SDK for JavaScript as a section: \"[]\" would hide the new keys from both", async () => {
    // Before: written in place below "[]" (and missing keys after it), with the warning of botocore's ParsingError; the
    // JS SDK (parseIni) takes "[]" for a section named "", files nothing under it and read no key of [gw] after it:
    // neither reader had the new credentials. Elsewhere in the file (below [other]) it is a warning only.
    const { parseIni } = await import("../../node_modules/@smithy/core/dist-es/submodules/config/shared-ini-file-loader/parseIni.js" as string);
    for (const text of ["[gw]\n[]\naws_access_key_id = OLD\n", "[gw]\nregion = x\n[] ; c\n"]) {
      expect(parseIni(text).gw?.aws_access_key_id, text).toBeUndefined(); // the JS SDK's reading, before
      expect(thrown(() => upsert(text, "gw", c)), JSON.stringify(text)).toMatchObject({
        code: "INPUT_INVALID",
        message: expect.stringMatching(/^the credentials file's line \d \("\[\]( ; c)?"\) in \[gw\] is no section to botocore \(the AWS CLI\) but one to the AWS SDK for JavaScript, which reads no key of \[gw\] below it$/),
        hint: "delete it, then run again",
      });
    }
    const told: string[] = [];
    const out = upsertProfileCredentials(Buffer.from("[gw]\n[other]\n[]\n"), "gw", c, (line) => told.push(line)).toString();
    expect(parseIni(out).gw).toMatchObject({ aws_access_key_id: "ASIANEW" });
    expect(told).toEqual([expect.stringContaining("(line 6): botocore (the AWS CLI) reads no profile of it")]);
    // Above [gw] (under [other]) too: the JS SDK files it under "" and reads [gw] after it.
    const above: string[] = [];
    const written = upsertProfileCredentials(Buffer.from("[other]\n[]\n[gw]\n"), "gw", c, (line) => above.push(line)).toString();
    expect(parseIni(written).gw).toMatchObject({ aws_access_key_id: "ASIANEW" });
    expect(above).toEqual([expect.stringContaining("(line 2): botocore (the AWS CLI) reads no profile of it")]);
  });

  it("refuses a setting of [gw] that the AWS SDK for JavaScript reads as a section: \"\\ufeff[x=]\" is option \"\\ufeff[x\" to botocore, [x=] to the JS SDK", async () => {
    // Before (round 35, found by a mutant of the "[]" check that survived): written below it without a word; the JS SDK
    // (parseIni, whose trim drops U+FEFF, which Python's strip keeps) filed gw's new keys under "x=" and read none of [gw].
    const { parseIni } = await import("../../node_modules/@smithy/core/dist-es/submodules/config/shared-ini-file-loader/parseIni.js" as string);
    const text = "[gw]\n\ufeff[x=]\naws_access_key_id = OLD\n";
    expect(parseIni(text).gw?.aws_access_key_id).toBeUndefined(); // the JS SDK's reading, before
    const verdict = execFileSync("python3", ["-c", "import sys, configparser; p = configparser.RawConfigParser(); p.read_string(sys.stdin.read()); print(sorted(p['gw']) == ['aws_access_key_id', '\\ufeff[x'])"], { input: text, encoding: "utf8" });
    expect(verdict.trim()).toBe("True"); // a setting to botocore (configparser)
    expect(thrown(() => upsert(text, "gw", c))).toMatchObject({
      code: "INPUT_INVALID",
      message: `the credentials file's line 2 ("[x=]") in [gw] is no section to botocore (the AWS CLI) but one to the AWS SDK for JavaScript, which reads no key of [gw] below it`,
      hint: "delete it, then run again",
    });
  });

  it("refuses an indented \"[other]\" or \"[]\" that continues a value of [gw]: more of the value to botocore, a section to the AWS SDK for JavaScript, which filed gw's new keys as other's", async () => {
    // Before: written below it without a word; the JS SDK (parseIni) read no key of [gw], and [other]'s keys were gw's.
    const { parseIni } = await import("../../node_modules/@smithy/core/dist-es/submodules/config/shared-ini-file-loader/parseIni.js" as string);
    const cases = [
      ["[gw]\nregion = x\n  [other]\naws_access_key_id = OLD\n", 3, "[other]"],
      ["[gw]\nregion = x\n\t[] ; c\n", 3, "[] ; c"],
      ["[gw]\nregion = x\nno delimiter\n [other]\nk = v\n", 4, "[other]"], // " [other]" still region's value past it
      ["[gw]\nregion = x\n\u00a0[other]\nk = v\n", 3, "[other]"], // keys added below k: [other]'s to the JS SDK
    ] as const;
    for (const [text, at, shown] of cases) {
      expect(parseIni(text).gw?.aws_access_key_id, text).toBeUndefined(); // the JS SDK's reading, before
      expect(thrown(() => upsert(text, "gw", c)), JSON.stringify(text)).toMatchObject({
        code: "INPUT_INVALID",
        message: `the credentials file's line ${at} (${JSON.stringify(shown)}) in [gw] is no section to botocore (the AWS CLI) but one to the AWS SDK for JavaScript, which reads no key of [gw] below it`,
        hint: "delete it, then run again",
      });
    }
    // Control: a continuation that is no "[…]" to the JS SDK (text after "]"), one it reads as [gw] itself, a value of
    // [other] below [gw]: written.
    expect(upsert("[gw]\nregion = x\n  [gw]\n", "gw", c)).toBe(`[gw]\nregion = x\n  [gw]\n${NEW}`);
    expect(upsert("[gw]\nregion = x\n  [a] b\n", "gw", c)).toBe(`[gw]\nregion = x\n  [a] b\n${NEW}`);
    expect(upsert("[gw]\n[other]\nk = v\n  [z]\n", "gw", c)).toBe(`[gw]\n${NEW}[other]\nk = v\n  [z]\n`);
  });

  it("refuses a [gw] header indented with \\x1c-\\x1f or U+0085, which botocore strips and String#trim keeps: no section to the AWS SDK for JavaScript", () => {
    // Before: written, and the JS SDK read gw's new credentials as those of [a] above (its line is not "[…]" trimmed).
    for (const indent of ["\x1c", "\x1f", " \u0085"]) {
      expect(thrown(() => upsert(`[a]\n${indent}[gw]\naws_access_key_id = OLD\n`, "gw", c)), JSON.stringify(indent)).toMatchObject({
        code: "INPUT_INVALID",
        message: expect.stringContaining("is section [gw] to botocore (the AWS CLI) but no section to the AWS SDK for JavaScript"),
        hint: "indent the header with spaces or tabs, or not at all, then run again",
      });
    }
    expect(upsert("[a]\n \t[gw]\naws_access_key_id = OLD\n", "gw", c)).toContain(" \t[gw]\naws_access_key_id = ASIANEW\n"); // control
  });

  it("drops duplicate credential lines within the section", () => {
    expect(upsert("[gw]\naws_session_token = a\naws_session_token = b\n", "gw", c)).toBe(
      "[gw]\naws_session_token = newtoken==\naws_access_key_id = ASIANEW\naws_secret_access_key = newsecret/+=\n",
    );
  });

  it("matches keys case-insensitively, as botocore does: AWS_Access_Key_Id is replaced, not duplicated", () => {
    expect(upsert("[gw]\nAWS_Access_Key_Id = OLD\nAws_Secret_Access_Key=OLD\naws_access_key_id = SHADOW\n", "gw", c)).toBe(
      "[gw]\naws_access_key_id = ASIANEW\naws_secret_access_key = newsecret/+=\naws_session_token = newtoken==\n",
    );
  });

  it("takes a name botocore lower-cases to a credential key for that key: the Kelvin sign's K (U+212A) lower-cases to k (python3 as the oracle)", () => {
    // Before: the key was matched by a case-insensitive pattern, which holds K (U+212A) no k; the old line was kept and a
    // second aws_access_key_id added: botocore (DuplicateOptionError) read no profile of the file, and nothing was told.
    const text = "[gw]\naws_access_\u212aey_id = OLD\naws_session_to\u212aen = OLD\n";
    const told: string[] = [];
    const out = upsertProfileCredentials(Buffer.from(text), "gw", c, (line) => told.push(line)).toString();
    expect(out).toBe(`[gw]\naws_access_key_id = ASIANEW\naws_session_token = newtoken==\naws_secret_access_key = newsecret/+=\n`);
    expect(told).toEqual([]);
    const read = execFileSync("python3", ["-c", `
import configparser, json, sys
cp = configparser.RawConfigParser()
cp.read_string(sys.stdin.read())
json.dump(dict(cp.items("gw")), sys.stdout)
`], { input: out, encoding: "utf8" });
    expect(JSON.parse(read)).toEqual({ aws_access_key_id: c.accessKeyId, aws_secret_access_key: c.secretAccessKey, aws_session_token: c.sessionToken });
  });

  it("reads every Unicode space as botocore (configparser: str.isspace) does, in indentation and around a key (python3 as the oracle)", () => {
    // Before: only space and tab counted: "\u00a0[gw]" (header gw to botocore) got a second [gw] section, a line
    // indented by U+2003 under region= (a continuation to botocore) was taken for a key, "aws_access_key_id\u00a0="
    // was not; each time botocore refused the whole file ("Unable to parse config file") or lost the credentials.
    const spaces = ["\v", "\f", "\x1c", "\x1f", "\x85", "\u00a0", "\u1680", "\u2003", "\u2028", "\u202f", "\u3000"];
    const cases = spaces.flatMap((x) => [
      // A header indented with \x1c-\x1f or U+0085 is refused (no section to the JS SDK, whose String#trim keeps them).
      ...(/[\x1c-\x1f\x85]/.test(x) ? [] : [`${x}[gw]\naws_access_key_id = OLD\n`]),
      `[gw]\nregion = eu-west-1\n${x}aws_access_key_id = OLD\n`,
      `[gw]\n${x}aws_access_key_id = OLD\n${x}${x}aws_session_token = OLD\n`,
      `[gw]\n\taws_access_key_id = OLD\n${x}\taws_session_token = OLD\n`,
      `[gw]\naws_access_key_id${x}= OLD\naws_session_token =${x}OLD\n[other]\nk = v\n`,
      // Where String#trim strips it too, refused: a section to the JS SDK ("continues a value of [gw]" below).
      ...(x.trim() === "" ? [] : [`[gw]\nregion = x\n${x}[other]\nk = v\n`]),
      `[gw]\n${x}region = x\n${x}[other]\nk = v\n`, // keys added indented as [other], not deeper or less
    ]);
    // Not whitespace to Python (a byte-order mark, a zero-width space): part of the line's text.
    cases.push("[gw]\nregion = x\n\ufeffk = v\n", "[gw]\n\u200b = v\n");
    const outputs = cases.map((text) => upsertProfileCredentials(Buffer.from(text, "utf8"), "gw", c).toString("base64"));
    const read = execFileSync("python3", ["-c", `
import base64, configparser, io, json, sys
out = []
for b in json.load(sys.stdin):
    cp = configparser.RawConfigParser()
    try:
        cp.read_file(io.TextIOWrapper(io.BytesIO(base64.b64decode(b)), encoding="utf-8"))
        out.append({k: cp.get("gw", k, fallback=None) for k in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")})
    except Exception as e:
        out.append(type(e).__name__)
json.dump(out, sys.stdout)
`], { input: JSON.stringify(outputs), encoding: "utf8" });
    const expected = { aws_access_key_id: c.accessKeyId, aws_secret_access_key: c.secretAccessKey, aws_session_token: c.sessionToken };
    expect((JSON.parse(read) as unknown[]).map((got, i) => [JSON.stringify(cases[i]), got])).toEqual(cases.map((text) => [JSON.stringify(text), expected]));
  });

  it("writes \\x1c-\\x1f and U+0085 in a credential line's indentation as spaces: botocore strips them, the AWS SDK for JavaScript keeps them in the key's name", () => {
    // Before: "\x85aws_session_token = OLD" became "\x85aws_session_token = newtoken==": botocore read the new token, the
    // JS SDK (String#trim, which keeps these) a key named "\x85aws_session_token" and no token at all.
    const cases: [string, string][] = [];
    for (const x of ["\x1c", "\x1f", "\x85"]) {
      cases.push([`[gw]\n${x}aws_session_token = OLD\n${x}${x}continued\n[other]\nk = v\n`, `[gw]\n aws_session_token = newtoken==\n${NEW.split("\n").slice(0, 2).join("\n")}\n[other]\nk = v\n`]);
      cases.push([`[gw]\n${x}region = x\n${x}[other]\nk = v\n`, `[gw]\n${x}region = x\n${NEW.replace(/^/gm, " ").slice(0, -1)}${x}[other]\nk = v\n`]);
    }
    for (const [before, after] of cases) expect(upsert(before, "gw", c), JSON.stringify(before)).toBe(after);
    expect(upsert(cases[4]![0], "gw", c).split("\n")[1]!.trim()).toBe("aws_session_token = newtoken=="); // as the JS SDK reads it
    const read = execFileSync("python3", ["-c", `
import configparser, json, sys
out = []
for text in json.load(sys.stdin):
    cp = configparser.RawConfigParser()
    cp.read_string(text)
    out.append({s: dict(cp.items(s)) for s in cp.sections()})
json.dump(out, sys.stdout)
`], { input: JSON.stringify(cases.map(([before]) => upsert(before, "gw", c))), encoding: "utf8" });
    const gw = { aws_access_key_id: c.accessKeyId, aws_secret_access_key: c.secretAccessKey, aws_session_token: c.sessionToken };
    expect(JSON.parse(read)).toEqual([0, 1, 2].flatMap(() => [{ gw, other: { k: "v" } }, { gw: { region: "x", ...gw }, other: { k: "v" } }]));
  });

  it("places added keys after the last setting, above lines that are blank or comments to configparser in any Unicode space", () => {
    // Before: a line of U+00A0 (or "\u2003# note") counted as a setting, read as bytes (C2 A0), so the keys went below
    // it; configparser (python3: str.strip) reads it as a blank line, as "   " is.
    for (const x of [" ", "\t", "\x85", "\u00a0", "\u2003", "\u3000"]) {
      const [blank, comment] = [x, `${x}# note`];
      expect(upsert(`[gw]\nregion = x\n${blank}\n${comment}\n[other]\nk = v\n`, "gw", c), JSON.stringify(x))
        .toBe(`[gw]\nregion = x\n${NEW}${blank}\n${comment}\n[other]\nk = v\n`);
    }
    const read = execFileSync("python3", ["-c", "import configparser,sys; cp = configparser.RawConfigParser(); cp.read_string(sys.stdin.read()); print(cp.items('gw'))"],
      { input: "[gw]\nregion = x\n\u00a0\n\u00a0# note\n", encoding: "utf8" });
    expect(read.trim()).toBe("[('region', 'x')]"); // the oracle: a blank line and a comment, not settings
  });

  it("reads a header line's trailing spaces as the AWS SDK for JavaScript does (UTF-8, String#trim): \"[gw]\\u00a0\" is [gw] to both", () => {
    // Before: the check ran on the line's bytes, so the second byte of U+00A0 (C2 A0) stayed and the update was refused
    // as "no section to the AWS SDK for JavaScript".
    for (const x of ["\v", "\f", "\u00a0", "\u1680", "\u2003", "\u2028", "\u202f", "\u3000"]) {
      expect(upsert(`${x}[gw]${x}\naws_access_key_id = OLD\n`, "gw", c), JSON.stringify(x)).toBe(`${x}[gw]${x}\n${NEW}`);
    }
    // Spaces to Python only (botocore reads [gw]), not to String#trim (the SDK reads no section): still refused.
    for (const x of ["\x1c", "\x1f", "\x85"]) {
      expect(thrown(() => upsert(`[gw]${x}\naws_access_key_id = OLD\n`, "gw", c)), JSON.stringify(x)).toMatchObject({ code: "INPUT_INVALID" });
    }
  });

  it("keeps bytes that are not UTF-8 and handles a UTF-8 profile name", () => {
    const before = Buffer.from("[caf\xe9]\nk = \xff\n", "latin1");
    const after = upsertProfileCredentials(before, "gw-é", c);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    expect(after.subarray(before.length).toString("utf8")).toBe(`\n[gw-é]\n${NEW}`);
    expect(upsertProfileCredentials(after, "gw-é", c).equals(after)).toBe(true);
  });

  it("refuses values with line breaks and odd profile names", () => {
    expect(thrown(() => upsert("", "gw", { ...c, sessionToken: "a\n[default]" }))).toMatchObject({ code: "FILE_WRITE_FAILED", message: expect.stringMatching(/line break/) });
    expect(thrown(() => upsert("", "gw", { ...c, sessionToken: "" }))).toMatchObject({ code: "FILE_WRITE_FAILED", message: expect.stringMatching(/empty value/) });
    // __proto__: the AWS SDK for JavaScript throws on the section and reads no profile of the file (every other one lost).
    // "a ;b": [a ;b] was written, then the next write refused it as text after "]" (the JS SDK cuts " ;b]" as a comment).
    for (const profile of [" gw", "gw\t", "DEFAULT", "__proto__", "profile __proto__", "a ;b", "a #b", "a\u00a0;b"]) {
      expect(thrown(() => upsert("", profile, c)), profile).toMatchObject({ code: "FILE_WRITE_FAILED", message: `invalid profile name ${JSON.stringify(profile)} for the credentials file` });
    }
    expect(thrown(() => upsert("", "g]w", c))).toMatchObject({ code: "FILE_WRITE_FAILED", message: expect.stringMatching(/invalid profile name/) });
  });

  it("property: other sections survive unchanged and the target ends up holding the new values once", () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
    const line = fc.oneof(
      fc.constant(""),
      fc.stringMatching(/^[#;][ -~]{0,20}$/),
      fc.tuple(fc.stringMatching(/^[a-z_]{1,12}$/), fc.stringMatching(/^[ -~]{0,20}$/)).map(([k, v]) => `${k} = ${v}`),
      fc.constantFrom("aws_access_key_id = OLD", "aws_secret_access_key=OLD", "aws_session_token : OLD"),
    );
    const section = fc.tuple(name, fc.array(line, { maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(section, { maxLength: 5 }), name, fc.boolean(), (sections, target, finalNewline) => {
        const text = sections.map(([n, ls]) => [`[${n}]`, ...ls].join("\n")).join("\n") + (finalNewline && sections.length ? "\n" : "");
        if (sections.filter(([n]) => n === target).length > 1) {
          expect(thrown(() => upsert(text, target, c))).toMatchObject({ code: "INPUT_INVALID" });
          return;
        }
        const after = upsert(text, target, c);
        const parse = (t: string) => {
          const out: { name: string; body: string[] }[] = [];
          for (const l of t.split("\n")) {
            const m = /^\[(.*)\]$/.exec(l);
            if (m) out.push({ name: m[1]!, body: [] });
            else out.at(-1)?.body.push(l);
          }
          return out;
        };
        const b = parse(text);
        const a = parse(after);
        const firstTarget = b.findIndex((s) => s.name === target);
        b.forEach((s, i) => {
          if (i !== firstTarget) expect(a[i]!.body.join("\n").replace(/\n+$/, "")).toBe(s.body.join("\n").replace(/\n+$/, ""));
        });
        const t = a[firstTarget >= 0 ? firstTarget : a.length - 1]!;
        expect(t.name).toBe(target);
        expect(t.body.filter((l) => l.startsWith("aws_access_key_id ") || l.startsWith("aws_access_key_id=") || l.startsWith("aws_access_key_id:"))).toEqual([
          "aws_access_key_id = ASIANEW",
        ]);
        expect(t.body).toContain("aws_session_token = newtoken==");
        expect(upsert(after, target, c)).toBe(after); // idempotent
      }),
      { numRuns: 300 },
    );
  });
});

// docs/long-running.md: update keeps a --profile with a space inside (botocore reads it, as the Go helper wrote it), and
// says which readers see it. If either reader changes, this fails and the doc with it.
describe("a profile name with a space inside, as update writes it", () => {
  it("is read under that name by botocore (configparser, as raw_config_parse); the AWS SDK for JavaScript skips [foo bar] and files [profile x] as profile.x", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const { loadSharedConfigFiles } = await import("@smithy/core/config");
    let text = upsert("", "gw", c);
    for (const name of ["foo bar", "profile x"]) text = upsert(text, name, c);
    expect(text).toContain(`[foo bar]\n${NEW}`);
    const dir = mkdtempSync(join(tmpdir(), "raa-space-profile-"));
    try {
      const file = join(dir, "credentials");
      writeFileSync(file, text);
      const botocore = execFileSync("python3", ["-c", "import configparser,json,sys; cp = configparser.RawConfigParser(); cp.read(sys.argv[1]); print(json.dumps(sorted(cp.sections())))", file], { encoding: "utf8" });
      expect(JSON.parse(botocore)).toEqual(["foo bar", "gw", "profile x"]);
      const sdk = await loadSharedConfigFiles({ filepath: file, configFilepath: join(dir, "none") });
      expect(Object.keys(sdk.credentialsFile).sort()).toEqual(["gw", "profile.x"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
