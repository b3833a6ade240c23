import { describe, expect, it } from "vitest";
import { parseSubject } from "../../../src/x509/names/parse-subject.js";
import { parseSan } from "../../../src/provisioning/csr/subject-alt-names.js";

const CN = "2.5.4.3";
const O = "2.5.4.10";
const OU = "2.5.4.11";
const C = "2.5.4.6";

describe("parseSubject", () => {
  it.each([
    ["/CN=dev-1", [[{ oid: CN, value: "dev-1" }]]],
    ["/C=US/O=Acme/CN=dev-1", [[{ oid: C, value: "US" }], [{ oid: O, value: "Acme" }], [{ oid: CN, value: "dev-1" }]]],
    ["CN=dev-1,O=Acme,C=US", [[{ oid: C, value: "US" }], [{ oid: O, value: "Acme" }], [{ oid: CN, value: "dev-1" }]]],
    ["/CN=a+OU=b/O=c", [[{ oid: CN, value: "a" }, { oid: OU, value: "b" }], [{ oid: O, value: "c" }]]],
    ["CN=a+OU=b,O=c", [[{ oid: O, value: "c" }], [{ oid: CN, value: "a" }, { oid: OU, value: "b" }]]],
    ["/O=Acme\\, Inc./CN=a\\/b", [[{ oid: O, value: "Acme, Inc." }], [{ oid: CN, value: "a/b" }]]],
    ["CN=Acme\\, Inc.\\+x", [[{ oid: CN, value: "Acme, Inc.+x" }]]],
    ["CN=J\\c3\\bcrgen", [[{ oid: CN, value: "Jürgen" }]]],
    // An escaped U+FEFF is a character of the value (it was dropped as if it were a byte-order mark), and a literal % stays.
    ["CN=\\ef\\bb\\bfx 100%\\25", [[{ oid: CN, value: "\ufeffx 100%%" }]]],
    [`/CN=${"ü".repeat(64)}`, [[{ oid: CN, value: "ü".repeat(64) }]]],
    ["/CN=Jürgen Müller/L=東京", [[{ oid: CN, value: "Jürgen Müller" }], [{ oid: "2.5.4.7", value: "東京" }]]],
    [" CN = spaced , O = x ", [[{ oid: O, value: "x" }], [{ oid: CN, value: "spaced" }]]],
    ["CN=trailing\\ ", [[{ oid: CN, value: "trailing " }]]],
    ["/2.25.329800735698586629295641978511506172918=x/1.39=y", [
      [{ oid: "2.25.329800735698586629295641978511506172918", value: "x" }], [{ oid: "1.39", value: "y" }],
    ]],
    ["/commonName=a/emailAddress=a@b.c/DC=example/2.5.4.97=VATDE-1", [
      [{ oid: CN, value: "a" }], [{ oid: "1.2.840.113549.1.9.1", value: "a@b.c" }],
      [{ oid: "0.9.2342.19200300.100.1.25", value: "example" }], [{ oid: "2.5.4.97", value: "VATDE-1" }],
    ]],
  ])("%j", (text, expected) => {
    expect(parseSubject(text)).toEqual(expected);
  });

  it.each([
    ["", /subject is empty/],
    ["   ", /subject is empty/],
    ["/CN=", /empty value/],
    ["/CN", /has no "="/],
    ["/XX=1", /unknown attribute type "XX"/],
    ["CN=#0403616263", /hex \(#…\) value form/],
    ["CN=a\\", /lone backslash/],
    ["CN=\\ff\\fe", /valid UTF-8/],
    // Dotted OIDs: the first arc is 0-2, the second at most 39 under 0 and 1 (0.40 was written as 1.0), no leading 0.
    ["/CN=a/3.1=x", /"3\.1" is not a valid OID/],
    ["/CN=a/0.40=x", /"0\.40" is not a valid OID/],
    ["/CN=a/2.5.4.03=x", /"2\.5\.4\.03" is not a valid OID/],
    ["/CN=a/0.99999999999999999999999=x", /not a valid OID/],
    // A line break or CR pasted in, escaped or not, an ESC sequence, a bidi override that shows the name reversed.
    ["/CN=dev-1\r", /CN holds a control character \(U\+000D\)$/],
    ["CN=a\\0ab", /CN holds a control character \(U\+000A\)/],
    ["/O=a\u0000b", /O holds a control character \(U\+0000\)/],
    ["/CN=a\u001b[31m", /control character/],
    ["/CN=evil\u202Egpj.exe", /CN holds a control character \(U\+202E\)/],
    // RFC 5280's upper bounds, in characters; a long subject is shown by its start.
    [`/CN=${"a".repeat(65)}`, /^invalid --subject "\/CN=a{65}": CN is 65 characters, over its upper bound of 64 \(RFC 5280\)$/],
    [`CN=${"a".repeat(70_000)}`, /^invalid --subject "CN=a{57}…": CN is 70000 characters, over its upper bound of 64/],
    [`/O=${"ü".repeat(65)}`, /O is 65 characters, over its upper bound of 64/],
    [`/OU=${"a".repeat(65)}`, /OU is 65 characters/],
    [`/L=${"a".repeat(129)}`, /L is 129 characters, over its upper bound of 128/],
    [`/ST=${"a".repeat(129)}`, /ST is 129 characters, over its upper bound of 128/],
    [`/serialNumber=${"1".repeat(65)}`, /serialNumber is 65 characters, over its upper bound of 64/],
    [`/emailAddress=${"a".repeat(256)}`, /emailAddress is 256 characters, over its upper bound of 255/],
    [`/street=${"a".repeat(32769)}`, /street is 32769 characters, over its upper bound of 32768/],
  ])("refuses %j", (text, message) => {
    expect(() => parseSubject(text)).toThrow(message);
  });
});

describe("parseSan", () => {
  it.each([
    ["DNS:host.example.com", { type: "DNS", value: "host.example.com" }],
    ["dns:host", { type: "DNS", value: "host" }],
    ["URI:spiffe://example.com/a", { type: "URI", value: "spiffe://example.com/a" }],
    ["email:ops@example.com", { type: "email", value: "ops@example.com" }],
    ["IP:192.0.2.1", { type: "IP", value: "192.0.2.1" }],
    ["IP:2001:db8::1", { type: "IP", value: "2001:db8::1" }],
  ])("%s", (text, expected) => {
    expect(parseSan(text)).toEqual(expected);
  });

  it.each([
    "host", "DNS:", "X400:x", "IP:300.1.1.1", "DNS:bücher.example", "URI:a b", "constructor:x", "__proto__:x",
    "email:ops", "email:@example.com", "IP:fe80::1%eth0",
  ])("refuses %j", (text) => {
    expect(() => parseSan(text)).toThrow(/invalid --san/);
  });
});

describe("parseSan: each refusal, and what is taken", () => {
  const refusal = (text: string) => {
    try {
      parseSan(text);
    } catch (e) {
      const { code, message, hint } = e as { code: string; message: string; hint?: string };
      return { code, message, hint };
    }
    return undefined;
  };
  const HINT = "write DNS:host.example.com, URI:spiffe://…, email:a@example.com or IP:192.0.2.1";

  it("the value trimmed, the type in any case, a URI with %-escapes, a mailbox with a dotted domain", () => {
    expect(parseSan("Email: ops@example.com ")).toEqual({ type: "email", value: "ops@example.com" });
    expect(parseSan("iP:::1")).toEqual({ type: "IP", value: "::1" });
    expect(parseSan("URI:https://example.com/a%20b")).toEqual({ type: "URI", value: "https://example.com/a%20b" });
  });

  it.each([
    ["host", { code: "USAGE", message: 'invalid --san "host"', hint: HINT }],
    ["dnsX", { code: "USAGE", message: 'invalid --san "dnsX"', hint: HINT }],
    [":x", { code: "USAGE", message: 'invalid --san ":x"', hint: HINT }],
    ["DNS:   ", { code: "USAGE", message: 'invalid --san "DNS:   "', hint: HINT }],
    ["IP:300.1.1.1", { code: "USAGE", message: 'invalid --san "IP:300.1.1.1": not an IPv4 or IPv6 address' }],
    ["IP:fe80::1%eth0", { code: "USAGE", message: 'invalid --san "IP:fe80::1%eth0": an IP SAN holds no zone id' }],
    ["email:x@y@", { code: "USAGE", message: 'invalid --san "email:x@y@": an email address needs a local part, @ and a domain' }],
    ["email:@example.com", { code: "USAGE", message: 'invalid --san "email:@example.com": an email address needs a local part, @ and a domain' }],
    ["DNS:üa.example", {
      code: "USAGE", message: 'invalid --san "DNS:üa.example": DNS names must be printable ASCII without spaces',
      hint: "write internationalised domain names in their xn-- (A-label) form",
    }],
    ["DNS:a.exampleü", {
      code: "USAGE", message: 'invalid --san "DNS:a.exampleü": DNS names must be printable ASCII without spaces',
      hint: "write internationalised domain names in their xn-- (A-label) form",
    }],
    ["URI:a b", { code: "USAGE", message: 'invalid --san "URI:a b": URI names must be printable ASCII without spaces', hint: undefined }],
    ["email:a@b\u007f", { code: "USAGE", message: 'invalid --san "email:a@b\u007f": email names must be printable ASCII without spaces', hint: undefined }],
  ])("refuses %j with its own line", (text, expected) => {
    expect(refusal(text)).toEqual(expected);
  });
});
