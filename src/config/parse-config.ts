import { homedir } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { boundedLine, InputError } from "../errors.js";
import { parseJson, parseJsonOrFail } from "../io/json.js";
import { nearestNames } from "../nearest-names.js";
import { fractionLost, isPlainObject, ownValue } from "../own-value.js";
import { isPkcs11Uri } from "../pkcs11/uri.js";
import { localPathOfFileUri, SOURCE_VALUED_SECRETS, type SecretSource } from "../secrets/secret-source.js";
import { isTpmHandleRef } from "../signers/options.js";
import { checkSettingsFields, inputFromFlags, profileOrigin, SETTINGS_FIELDS, type FlagRecord } from "../settings/credential-settings.js";

type FieldKind = (typeof SETTINGS_FIELDS)[keyof typeof SETTINGS_FIELDS][1];

/**
 * The fields a named profile may set: the settings (src/settings/), named exactly as their command-line flags,
 * so a profile reads like the flags it replaces and merging a profile with flags is a per-name affair.
 */
export const PROFILE_FIELD_KINDS: Readonly<Record<string, FieldKind>> = Object.fromEntries([
  ["description", "text"],
  ...Object.values(SETTINGS_FIELDS).filter(([flag]) => flag !== "use-dual-stack-endpoint"), // no such flag either
]);

/** A profile whose values have the types their fields require (paths absolute, secrets as sources). */
export type ProfileSettings = FlagRecord & { readonly description?: string };

/** A validated configuration file; `agent` says where the agent listens and which profiles it serves (default: all). */
export interface AgentConfig {
  /** Absolute path of the file it came from (for messages). */
  readonly path: string;
  readonly profiles: ReadonlyMap<string, ProfileSettings>;
  readonly agent: { readonly socket?: string; readonly profiles?: readonly string[] };
}

export const isConfigProfileName = (name: string): boolean => /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name);
export const PROFILE_NAME_RULE = "use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)";

const TOP_LEVEL_KEYS = ["$schema", "version", "profiles", "agent"] as const;
const AGENT_KEYS = ["socket", "profiles"] as const;

/**
 * Parses and validates the JSON text of a config file. Every error is a CONFIG_INVALID that names the
 * file, the profile and the field, and says what is expected. Relative paths are resolved against the
 * file's directory; `~/` means the home directory.
 */
export function parseConfig(text: string, path: string, home: string = homedir()): AgentConfig {
  const fail = (what: string, hint?: string): never => {
    throw new InputError("CONFIG_INVALID", `config ${path}: ${what}`, hint ? { hint } : {});
  };
  const json = text.startsWith("\uFEFF") ? text.slice(1) : text; // a byte-order mark, as Windows editors write
  // Scanned before JSON.parse, which builds arrays nested millions deep until V8 dies of OOM; what it says of valid JSON after.
  const scan = scanJson(json);
  if (scan === "too deep") return fail(`nested more than ${MAX_DEPTH} levels deep`, "a config file is an object of profiles, each an object of settings");
  const raw = parseJsonOrFail(json, (why) => fail(why, "the file must be one JSON object; comments are not allowed"));
  if (scan) fail(scan.what, scan.hint);
  if (!isPlainObject(raw)) return fail("the top level must be a JSON object with a \"profiles\" object");
  checkKeys(raw, TOP_LEVEL_KEYS, "top level", fail);
  if (raw["version"] !== undefined && raw["version"] !== 1) fail(`"version" must be 1 (got ${shown(raw["version"])})`);

  const baseDir = dirname(path);
  const resolvePath: ResolvePath = (p, bad) => {
    if (p !== "~" && !p.startsWith("~/")) return isAbsolute(p) ? p : resolve(baseDir, p);
    if (!isAbsolute(home)) bad(`starts with ~ but HOME ('${home}') is not an absolute path`, "set HOME");
    return resolve(home, p.slice(2));
  };
  const profilesRaw = raw["profiles"] ?? {};
  if (!isPlainObject(profilesRaw)) return fail('"profiles" must be an object mapping profile names to settings');
  const profiles = new Map<string, ProfileSettings>();
  for (const [name, body] of Object.entries(profilesRaw)) {
    if (!isConfigProfileName(name)) fail(`profile name ${shown(name)} is not allowed`, PROFILE_NAME_RULE);
    const profile = parseProfile(name, body, resolvePath, fail);
    const origin = profileOrigin(`config ${path}: profile "${name}"`);
    checkSettingsFields(inputFromFlags(profile, origin), origin);
    profiles.set(name, profile);
  }

  const agentRaw = raw["agent"] ?? {};
  if (!isPlainObject(agentRaw)) return fail('"agent" must be an object');
  checkKeys(agentRaw, AGENT_KEYS, '"agent"', fail);
  const { socket, profiles: list } = agentRaw;
  const agent: { socket?: string; profiles?: string[] } = {};
  if (socket !== undefined) {
    if (typeof socket !== "string" || socket === "") return fail('"agent": field "socket" must be a path');
    agent.socket = resolvePath(socket, (what, hint) => fail(`"agent": field "socket" ${what}`, hint));
  }
  if (list !== undefined) {
    if (!Array.isArray(list) || !list.every((p) => typeof p === "string")) {
      return fail('"agent": field "profiles" must be an array of profile names');
    }
    for (const [i, p] of list.entries()) {
      if (!profiles.has(p)) fail(`"agent": profile ${shown(p)} is listed but not defined under "profiles"`);
      // Twice, it would be served by two sources of one name: both opened, the first never closed.
      if (list.indexOf(p) < i) fail(`"agent": profile ${shown(p)} is listed twice`, "list each profile once");
    }
    agent.profiles = list;
  }
  return { path, profiles, agent };
}

type Fail = (what: string, hint?: string) => never;

/** A wrong value as an error quotes it: JSON (but 1e400 as Infinity, not null), cut after 57 characters. */
function shown(value: unknown): string {
  // A long string is cut before it is quoted: of a 16 MiB one, JSON.stringify and boundedLine each made a whole copy.
  const head = typeof value === "string" && value.length > 4096 ? value.slice(0, 4096) : value;
  return boundedLine(typeof head === "number" ? String(head) : JSON.stringify(head), 57);
}

function parseProfile(name: string, body: unknown, resolvePath: ResolvePath, fail: Fail): ProfileSettings {
  const where = `profile "${name}"`;
  if (!isPlainObject(body)) return fail(`${where} must be an object of settings`);
  const settings: Record<string, Value> = {};
  for (const [field, value] of Object.entries(body)) {
    const kind = ownValue<FieldKind>(PROFILE_FIELD_KINDS, field);
    if (!kind) {
      const [guess] = nearestNames(field, Object.keys(PROFILE_FIELD_KINDS));
      fail(`${where}: unknown field ${shown(field)}`, guess ? `did you mean "${guess}"?` : "see docs/long-running.md for the fields");
    }
    const parsed = parseField(field, value, kind!, resolvePath, (expected, hint, echo = true) =>
      fail(`${where}: field "${field}" ${expected}${echo ? ` (got ${shown(value)})` : ""}`, hint),
    );
    if (parsed !== undefined) settings[field] = parsed;
  }
  return settings as ProfileSettings;
}

type Bad = (expected: string, hint?: string, echo?: boolean) => never;
/** A config path made absolute: `~/` under HOME (`bad` when HOME is not absolute), else under the file's directory. */
type ResolvePath = (p: string, bad: (expected: string, hint?: string) => never) => string;

type Value = string | number | boolean | SecretSource;

function parseField(field: string, value: unknown, kind: FieldKind, resolvePath: ResolvePath, bad: Bad): Value | undefined {
  if (kind === "boolean") return typeof value === "boolean" ? value : bad("must be true or false");
  if (kind === "integer") return value as number; // judged by the settings' checks (below), in the words flags and SDK get
  // Never echo what might be a literal PIN back into a message: a PIN written as a JSON number, a pkcs11: URI's
  // pin-value in an array.
  if (typeof value !== "string" || value === "") return bad("must be a non-empty string", undefined, kind !== "secret" && kind !== "key-source");
  switch (kind) {
    case "text":
      return value;
    case "path":
      return resolvePath(value, bad);
    case "key-source":
      return isPkcs11Uri(value) || isTpmHandleRef(value) ? value : resolvePath(value, bad);
    case "library":
      return value.includes("/") ? resolvePath(value, bad) : value;
    case "secret":
      if (value === "prompt") {
        // As its flag's `prompt`: without a source of its own, the field left out (the back-end asks when it needs it).
        const prompt = ownValue(SOURCE_VALUED_SECRETS, field);
        return prompt === undefined ? undefined : { kind: "prompt", prompt };
      }
      if (/^env:[A-Za-z_][A-Za-z0-9_]*$/.test(value)) return { kind: "env", name: value.slice(4) };
      if (value.startsWith("file:") && value.length > 5) {
        const path = value.startsWith("file://") ? localPathOfFileUri(value) : value.slice(5);
        if (path === undefined) return bad("names no local file (another host, an encoded / or a bad %-escape)");
        return { kind: "file", path: resolvePath(path, bad) };
      }
      return bad(
        "must be file:/path, env:NAME or prompt",
        "literal PINs and passwords are refused in config files: put the secret in a file only you can read",
        false,
      );
  }
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string, fail: Fail): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      const [guess] = nearestNames(key, allowed);
      fail(`${where}: unknown key ${shown(key)}`, guess ? `did you mean "${guess}"?` : `allowed: ${allowed.join(", ")}`);
    }
  }
}

/** Far more than a config needs (top level → "profiles" → profile → value), far less than V8's JSON.parse survives. */
const MAX_DEPTH = 64;

/**
 * What JSON.parse would say nothing of in `text` (read when it is valid JSON): first, a number it rounds to a whole one
 * (899.99999999999999 read as 900, which a rule for whole numbers would take: refused as the command line refuses
 * it); else the first key that appears twice in one object (a profile pasted twice, a field repeated: JSON.parse
 * keeps the last), said with the keys leading to that object and both lines. "too deep": arrays or objects nested
 * more than MAX_DEPTH deep. One pass by character code, strings skipped by indexOf: a regexp over the text recursed
 * once per character of a string (a 16 MiB one overflowed its stack); no part of the text is copied but keys and the
 * numbers with a fraction or an exponent.
 */
function scanJson(text: string): { what: string; hint?: string } | "too deep" | undefined {
  const frames: { keys: Map<string, number> | undefined; name: string; key: boolean }[] = [];
  let [line, last] = [1, ""];
  let [lost, twice]: (string | undefined)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const frame = frames.at(-1);
    if (c === 0x0a) line++;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (frames.length === MAX_DEPTH) return "too deep";
      const object = c === 0x7b;
      frames.push({ keys: object ? new Map() : undefined, name: last, key: object });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) frames.pop();
    else if (c === 0x2c /* , */) {
      if (frame) frame.key = frame.keys !== undefined;
    } else if (c === 0x22 /* " */) {
      const start = i;
      do {
        i = text.indexOf('"', i + 1);
        if (i < 0) return undefined; // not JSON: JSON.parse says so
      } while (escapedAt(text, i));
      if (!frame?.keys || !frame.key || twice !== undefined) continue;
      const raw = text.slice(start + 1, i);
      const key = raw.includes("\\") ? String(parseJson(`"${raw}"`)) : raw;
      const first = frame.keys.get(key);
      if (first !== undefined) twice = `${frames.slice(1).map((f) => shown(f.name)).join(" → ") || "top level"}: key ${shown(key)} appears twice (line ${first} and line ${line})`;
      frame.keys.set(key, line);
      frame.key = false;
      last = key;
    } else if (c === 0x2d /* - */ || isDigit(c)) {
      const start = i;
      let whole = true; // digits and '-' only: no fraction to lose
      for (let n = text.charCodeAt(i + 1); isDigit(n) || n === 0x2d || n === 0x2b || n === 0x2e || (n | 0x20) === 0x65; n = text.charCodeAt(++i + 1)) {
        if (!isDigit(n) && n !== 0x2d) whole = false;
      }
      const number = whole ? "" : text.slice(start, i + 1);
      if (number && lost === undefined && fractionLost(number)) {
        lost = `line ${line}: ${boundedLine(number, 57)} is not a whole number (JSON reads it as ${Number(number)})`;
      }
    }
  }
  if (lost !== undefined) return { what: lost };
  return twice === undefined ? undefined : { what: twice, hint: "JSON keeps the last one without a word: remove or rename one" };
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** Whether the `"` at `i` is escaped: an odd number of backslashes before it. */
function escapedAt(text: string, i: number): boolean {
  let n = 0;
  while (text.charCodeAt(i - 1 - n) === 0x5c) n++;
  return n % 2 === 1;
}
