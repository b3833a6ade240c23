/**
 * The text Go's certificate parser (crypto/x509 parser.go, AWS's) reads inside names and extensions and OpenSSL does
 * not judge: each function says whether Go reads it. Where go1.19 and current Go differ, current Go's rule (its
 * parser.go as of golang/go b724cdf0, read in round 30).
 */
import { isIP } from "node:net";
import { isUtf8 } from "node:buffer";
import type { DerElement } from "../encoding/der.js";

/** An IPv6 address (the first 16 bytes) of the form ::ffff:a.b.c.d: current Go refuses it as a SAN and as a range. */
export const v4Mapped = (ip: Buffer) => ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;

const alnum = (c: string) => (c >= "0" && c <= "9") || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
/** Every character of `s` alphanumeric or in `others`. */
const only = (s: string, others: string) => [...s].every((c) => alnum(c) || others.includes(c));
/**
 * Each '%' begins an escape of two hex digits; in a host (net/url's encodeHost) only of a byte over 7f, which the domain
 * check then refuses, or of '%' itself: so only %25 (the host is checked as escaped: '%', '2', '5' are domain bytes).
 */
const escapes = (s: string, host = false) => s.split("%").slice(1).every((e) => /^[\da-f]{2}/i.test(e) && (!host || e.startsWith("25")));
const unescape = (s: string) => s.replace(/%([\da-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/**
 * Go's domainNameValid: empty, or (after one leading '.' in a constraint) non-empty labels of characters 0x21-0x7e. A
 * constraint's is also domainToReverseLabels, which reads a mailbox's domain (and in go1.19 a URI SAN's host).
 */
export const goDomain = (s: string, constraint = true) =>
  s === "" || (constraint && s.startsWith(".") ? s.slice(1) : s).split(".").every((l) => l !== "" && [...l].every((c) => c > " " && c < "\x7f"));

/** A URI constraint Go refuses as an IP address (net.ParseIP, which takes no zone). */
export const goIp = (s: string) => isIP(s) !== 0 && !s.includes("%");

/**
 * Go's url.Parse of an IA5 URI SAN, then its host as a domain (parseSANExtension): no control character, a scheme not
 * empty, no ':' in a relative reference's first segment, escapes of two hex digits, a userinfo and host of net/url's
 * characters, a port of digits; current Go: an IPv6 address in brackets, one colon in an http(s) host.
 */
export function goUri(uri: string): boolean {
  const [ref = "", ...fragment] = uri.split("#");
  const scheme = /^[a-z][a-z\d+.-]*:/i.exec(ref)?.[0] ?? "";
  const rest = ref.slice(scheme.length).split("?")[0]!; // the query is not read
  if ([...ref].some((c) => c < " " || c === "\x7f") || !escapes(fragment.join("#"))) return false;
  if (!rest.startsWith("/") && (scheme !== "" || rest.split("/")[0]!.includes(":"))) return scheme !== ""; // opaque
  let host = "";
  if (rest.startsWith("//")) { // (an authority's escapes are checked again with the path's: the same or stricter)
    const authority = rest.slice(2, rest.indexOf("/", 2) >>> 0);
    const at = authority.lastIndexOf("@");
    const user = authority.slice(0, Math.max(at, 0));
    host = authority.slice(at + 1);
    const bracket = host.startsWith("[");
    const colon = bracket ? host.lastIndexOf("]") + 1 : host.lastIndexOf(":");
    const port = colon < 0 ? "" : host.slice(colon);
    // Host escapes: encodeHost's, but in a bracket's zone (after %25), any.
    if (!only(user, "-._:~!$&'()*+,;=%@") || !escapes(user) || !/^(:\d*)?$/.test(port) || !escapes(bracket ? host.split("%25")[0]! : host, true) || !escapes(host)
      || (bracket ? isIP(unescape(host.slice(1, colon - 1))) !== 6 : !only(host, "!$&'()*+,;=:[]<>\"-_.~%") || (/^https?:/i.test(scheme) && host.indexOf(":") < colon))) return false;
  }
  return escapes(rest) && goDomain(host, false);
}

/**
 * Go's parseRFC2821Mailbox, for a mailbox name constraint: a quoted local part (bytes 01-7f but tab, LF and CR; '"' and
 * '\' escaped) or one of atext, dots (not first, last or two in a row) and escapes; '@'; a domain as {@link goDomain}.
 */
export function goMailbox(s: string): boolean {
  let i = 0;
  let local = "";
  const text = (c: number) => c >= 1 && c <= 0x7f && c !== 10 && c !== 13;
  if (s[0] === '"') {
    for (i = 1; s[i] !== '"'; i++) {
      const c = s.charCodeAt(i) === 0x5c ? s.charCodeAt(++i) : s.charCodeAt(i) === 9 ? NaN : s.charCodeAt(i);
      if (!text(c)) return false;
    }
    i++;
  } else {
    for (; i < s.length && (s[i] === "\\" || only(s[i]!, "!#$%&'*+-/=?^_`{|}~.")); i++) {
      if (s[i] === "\\" && ++i === s.length) return false;
      local += s[i];
    }
    if (local === "" || local.startsWith(".") || local.endsWith(".") || local.includes("..")) return false;
  }
  return s[i] === "@" && goDomain(s.slice(i + 1));
}

/**
 * Current Go's readASN1Any for a name's value (parseName): parseASN1String's strings, a PrintableString of its
 * characters (and '*', '&'), UTF-8, IA5, digits and space, a BMPString of whole units without surrogates or
 * noncharacters, T61; any other type OpenSSL reads as it is (a UniversalString, an x500UniqueIdentifier's BIT STRING,
 * a SEQUENCE: golang/go#77900), which go1.19-1.26 refuse ("unsupported string type"). (Its INTEGER, OID, time and
 * OCTET STRING checks are unreached: OpenSSL refuses those types in a name.)
 */
export function goString({ tag, content }: DerElement): boolean {
  // ASCII before isUtf8, and a BMPString's units only for one: each of Node's functions costs a compilation on a cold run.
  const ascii = content.every((b) => b < 0x80);
  return tag === 0x13 ? only(content.toString("latin1"), " '()+,-./:=?*&") : tag === 0x0c ? ascii || isUtf8(content)
    : tag === 0x16 ? ascii : tag === 0x12 ? content.every((b) => b === 0x20 || (b >= 0x30 && b <= 0x39))
    : tag !== 0x1e || (content.length % 2 === 0 && bmpUnits(content).every((u) => u < 0xd800 || (u > 0xdfff && (u < 0xfdd0 || u > 0xfdef) && u < 0xfffe)));
}

/** A BMPString's big-endian 16-bit units (Go drops a 0 at the end: valid anyway). */
const bmpUnits = (content: Buffer) => Array.from({ length: content.length >> 1 }, (_, i) => (content[2 * i]! << 8) | content[2 * i + 1]!);
