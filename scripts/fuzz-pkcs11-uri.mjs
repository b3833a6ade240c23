#!/usr/bin/env node
// Differential fuzz of the agent's pkcs11: URI parser (src/pkcs11/uri.ts) against p11-kit's, and round trips of the
// URIs the agent prints for hostile tokens: `node scripts/fuzz-pkcs11-uri.mjs`. Not part of `npm test`; needs gcc and
// libp11-kit-dev (the oracle, scripts/p11kit-uri-oracle.c, is built in a temporary directory).
//
// 1. Structured URIs: a clean base (1-5 attributes of every RFC 7512 name, values of printable ASCII and UTF-8
//    percent-encoded byte by byte at random, raw where RFC 7512 lets them be, hex in either case), then 0-2 features:
//    raw reserved characters ;?&=/%, bad escapes (%4, %zz, %), duplicates, empty values, upper-case names, unknown
//    or misplaced attributes, an id of raw bytes, slot-id numbers with signs, leading zeros or past 2^32/2^64,
//    library-version forms, type= values, a pin-value with a raw &, raw blanks, NUL, non-UTF-8, trailing blanks, a
//    value longer than its CK_*_INFO field, and more. Both parsers read each; the verdicts and every attribute's bytes
//    are compared (p11-kit's fixed-size fields without their blank padding). Results are grouped by outcome and
//    feature, so that each kind of disagreement shows once with an example.
// 2. Round trips: tokens whose label, manufacturer, model, serial, slot strings, CKA_LABEL and CKA_ID hold every byte
//    0x00-0xff, the reserved characters, non-UTF-8, 32-byte blank-padded text and a label spelling
//    ";pin-source=file:/etc/shadow". The token's fields go through what pkcs11js and the agent do to them
//    (napi_create_string_utf8 of the whole field, unpad, the CKA_LABEL UTF-8 check), the agent prints the URI
//    (tokenUri/objectUri + formatPkcs11Uri) and then p11-kit, the agent and the Go helper's go-pkcs11uri rules
//    (Parse of 2023-08-03: SplitN on the first ?, path split on ;, each SplitN on the first =, url.PathUnescape;
//    miekg/pkcs11 right-trims blanks from token strings) parse it: each must give back exactly the token's bytes,
//    and no attribute may appear that the printer did not write.
//   URI_FUZZ_CASES (default 20000), URI_FUZZ_SEED (default 30). Disagreements go to fuzz-out/pkcs11-uri/.
import { build } from "esbuild";
import { isUtf8 } from "node:buffer";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const CASES = Number(process.env.URI_FUZZ_CASES ?? 20000);
let seed = Number(process.env.URI_FUZZ_SEED ?? 30) >>> 0 || 1;
const random = () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) / 2 ** 32);
const pick = (list) => list[Math.floor(random() * list.length)];
const int = (n) => Math.floor(random() * n);

const work = mkdtempSync(join(tmpdir(), "raa-uri-fuzz-"));
const out = resolve("fuzz-out", "pkcs11-uri");
mkdirSync(out, { recursive: true });

// --- the parsers -------------------------------------------------------------------------------------------------------
const oracle = join(work, "p11kit-uri-oracle");
const flags = execFileSync("pkg-config", ["--cflags", "--libs", "p11-kit-1"], { encoding: "utf8" }).trim().split(/\s+/);
execFileSync("gcc", ["-O1", "-o", oracle, resolve("scripts/p11kit-uri-oracle.c"), ...flags]);
const p11kitVersion = execFileSync("pkg-config", ["--modversion", "p11-kit-1"], { encoding: "utf8" }).trim();

/** p11-kit's verdicts on many URIs (Buffers), in one run of the oracle. */
function p11kit(uris) {
  const input = uris.map((u) => u.toString("hex")).join("\n") + "\n";
  const output = execFileSync(oracle, ["-x"], { input, maxBuffer: 1 << 30, encoding: "utf8" });
  return output.trimEnd().split("\n").map((line) => JSON.parse(line));
}

const agentBundle = join(work, "agent.mjs");
const src = (path) => JSON.stringify(resolve(path));
writeFileSync(join(work, "entry.ts"), [
  `export { parsePkcs11Uri, formatPkcs11Uri, withAttributes } from ${src("src/pkcs11/uri.ts")};`,
  `export { tokenUri } from ${src("src/pkcs11/slots.ts")};`,
  `export { unpad } from ${src("src/pkcs11/module-loader.ts")};`,
].join("\n"));
await build({
  entryPoints: [join(work, "entry.ts")], outfile: agentBundle, bundle: true, format: "esm", platform: "node", target: "node20",
  external: ["pkcs11js"], define: { __AGENT_VERSION__: '"0.0.0-fuzz"' }, logLevel: "warning",
  banner: { js: 'import{createRequire as __raaCreateRequire}from"node:module";const require=__raaCreateRequire(import.meta.url);' },
});
const agent = await import(agentBundle);

// --- one model for both parsers: attribute name -> hex of its bytes ------------------------------------------------------
const CLASSES = { 0: "data", 1: "cert", 2: "public", 3: "private", 4: "secret-key" };
const hex = (text) => Buffer.from(text, "utf8").toString("hex");
/** A p11-kit fixed-size field without its blank padding; null when unset (p11-kit: first byte NUL). */
const unpadded = (field) => (field === "" ? null : field.replace(/(20)+$/, ""));

function fromP11kit(r) {
  if (r.rc !== 0) return { ok: false, why: `p11-kit ${r.rc} ${r.message}` };
  const f = {
    "library-manufacturer": unpadded(r.module.manufacturer),
    "library-description": unpadded(r.module.description),
    "library-version": r.module.version,
    token: unpadded(r.token.label),
    manufacturer: unpadded(r.token.manufacturer),
    model: unpadded(r.token.model),
    serial: unpadded(r.token.serial),
    "slot-description": unpadded(r.slot.description),
    "slot-manufacturer": unpadded(r.slot.manufacturer),
    "slot-id": r.slot.id,
    "pin-value": r.pinValue,
    "pin-source": r.pinSource,
    "module-name": r.moduleName,
    "module-path": r.modulePath,
  };
  for (const a of r.attributes) {
    if (a.type === 0) f.type = CLASSES[a.value] ?? `class ${a.value}`;
    else if (a.type === 3) f.object = a.value;
    else if (a.type === 0x102) f.id = a.value;
    else f[`CKA ${a.type}`] = a.value;
  }
  const vendor = Object.entries(r.vendor).filter(([, v]) => v !== null);
  for (const [name, value] of vendor) f[`vendor ${Buffer.from(name, "hex").toString("latin1")}`] = value;
  return { ok: true, unrecognized: r.unrecognized, fields: clean(f) };
}

function fromAgent(text) {
  let u;
  try {
    u = agent.parsePkcs11Uri(text);
  } catch (error) {
    const names = new RegExp(`\\b(${[...PATH_NAMES, ...QUERY_NAMES].join("|")})\\b(?! and)`, "g");
    return { ok: false, why: `agent: ${error.message.replace(/^invalid pkcs11: URI: /, "").replace(/"[^"]*"/g, '"…"').replace(/unknown attribute \S+/, "unknown attribute").replace(names, "<attr>")}` };
  }
  const f = {
    "library-manufacturer": u.libraryManufacturer, "library-description": u.libraryDescription,
    token: u.token, manufacturer: u.manufacturer, model: u.model, serial: u.serial,
    "slot-description": u.slotDescription, "slot-manufacturer": u.slotManufacturer, object: u.object,
    "module-name": u.moduleName, "module-path": u.modulePath, "pin-source": u.pin?.kind === "source" ? u.pin.source : undefined,
  };
  for (const key of Object.keys(f)) f[key] = f[key] === undefined ? undefined : hex(f[key]);
  f["library-version"] = u.libraryVersion && `${u.libraryVersion.major}.${u.libraryVersion.minor}`;
  f["slot-id"] = u.slotId?.toString();
  f.id = u.id?.toString("hex");
  f.type = u.type;
  f["pin-value"] = u.pin?.kind === "value" ? u.pin.value.use((b) => b.toString("hex")) : undefined;
  return { ok: true, fields: clean(f) };
}

const clean = (f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined && v !== null).sort());
const differing = (a, b) => [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();

// --- 1. structured URIs ----------------------------------------------------------------------------------------------------
const PATH_TEXT = { token: 32, manufacturer: 32, model: 16, serial: 16, "library-manufacturer": 32, "library-description": 32, "slot-description": 64, "slot-manufacturer": 32, object: 48 };
const PATH_NAMES = [...Object.keys(PATH_TEXT), "library-version", "slot-id", "id", "type"];
const QUERY_NAMES = ["pin-value", "pin-source", "module-name", "module-path"];
const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const PATH_RAW = new Set(`${UNRESERVED}:[]@!$'()*+,=`);
const QUERY_RAW = new Set(`${UNRESERVED}:[]@!$'()*+,/?|`);

/** Percent-encodes bytes, leaving at random the characters RFC 7512 lets stand (hex in either case). */
function encode(bytes, raw) {
  let s = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (b < 0x80 && raw.has(c) && random() < 0.6) s += c;
    else s += `%${b.toString(16).padStart(2, "0")[random() < 0.5 ? "toUpperCase" : "toLowerCase"]()}`;
  }
  return s;
}

function cleanText(maxBytes) {
  const pieces = ["A", "z", "0", "-", ".", "_", "~", " ", "#", "(", ")", "+", ",", "'", "!", "@", ":", "é", "→", "😀", "Ü", "key", "Token"];
  let s = pick(pieces.slice(0, 3)); // no leading blank
  for (let n = int(10); n > 0; n--) {
    const next = s + pick(pieces);
    if (Buffer.byteLength(next) > maxBytes - 1) break;
    s = next;
  }
  return Buffer.from(s + pick(["x", "1", "é"]).slice(0, Buffer.byteLength(s) + 2 > maxBytes ? 0 : 1), "utf8"); // no trailing blank
}

function cleanValue(name) {
  if (name in PATH_TEXT) return { raw: encode(cleanText(PATH_TEXT[name]), PATH_RAW) };
  if (name === "id") return { raw: encode(Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))), new Set()) };
  if (name === "slot-id") return { raw: String(int(100)) };
  if (name === "library-version") return { raw: `${int(20)}.${int(100)}` };
  if (name === "type") return { raw: pick(["cert", "private", "public"]) };
  if (name === "pin-value") return { raw: encode(cleanText(20), QUERY_RAW) };
  if (name === "pin-source") return { raw: pick(["file:/run/pin", "/run/pin%20file", "file:%2Fetc%2Fpin"]) };
  if (name === "module-name") return { raw: pick(["softhsm2", "p11-kit-trust", "my%20module"]) };
  return { raw: pick(["/usr/lib/softhsm/libsofthsm2.so", "/opt/x%20y/lib.so"]) };
}

/** Sets an attribute (replacing one of that name, so that a feature makes no duplicate of its own). */
function put(list, name, value) {
  const i = list.findIndex(([n]) => n === name);
  if (i < 0) list.push([name, value]);
  else list[i] = [name, value];
}

const FEATURES = {
  "raw ;": (u) => rawInValue(u, ";"),
  "raw ?": (u) => rawInValue(u, "?"),
  "raw &": (u) => rawInValue(u, "&"),
  "raw =": (u) => rawInValue(u, "="),
  "raw /": (u) => rawInValue(u, "/"),
  "raw %": (u) => rawInValue(u, "%"),
  "bad escape %4": (u) => rawInValue(u, "%4"),
  "bad escape %zz": (u) => rawInValue(u, "%zz"),
  "bad escape at end %": (u) => appendToValue(u, "%"),
  "raw space": (u) => rawInValue(u, " "),
  "raw tab": (u) => rawInValue(u, "\t"),
  "raw newline": (u) => rawInValue(u, "\n"),
  "raw non-ASCII UTF-8": (u) => rawInValue(u, "é"),
  "raw non-ASCII in id": (u) => put(u.path, "id", "é"),
  "id of raw bytes": (u) => put(u.path, "id", pick(["abc", "a:b", "A+B", "x,y", "!$'()*"])),
  "%00 in a text value": (u) => appendToValue(u, "%00", (n) => n in PATH_TEXT || QUERY_NAMES.includes(n)),
  "%00 first in a text value": (u) => put(u.path, pick(Object.keys(PATH_TEXT)), "%00abc"),
  "non-UTF-8 text": (u) => appendToValue(u, pick(["%ff", "%c3", "%80", "%ed%a0%80", "%c0%af"]), (n) => n in PATH_TEXT || QUERY_NAMES.includes(n)),
  "trailing %20 in a token/slot/library value": (u) => appendToValue(u, "%20", (n) => n in PATH_TEXT && n !== "object"),
  "leading %20": (u) => put(u.path, pick(Object.keys(PATH_TEXT)), "%20abc"),
  "value longer than its field": (u) => put(u.path, pick(Object.keys(PATH_TEXT).filter((n) => n !== "object")), "L".repeat(65)),
  "value exactly its field": (u) => {
    const name = pick(Object.keys(PATH_TEXT).filter((n) => n !== "object"));
    put(u.path, name, "F".repeat(PATH_TEXT[name]));
  },
  "empty value": (u) => {
    const name = pick([...PATH_NAMES, ...QUERY_NAMES].filter((n) => !["slot-id", "library-version"].includes(n)));
    put(QUERY_NAMES.includes(name) ? u.query : u.path, name, "");
  },
  "empty slot-id/library-version": (u) => put(u.path, pick(["slot-id", "library-version"]), ""),
  duplicate: (u) => {
    const list = u.path.length > 0 ? u.path : u.query;
    const [name] = list.length > 0 ? pick(list) : [];
    if (name !== undefined) list.push([name, cleanValue(name).raw]);
  },
  "upper-case name": (u) => {
    const list = u.path.length > 0 ? u.path : u.query;
    if (list.length > 0) list[0] = [list[0][0].toUpperCase(), list[0][1]];
  },
  "percent-encoded name": (u) => {
    if (u.path.length > 0) u.path[0] = [`%${u.path[0][0].charCodeAt(0).toString(16)}${u.path[0][0].slice(1)}`, u.path[0][1]];
  },
  "unknown path attribute": (u) => put(u.path, pick(["x-vendor", "foo", "label", "slot", "pin", "y"]), "1"),
  "unknown query attribute": (u) => put(u.query, pick(["x-vendor", "foo", "pinfile", "pin", "module"]), "1"),
  "query attribute in the path": (u) => put(u.path, pick(QUERY_NAMES), "abc"),
  "path attribute in the query": (u) => put(u.query, pick(PATH_NAMES), "1"),
  "slot-id form": (u) => put(u.path, "slot-id", pick(["-1", "+1", "007", "0x10", "1.0", " 1", "4294967295", "4294967296", "18446744073709551615", "18446744073709551616", "99999999999999999999999", "%31", "1%20"])),
  "library-version form": (u) => put(u.path, "library-version", pick(["2", "2.", ".6", "2.x", "255.255", "256.0", "1.256", "01.02", "2.6.1", "-1.0", "2.-1", "2.06", "%32.6", "+2.6"])),
  "type value": (u) => put(u.path, "type", pick(["data", "secret-key", "CERT", "secretkey", "x", "cert%20", "%63ert"])),
  "pin-value with a raw &": (u) => {
    u.query = u.query.filter(([n]) => n !== "pin-source");
    put(u.query, "pin-value", "12&34");
  },
  "pin-value and pin-source": (u) => {
    put(u.query, "pin-value", "1234");
    put(u.query, "pin-source", "/run/pin");
  },
  "relative module-path": (u) => put(u.query, "module-path", pick(["lib.so", "./lib.so", "%2Flib.so"])),
  "scheme in capitals": (u) => (u.scheme = pick(["PKCS11:", "Pkcs11:"])),
  "empty path element": (u) => (u.pathSuffix = pick([";", ";;"])),
  "empty query": (u) => (u.queryForced = ""),
  "element without =": (u) => put(u.path, "object", null),
  "element with empty name": (u) => put(u.path, "", "x"),
  "query element without =": (u) => {
    u.query = u.query.filter(([n]) => n !== "pin-value");
    put(u.query, "pin-source", null);
  },
  "second ? in the query": (u) => put(u.query, "module-name", "a?b"),
};
const FEATURE_NAMES = Object.keys(FEATURES);

function rawInValue(u, text) {
  const withValue = (l) => l.filter(([, v]) => v !== null);
  const list = withValue(u.path).length > 0 && (withValue(u.query).length === 0 || random() < 0.5) ? u.path : u.query;
  if (withValue(list).length === 0) return put(u.path, "object", `a${text}b`);
  let i = int(list.length);
  while (list[i][1] === null) i = (i + 1) % list.length;
  const [name, value] = list[i];
  const at = int(value.length + 1);
  list[i] = [name, value.slice(0, at) + text + value.slice(at)];
}

function appendToValue(u, text, which = () => true) {
  const candidates = [...u.path, ...u.query].filter(([n, v]) => v !== null && which(n));
  if (candidates.length === 0) return put(u.path, "token", `abc${text}`);
  const entry = pick(candidates);
  entry[1] += text;
}

function generate() {
  const u = { scheme: "pkcs11:", path: [], query: [], pathSuffix: "", queryForced: undefined, features: [] };
  const names = new Set();
  for (let n = int(6); n > 0; n--) names.add(pick([...PATH_NAMES, ...PATH_NAMES, ...QUERY_NAMES]));
  if (names.has("pin-value") && names.has("pin-source")) names.delete("pin-source");
  for (const name of names) (QUERY_NAMES.includes(name) ? u.query : u.path).push([name, cleanValue(name).raw]);
  for (let n = random() < 0.15 ? 0 : 1 + (random() < 0.25 ? 1 : 0); n > 0; n--) {
    const feature = pick(FEATURE_NAMES);
    if (u.features.includes(feature)) continue;
    u.features.push(feature);
    FEATURES[feature](u);
  }
  const pair = ([name, value]) => (value === null ? name : `${name}=${value}`);
  let text = u.scheme + u.path.map(pair).join(";") + u.pathSuffix;
  if (u.query.length > 0) text += `?${u.query.map(pair).join("&")}`;
  else if (u.queryForced !== undefined) text += `?${u.queryForced}`;
  return { text, features: u.features.sort() };
}

const cases = Array.from({ length: CASES }, generate);
const verdicts = p11kit(cases.map((c) => Buffer.from(c.text, "utf8")));
const kinds = new Map();
let agreements = 0;
const outcomes = new Map();
function tally(kind, example) {
  const entry = kinds.get(kind) ?? { count: 0, examples: [] };
  entry.count++;
  if (entry.examples.length < 3) entry.examples.push(example);
  kinds.set(kind, entry);
}
for (const [i, c] of cases.entries()) {
  const ours = fromAgent(c.text);
  const theirs = fromP11kit(verdicts[i]);
  const features = c.features.join(" + ") || "clean";
  let outcome, kind;
  if (!ours.ok && !theirs.ok) outcome = "both refuse";
  else if (ours.ok && theirs.ok && !theirs.unrecognized) {
    const diff = differing(ours.fields, theirs.fields).map((k) => (k in PATH_TEXT && k !== "object" ? "<text>" : k));
    if (diff.length === 0) outcome = "both accept, same bytes";
    else [outcome, kind] = ["both accept, values differ", `in ${[...new Set(diff)].join(", ")} [${features}]`];
  } else if (!ours.ok && theirs.unrecognized) [outcome, kind] = ["agent refuses; p11-kit parses but marks it unrecognized, so it matches nothing", `${ours.why} [${features}]`];
  else if (!ours.ok) [outcome, kind] = ["agent refuses, p11-kit accepts", `${ours.why} [${features}]`];
  else if (theirs.ok) [outcome, kind] = ["agent accepts; p11-kit marks it unrecognized (matches nothing)", `[${features}]`];
  else [outcome, kind] = ["agent accepts, p11-kit refuses", `${theirs.why} [${features}]`];
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  if (kind === undefined) agreements++;
  else tally(`${outcome}: ${kind}`, { uri: c.text, agent: ours, p11kit: theirs });
}

// --- 2. round trips of hostile token strings -------------------------------------------------------------------------------
/** A CK_*_INFO text field as the token fills it: the bytes, blank-padded to `size` (cut if longer). */
const field = (bytes, size) => Buffer.concat([bytes, Buffer.alloc(Math.max(0, size - bytes.length), 0x20)]).subarray(0, size);
/** What the agent holds of that field: pkcs11js decodes the whole field as UTF-8 (napi_create_string_utf8), then unpad. */
const held = (padded) => agent.unpad(padded.toString("utf8"));
const goTrim = (padded) => { // miekg/pkcs11: the field right-trimmed of blanks
  let end = padded.length;
  while (end > 0 && padded[end - 1] === 0x20) end--;
  return padded.subarray(0, end);
};

function goParse(text) {
  const bytes = Buffer.from(text, "utf8");
  if (!bytes.subarray(0, 7).equals(Buffer.from("pkcs11:"))) return { error: "missing pcks11: prefix" };
  const rest = bytes.subarray(7).toString("latin1"); // Go strings are bytes
  const q = rest.indexOf("?");
  const parts = q < 0 ? [rest] : [rest.slice(0, q), rest.slice(q + 1)];
  const path = {}, query = {};
  const split = (part, separator, into, where) => {
    for (const element of part.split(separator)) {
      const eq = element.indexOf("=");
      if (eq < 0) return `malformed ${where} attribute`;
      const name = element.slice(0, eq);
      if (name in into) return `duplicate ${where} attribute`;
      const value = element.slice(eq + 1);
      if (/%(?![0-9A-Fa-f]{2})/.test(value)) return "invalid URL escape";
      into[name] = Buffer.from(value.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), "latin1");
    }
    return undefined;
  };
  const error = (parts[0].length > 0 ? split(parts[0], ";", path, "path") : undefined) ?? (parts.length === 2 ? split(parts[1], "&", query, "query") : undefined);
  if (error) return { error };
  if (path.type && !/^(public|private|cert|secret-key}data)?$/.test(path.type.toString("latin1"))) return { error: "Invalid type" };
  return { path, query };
}

const HOSTILE = [
  ";", "?", "%", "=", "&", "/", "#", "+", " ", "\t", "\n", ";pin-source=file:/etc/shadow", "x?pin-value=1234", "a&module-path=/tmp/evil.so",
  "%41", "%zz", "é", "\u00a0", "\u3000", "\ufeff", "\u2028", "key\t", "key\u00a0", "x\u0085",
];
function hostileStrings() {
  const list = [];
  for (let b = 0; b < 256; b++) list.push({ what: `byte 0x${b.toString(16).padStart(2, "0")}`, bytes: Buffer.from([0x61, b, 0x62]) });
  for (let b = 0; b < 256; b++) list.push({ what: `trailing byte 0x${b.toString(16).padStart(2, "0")}`, bytes: Buffer.from([0x61, b]) });
  for (const s of HOSTILE) list.push({ what: JSON.stringify(s), bytes: Buffer.from(s, "utf8") });
  list.push({ what: "32 bytes, no padding", bytes: Buffer.from("0123456789abcdef0123456789ABCDEF") });
  list.push({ what: "31 bytes + 1 blank", bytes: Buffer.from("0123456789abcdef0123456789ABCDE ") });
  list.push({ what: "leading blanks", bytes: Buffer.from("   lead") });
  list.push({ what: "Latin-1 label", bytes: Buffer.from("Jos\xe9 token", "latin1") });
  list.push({ what: "truncated UTF-8 at the field's end", bytes: Buffer.concat([Buffer.from("x".repeat(31)), Buffer.from([0xc3])]) });
  return list;
}

const roundTrip = new Map();
let roundTrips = 0;
const trips = [];
for (const h of hostileStrings()) {
  for (const fieldName of ["token", "manufacturer", "model", "serial", "slot", "object", "id"]) {
    const token = { label: Buffer.from("tok"), manufacturer: Buffer.from("Maker"), model: Buffer.from("M1"), serial: Buffer.from("42") };
    let label = Buffer.from("key"), id = Buffer.from([1]);
    if (fieldName === "object") label = h.bytes;
    else if (fieldName === "id") id = h.bytes;
    else if (fieldName === "slot") continue; // tokenUri prints no slot attributes
    else token[fieldName === "token" ? "label" : fieldName] = h.bytes;
    const sizes = { label: 32, manufacturer: 32, model: 16, serial: 16 };
    const padded = Object.fromEntries(Object.entries(token).map(([k, v]) => [k, field(v, sizes[k])]));
    const slot = { token: Object.fromEntries(Object.entries(padded).map(([k, v]) => [k, held(v)])) };
    const objectLabel = isUtf8(label) ? label.toString("utf8") : ""; // objects.ts names()
    const uri = agent.withAttributes(agent.tokenUri(slot), { id: id.length > 0 ? id : undefined, object: objectLabel || undefined, type: "cert" });
    const printed = agent.formatPkcs11Uri(uri);
    trips.push({ h, fieldName, padded, label, id, slot, printed });
  }
}
const tripVerdicts = p11kit(trips.map((t) => Buffer.from(t.printed, "utf8")));
for (const [i, t] of trips.entries()) {
  roundTrips++;
  const problems = [];
  const r = tripVerdicts[i];
  const printedNames = new Set(["token", "manufacturer", "model", "serial", "id", "object", "type"]);
  // p11-kit: its match functions compare the padded fields byte for byte.
  if (r.rc !== 0) problems.push(`p11-kit refuses: ${r.message}`);
  else {
    if (r.unrecognized) problems.push("p11-kit: unrecognized");
    const want = { label: t.padded.label, manufacturer: t.padded.manufacturer, model: t.padded.model, serial: t.padded.serial };
    for (const [k, v] of Object.entries(want)) if (r.token[k] !== v.toString("hex")) problems.push(`p11-kit ${k} ≠ token's`);
    const attrs = Object.fromEntries(r.attributes.map((a) => [a.type, a.value]));
    if (t.id.length > 0 && attrs[0x102] !== t.id.toString("hex")) problems.push("p11-kit id ≠ CKA_ID");
    if (isUtf8(t.label) && t.label.length > 0 && attrs[3] !== t.label.toString("hex")) problems.push("p11-kit object ≠ CKA_LABEL");
    if (r.pinValue || r.pinSource || r.moduleName || r.modulePath || Object.values(r.vendor).some((v) => v !== null)) problems.push("p11-kit: a query attribute appeared");
  }
  // The agent: its own parse must give back what it compares against (and the token's bytes).
  try {
    const u = agent.parsePkcs11Uri(t.printed);
    const extra = Object.keys(u).filter((k) => !printedNames.has(k));
    if (extra.length > 0) problems.push(`agent: attributes appeared: ${extra.join(", ")}`);
    for (const [k, field] of [["token", "label"], ["manufacturer", "manufacturer"], ["model", "model"], ["serial", "serial"]]) {
      if (u[k] !== t.slot.token[field]) problems.push(`agent ${k} ≠ what it matches against`);
      else if (Buffer.from(u[k], "utf8").toString("hex") !== goTrim(t.padded[field]).toString("hex")) problems.push(`agent ${k} ≠ token's bytes`);
    }
    if (t.id.length > 0 && !u.id?.equals(t.id)) problems.push("agent id ≠ CKA_ID");
    if (isUtf8(t.label) && t.label.length > 0 && u.object !== t.label.toString("utf8")) problems.push("agent object ≠ CKA_LABEL");
  } catch (error) {
    problems.push(`agent refuses its own URI: ${error.message}`);
  }
  // The Go helper (anchor-go.md §4.2), where a user pastes the printed URI.
  const g = goParse(t.printed);
  if (g.error) problems.push(`Go helper refuses: ${g.error}`);
  else {
    if (Object.keys(g.query).length > 0) problems.push("Go: a query attribute appeared");
    for (const name of Object.keys(g.path)) if (!printedNames.has(name)) problems.push(`Go: attribute ${JSON.stringify(name)} appeared`);
    for (const [k, field] of [["token", "label"], ["manufacturer", "manufacturer"], ["model", "model"], ["serial", "serial"]]) {
      if (g.path[k] && !g.path[k].equals(goTrim(t.padded[field]))) problems.push(`Go ${k} ≠ token's`);
    }
    if (t.id.length > 0 && !g.path.id?.equals(t.id)) problems.push("Go id ≠ CKA_ID");
    if (isUtf8(t.label) && t.label.length > 0 && !g.path.object?.equals(t.label)) problems.push("Go object ≠ CKA_LABEL");
  }
  for (const p of problems) {
    const key = `${p} [${t.fieldName}]`;
    const entry = roundTrip.get(key) ?? { count: 0, examples: [] };
    entry.count++;
    entry.all = [...(entry.all ?? []), t.h.what];
    if (entry.examples.length < 4) entry.examples.push(`${t.h.what}: ${t.printed}`);
    roundTrip.set(key, entry);
  }
}

// --- report -----------------------------------------------------------------------------------------------------------------
const sorted = [...kinds.entries()].sort((a, b) => b[1].count - a[1].count);
writeFileSync(join(out, "differential.json"), JSON.stringify(sorted.map(([kind, e]) => ({ kind, ...e })), null, 1));
writeFileSync(join(out, "round-trips.json"), JSON.stringify([...roundTrip.entries()].map(([kind, e]) => ({ kind, ...e })), null, 1));
console.log(`p11-kit ${p11kitVersion}; seed ${process.env.URI_FUZZ_SEED ?? 30}`);
console.log(`1. ${CASES} URIs: ${agreements} agree (both refuse, or both read the same bytes), ${CASES - agreements} differ`);
for (const [outcome, n] of [...outcomes.entries()].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(5)}  ${outcome}`);
// By outcome and cause: the agent's refusal, or the one feature that made the difference (two features: counted apart).
const causes = new Map();
for (const [kind, e] of sorted) {
  const [, outcome, why, features] = /^(.*?): (.*?) ?\[([^\]]*)\]$/.exec(kind);
  const cause = `${outcome}: ${why.startsWith("agent:") ? why : `${why ? `${why}, ` : ""}${features.includes(" + ") ? "two features" : features}`}`;
  const entry = causes.get(cause) ?? { count: 0, example: e.examples[0].uri };
  entry.count += e.count;
  causes.set(cause, entry);
}
for (const [cause, e] of [...causes].sort((a, b) => b[1].count - a[1].count)) console.log(`  ${String(e.count).padStart(5)}  ${cause}\n         e.g. ${JSON.stringify(e.example)}`);
console.log(`2. ${roundTrips} round trips (${hostileStrings().length} hostile strings × token, manufacturer, model, serial, object, id): ${roundTrip.size === 0 ? "all give back the token's bytes" : `${roundTrip.size} kinds of problem`}`);
for (const [kind, e] of [...roundTrip.entries()].sort((a, b) => b[1].count - a[1].count)) console.log(`  ${String(e.count).padStart(5)}  ${kind}\n         e.g. ${e.examples.join("\n              ")}`);
console.log(`details: ${out}`);
if (!process.env.URI_FUZZ_KEEP) rmSync(work, { recursive: true, force: true });
