/** RFC 7512 `pkcs11:` URIs: parsed with every standard attribute checked, printed stably (sorted, `pin-value` only on request). */
import { isUtf8 } from "node:buffer";
import { boundedLine, InputError, UsageError } from "../errors.js";
import { Secret } from "../secrets/secret.js";
import { aboutToUseSecret } from "../secrets/secret-source.js";
import { ownValue } from "../own-value.js";

export type Pkcs11ObjectType = "public" | "private" | "cert" | "secret-key" | "data";

/** Where the URI says the PIN is: mutually exclusive by construction (RFC 7512 §2.3). */
export type Pkcs11UriPin = { readonly kind: "value"; readonly value: Secret } | { readonly kind: "source"; readonly source: string };

/**
 * A CK_TOKEN_INFO field named in a URI: its text, or its bytes when they are not UTF-8. The field holds bytes (a
 * Latin-1 label `caf\xe9`), and RFC 7512 lets a value carry any percent-encoded byte (`token=caf%E9`).
 */
export type TokenField = string | Buffer;

/** A parsed URI. Absent attributes match anything; `id` holds raw bytes, the token's fields {@link TokenField}s, the others text. */
export interface Pkcs11Uri {
  readonly token?: TokenField;
  readonly manufacturer?: TokenField;
  readonly serial?: TokenField;
  readonly model?: TokenField;
  readonly libraryManufacturer?: string;
  readonly libraryDescription?: string;
  readonly libraryVersion?: { readonly major: number; readonly minor: number };
  readonly slotId?: bigint;
  readonly slotDescription?: string;
  readonly slotManufacturer?: string;
  readonly id?: Buffer;
  readonly object?: string;
  readonly type?: Pkcs11ObjectType;
  readonly pin?: Pkcs11UriPin;
  readonly moduleName?: string;
  readonly modulePath?: string;
}

type TextField = "token" | "manufacturer" | "serial" | "model" | "libraryManufacturer" | "libraryDescription" | "slotDescription" | "slotManufacturer" | "object";

const PATH_TEXT_ATTRIBUTES: Readonly<Record<string, TextField>> = {
  token: "token",
  manufacturer: "manufacturer",
  serial: "serial",
  model: "model",
  "library-manufacturer": "libraryManufacturer",
  "library-description": "libraryDescription",
  "slot-description": "slotDescription",
  "slot-manufacturer": "slotManufacturer",
  object: "object",
};
/** The attributes naming CK_TOKEN_INFO's fields, which may be any bytes ({@link TokenField}). */
const TOKEN_FIELDS = new Set<TextField>(["token", "manufacturer", "serial", "model"]);
const PATH_ATTRIBUTES = [...Object.keys(PATH_TEXT_ATTRIBUTES), "library-version", "slot-id", "id", "type"].sort();
const QUERY_ATTRIBUTES = ["module-name", "module-path", "pin-source", "pin-value"];
const OBJECT_TYPES: readonly Pkcs11ObjectType[] = ["public", "private", "cert", "secret-key", "data"];

/** Names people write by habit (other tools' option names), with the attribute they mean. */
const LIKELY_MEANT: Readonly<Record<string, string>> = {
  label: "object",
  "token-label": "token",
  "object-label": "object",
  "serial-number": "serial",
  slot: "slot-id",
  "slot-index": "slot-id",
  pin: "pin-value",
  "pin-file": "pin-source",
  module: "module-path",
  "module-file": "module-path",
  "key-id": "id",
};

export function isPkcs11Uri(text: string): boolean {
  return typeof text === "string" && text.slice(0, 7).toLowerCase() === "pkcs11:";
}

/** How a pkcs11: URI gives the PIN itself, without keeping it (a `pin-value` is wiped); undefined if it does not parse. */
export function uriPinForm(text: string): { readonly kind: "value" } | { readonly kind: "source"; readonly source: string } | undefined {
  try {
    const { pin } = wipeUriPin(parsePkcs11Uri(text));
    return pin && (pin.kind === "value" ? { kind: "value" } : pin);
  } catch {
    return undefined;
  }
}

/** The module-path of a pkcs11: URI (a `pin-value` read on the way is wiped); undefined without one or if it does not parse. */
export function uriModulePath(text: string): string | undefined {
  if (!isPkcs11Uri(text) || !/module-path=/i.test(text)) return undefined; // no PIN parsed for nothing
  try {
    return parseWithoutPin(text).modulePath;
  } catch {
    return undefined;
  }
}

/** Whether `text` is a pkcs11: URI giving the PIN itself (`pin-value`, `pin-source`); false if it does not parse. */
export const uriGivesPin = (text: string): boolean => uriPinForm(text) !== undefined;

/** The URI without its PIN, a pin-value wiped: for what needs only the module, token or object it names. */
export function parseWithoutPin(text: string): Pkcs11Uri {
  return withAttributes(wipeUriPin(parsePkcs11Uri(text)), { pin: undefined });
}

/** Wipes the URI's pin-value, if any (its owner is done with it); returns the URI. */
export function wipeUriPin(uri: Pkcs11Uri): Pkcs11Uri {
  if (uri.pin?.kind === "value") uri.pin.value.wipe();
  return uri;
}

/**
 * A pkcs11: URI's `pin-value` taken out of its text: the URI without it (printed anew, not cut from `text`, which a
 * V8 substring would keep alive) and the PIN as bytes for the caller to wipe. Undefined without one, or for a text
 * that does not parse (the signer says what is wrong with it).
 */
export function takePinValue(text: string): { readonly text: string; readonly pin: Secret } | undefined {
  if (!isPkcs11Uri(text)) return undefined;
  let uri: Pkcs11Uri;
  try {
    uri = parsePkcs11Uri(text);
  } catch {
    return undefined;
  }
  return uri.pin?.kind === "value" ? { text: formatPkcs11Uri(uri), pin: uri.pin.value } : undefined;
}

export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (typeof text !== "string") throw new UsageError("USAGE", "parsePkcs11Uri: the URI must be a string"); // plain JS
  if (!isPkcs11Uri(text)) {
    throw invalid("it does not start with pkcs11:", "write it as pkcs11:token=…;object=…");
  }
  const [pathPart = "", ...query] = text.slice(7).split("?");
  const fields: Record<string, unknown> = {};
  const seen = new Set<string>();

  for (const [name, raw] of attributes(pathPart, ";", "path", seen)) {
    if (name === "id") {
      fields["id"] = percentDecode(raw, name);
      continue;
    }
    if (!PATH_ATTRIBUTES.includes(name)) throw unknownAttribute(name, "path");
    const textField = ownValue(PATH_TEXT_ATTRIBUTES, name);
    if (textField !== undefined && TOKEN_FIELDS.has(textField)) {
      const bytes = percentDecode(raw, name);
      // Blank-padded as the others below; bytes that are not UTF-8 are kept as they are: the token's field may hold them.
      fields[textField] = isUtf8(bytes) ? decodeText(raw, name).replace(/ +$/, "") : bytes.subarray(0, trailingBlanksStart(bytes));
      continue;
    }
    const value = decodeText(raw, name);
    if (textField !== undefined) {
      // Token, slot and library fields are blank-padded (p11-kit pads the URI's value too): trailing blanks are padding.
      fields[textField] = textField === "object" ? value : value.replace(/ +$/, "");
    } else if (name === "slot-id") {
      if (!/^[0-9]+$/.test(value)) throw invalid(`slot-id must be a decimal number, not "${value}"`);
      if (BigInt(value) >= 2n ** 64n) throw invalid(`slot-id must be below 2^64 (a CK_SLOT_ID), not "${value}"`);
      fields["slotId"] = BigInt(value);
    } else if (name === "library-version") {
      const version = /^([0-9]+)(?:\.([0-9]+))?$/.exec(value);
      if (!version) throw invalid(`library-version must look like 2 or 2.6, not "${value}"`);
      const [major, minor] = [Number(version[1]), Number(version[2] ?? 0)];
      if (major > 255 || minor > 255) throw invalid(`library-version parts must be 0 to 255 (CK_VERSION bytes), not "${value}"`);
      fields["libraryVersion"] = Object.freeze({ major, minor });
    } else {
      if (!OBJECT_TYPES.includes(value as Pkcs11ObjectType)) {
        throw invalid(`type must be one of ${OBJECT_TYPES.join(", ")}, not "${value}"`);
      }
      fields["type"] = value;
    }
  }

  let pinValue: Secret | undefined;
  let pinSource: string | undefined;
  try {
    for (const [name, raw] of attributes(query.join("?"), "&", "query", seen)) {
      if (!QUERY_ATTRIBUTES.includes(name)) throw unknownAttribute(name, "query");
      if (name === "pin-value") {
        aboutToUseSecret(); // read now: no core file (or inspector) from here on, before a module is loaded
        pinValue = Secret.fromBytes(percentDecode(raw, name));
        continue;
      }
      const value = decodeText(raw, name);
      // p11-kit reads it cut at the NUL, and dlopen() or open() would too: not the file the agent checked.
      if (value.includes("\0")) throw invalid(`${name} holds a NUL byte (%00), which no file or module name can`);
      if (name === "pin-source") {
        if (value === "") throw invalid("pin-source is empty", "give a file path or a file: URI");
        pinSource = value;
      } else if (name === "module-path") {
        if (!value.startsWith("/")) throw invalid(`module-path must be an absolute path, not "${value}"`);
        fields["modulePath"] = value;
      } else {
        fields["moduleName"] = value;
      }
    }
  } catch (error) {
    if (pinValue === undefined) throw error;
    pinValue.wipe(); // what follows it may be the rest of a PIN with a raw & in it: not quoted
    throw invalid("the query is malformed after pin-value", "write a PIN's & as %26 (and = as %3D, % as %25)");
  }
  if (pinValue !== undefined && pinSource !== undefined) {
    pinValue.wipe();
    throw invalid("it has both pin-value and pin-source", "keep only one of them");
  }
  if (pinValue !== undefined) fields["pin"] = Object.freeze({ kind: "value", value: pinValue });
  if (pinSource !== undefined) fields["pin"] = Object.freeze({ kind: "source", source: pinSource });
  return Object.freeze(fields) as Pkcs11Uri;
}

/**
 * Prints the URI with path and query attributes each sorted by name, so equal URIs print identically. `pin-value`
 * only with `revealPinValue`, so that a PIN never reaches a log or an error message by default.
 */
export function formatPkcs11Uri(uri: Pkcs11Uri, options: { revealPinValue?: boolean } = {}): string {
  const path: [string, string][] = [];
  for (const [name, field] of Object.entries(PATH_TEXT_ATTRIBUTES)) {
    const value = uri[field];
    if (value !== undefined) path.push([name, typeof value === "string" ? encodePathValue(value) : encodeBytes(value, PATH_SAFE)]);
  }
  if (uri.id !== undefined) path.push(["id", encodePathValue(uri.id)]);
  if (uri.slotId !== undefined) path.push(["slot-id", uri.slotId.toString(10)]);
  if (uri.libraryVersion !== undefined) path.push(["library-version", `${uri.libraryVersion.major}.${uri.libraryVersion.minor}`]);
  if (uri.type !== undefined) path.push(["type", uri.type]);

  const query: [string, string][] = [];
  if (uri.moduleName !== undefined) query.push(["module-name", encodeText(uri.moduleName, QUERY_SAFE)]);
  if (uri.modulePath !== undefined) query.push(["module-path", encodeText(uri.modulePath, QUERY_SAFE)]);
  if (uri.pin?.kind === "source") query.push(["pin-source", encodeText(uri.pin.source, QUERY_SAFE)]);
  if (uri.pin?.kind === "value" && options.revealPinValue) {
    query.push(["pin-value", uri.pin.value.use((bytes) => encodeBytes(bytes, QUERY_SAFE))]);
  }

  // Sorting name=value sorts by name: no attribute name is a prefix of another.
  const join = (pairs: [string, string][], separator: string) => pairs.map(([name, value]) => `${name}=${value}`).sort().join(separator);
  return `pkcs11:${join(path, ";")}${query.length > 0 ? `?${join(query, "&")}` : ""}`;
}

/** A copy with some attributes replaced; `undefined` removes an attribute. */
export function withAttributes(uri: Pkcs11Uri, changes: { [K in keyof Pkcs11Uri]?: Pkcs11Uri[K] | undefined }): Pkcs11Uri {
  const next: Record<string, unknown> = { ...uri };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  return Object.freeze(next) as Pkcs11Uri;
}

/** The URI without its query (module and PIN): what identifies an object, safe to print. */
export function withoutQuery(uri: Pkcs11Uri): Pkcs11Uri {
  return withAttributes(uri, { pin: undefined, moduleName: undefined, modulePath: undefined });
}

function* attributes(part: string, separator: string, where: "path" | "query", seen: Set<string>): Generator<[string, string]> {
  if (part === "") return;
  for (const element of part.split(separator)) {
    const eq = element.indexOf("=");
    if (eq <= 0) {
      const shown = eq === 0 ? "an attribute with no name" : `"${boundedLine(element, 40)}"`;
      throw invalid(
        `the ${where} has ${shown} where name=value was expected`,
        where === "path" ? "separate path attributes with ; as in pkcs11:token=A;object=B" : "separate query attributes with & as in ?pin-source=/path&module-path=/lib.so",
      );
    }
    const name = element.slice(0, eq);
    if (seen.has(name)) throw invalid(`the ${where} attribute ${name} appears twice`, "give each attribute once");
    seen.add(name);
    yield [name, element.slice(eq + 1)];
  }
}

function percentDecode(raw: string, name: string): Buffer {
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) throw invalid(`${name} has a % that is not followed by two hex digits`, "write a literal % as %25");
  // A separator written wrong (module-path=/x.so;pin-value=…): the value, quoted by a later error, would show the PIN.
  if (name !== "pin-value" && /pin-value=/i.test(raw)) {
    throw invalid(`${name} holds pin-value=`, "separate path attributes with ;, then ? before the query, whose attributes are separated by &");
  }
  const parts = raw.split(/%([0-9A-Fa-f]{2})/).map((part, i) => (i % 2 === 1 ? Buffer.from([parseInt(part, 16)]) : Buffer.from(part, "utf8")));
  const bytes = Buffer.concat(parts);
  for (const part of parts) part.fill(0); // pieces of a pin-value
  return bytes;
}

/** Where a field's trailing blanks (0x20, its padding) begin. */
export function trailingBlanksStart(bytes: Uint8Array): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x20) end--;
  return end;
}

function decodeText(raw: string, name: string): string {
  const bytes = percentDecode(raw, name);
  try {
    // ignoreBOM: a leading U+FEFF is part of the label (objects.ts reads tokens' labels with it), not a mark to drop.
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw invalid(`${name} is not valid UTF-8 once percent-decoded`);
  }
}

const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
/**
 * Characters RFC 7512 lets a path value carry unencoded (";" and "?" are delimiters, so they are not here; nor is
 * "=": a label spelling pin-value= would make the printed URI one the parser refuses, see percentDecode).
 */
const PATH_SAFE = new Set(`${UNRESERVED}:[]@!$'()*+,`);
/** The same for query values, where "/" and "?" are allowed too (module paths, file: URIs). */
const QUERY_SAFE = new Set(`${UNRESERVED}:[]@!$'()*+,/?|`);
const NOTHING_SAFE = new Set<string>();

/** A path attribute's value as printed in a URI: text keeps RFC 7512's path-safe characters, bytes (`id`) none. */
export function encodePathValue(value: string | Uint8Array): string {
  return typeof value === "string" ? encodeText(value, PATH_SAFE) : encodeBytes(value, NOTHING_SAFE);
}

function encodeText(value: string, safe: Set<string>): string {
  return encodeBytes(Buffer.from(value, "utf8"), safe);
}

function encodeBytes(bytes: Uint8Array, safe: Set<string>): string {
  let out = "";
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && safe.has(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function unknownAttribute(name: string, where: "path" | "query"): InputError {
  if (PATH_ATTRIBUTES.includes(name) || QUERY_ATTRIBUTES.includes(name)) {
    return invalid(
      `${name} is a ${where === "path" ? "query" : "path"} attribute but appears in the ${where}`,
      where === "query" ? `move it before the ?` : `move it after a ? as in pkcs11:object=key?${name}=…`,
    );
  }
  const meant = ownValue(LIKELY_MEANT, name);
  return invalid(
    `unknown attribute ${name}`,
    meant ? `did you mean ${meant}=?` : `path attributes: ${PATH_ATTRIBUTES.join(", ")}; query attributes: ${QUERY_ATTRIBUTES.join(", ")}`,
  );
}

function invalid(reason: string, hint?: string): InputError {
  return new InputError("PKCS11_URI_INVALID", `invalid pkcs11: URI: ${reason}`, hint === undefined ? {} : { hint });
}
