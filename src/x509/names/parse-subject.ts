import { codePointName, UsageError } from "../../errors.js";
import { ownValue } from "../../own-value.js";
import { attributeOid } from "./attribute-names.js";

/** One attribute of a subject the user typed: its type OID and text value. */
export interface SubjectAttribute {
  readonly oid: string;
  readonly value: string;
}

/** RDNs in encoding order (first = most significant, as in the certificate); each holds ≥ 1 attribute. */
export type SubjectRdns = readonly (readonly SubjectAttribute[])[];

/**
 * Parses a subject in OpenSSL's form (`/C=US/O=Acme/CN=dev-1`, `+` joining the members of a multi-valued
 * RDN, `\` escaping) or in RFC 4514 form (`CN=dev-1,O=Acme,C=US`, written least significant first, so
 * reversed here; `\,`-style and `\c3\bc` hex escapes).
 */
export function parseSubject(text: string): SubjectRdns {
  const trimmed = trimUnescaped(text);
  if (trimmed === "") throw subjectError(text, "the subject is empty", "Roles Anywhere does not accept certificates with an empty subject");
  const openssl = trimmed.startsWith("/");
  const rdnTexts = splitUnescaped(openssl ? trimmed.slice(1) : trimmed, openssl ? "/" : ",");
  const rdns = rdnTexts.map((rdnText) =>
    splitUnescaped(rdnText, "+").map((atvText) => parseAttribute(atvText, text, openssl)),
  );
  return openssl ? rdns : rdns.reverse();
}

function parseAttribute(atv: string, whole: string, openssl: boolean): SubjectAttribute {
  const [typeText, ...rest] = splitUnescaped(atv, "=");
  if (rest.length === 0) throw subjectError(whole, `"${atv.trim()}" has no "="`);
  const type = typeText!.trim();
  const oid = attributeOid(type);
  if (oid === undefined && /^[\d.]+$/.test(type)) {
    const hint = "its first arc is 0, 1 or 2, the second at most 39 under 0 and 1";
    throw subjectError(whole, `"${type}" is not a valid OID`, hint);
  }
  if (oid === undefined) throw subjectError(whole, `unknown attribute type "${type}"`, "use CN, O, OU, C, ST, L, DC, emailAddress, serialNumber, … or a dotted OID");
  const raw = atv.slice(typeText!.length + 1);
  if (!openssl && raw.trimStart().startsWith("#")) throw subjectError(whole, `the hex (#…) value form of ${type} is not supported`);
  const value = unescape(trimUnescaped(raw), whole);
  if (value === "") throw subjectError(whole, `${type} has an empty value`);
  // A pasted line break or CR, an ESC sequence, a bidi override (the name shown reversed): never meant as a name.
  const control = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.exec(value)?.[0];
  if (control !== undefined) {
    throw subjectError(whole, `${type} holds a control character (${codePointName(control)})`, "retype the subject without it");
  }
  const bound = ownValue(UPPER_BOUNDS, oid) ?? UB_NAME;
  const length = [...value].length;
  if (length > bound) {
    throw subjectError(whole, `${type} is ${length} characters, over its upper bound of ${bound} (RFC 5280)`);
  }
  return { oid, value };
}

/**
 * RFC 5280 Appendix A's upper bounds (in characters), which CAs check: ub-common-name, ub-serial-number,
 * ub-locality-name, ub-state-name, ub-organization-name, ub-organizational-unit-name, ub-title, ub-pseudonym,
 * ub-emailaddress-length. C is held to two letters when encoded; any other attribute to ub-name.
 */
const UPPER_BOUNDS: Readonly<Record<string, number>> = {
  "2.5.4.3": 64, "2.5.4.5": 64, "2.5.4.7": 128, "2.5.4.8": 128, "2.5.4.10": 64, "2.5.4.11": 64, "2.5.4.12": 64,
  "2.5.4.65": 128, "1.2.840.113549.1.9.1": 255,
};
const UB_NAME = 32768;

/** Splits on `sep` not preceded by a backslash (escapes are kept for `unescape`). */
function splitUnescaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === sep) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Trims spaces, except an escaped trailing one (`a\ `). */
function trimUnescaped(text: string): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === " " && !(end >= 2 && text[end - 2] === "\\")) end--;
  return text.slice(0, end).trimStart();
}

/**
 * `\X` → X; `\hh` hex pairs → bytes, decoded together as UTF-8 (RFC 4514 §2.4): percent-encoded, they are what
 * decodeURIComponent decodes (a literal `%` is encoded too).
 */
function unescape(text: string, whole: string): string {
  const encoded = text.replace(/%|\\([0-9a-fA-F]{2})|\\(.)|\\$/gs, (match, hex: string | undefined, char: string | undefined) => {
    if (hex !== undefined) return `%${hex}`;
    if (match === "%" || char === "%") return "%25";
    if (char !== undefined) return char;
    throw subjectError(whole, "it ends with a lone backslash");
  });
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw subjectError(whole, "hex escapes do not form valid UTF-8");
  }
}

function subjectError(subject: string, problem: string, hint?: string): UsageError {
  // A long subject is shown by its start: the problem names what is wrong in it.
  const shown = subject.length > 80 ? `${subject.slice(0, 60)}…` : subject;
  return new UsageError("USAGE", `invalid --subject "${shown}": ${problem}`, {
    hint: hint ?? 'write it as /CN=device-1/O=Example (OpenSSL form) or CN=device-1,O=Example (RFC 4514)',
  });
}
