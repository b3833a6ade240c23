/**
 * The text rules of Go's certificate parser, one value at a time. Each URI and mailbox was checked in a certificate
 * (a URI SAN, a mailbox name constraint) with go1.19.8 x509.ParseCertificate; "current" marks where current Go refuses
 * what go1.19 read (brackets around anything but an IPv6 address, two colons in an http(s) host, a leading dot).
 */
import { describe, expect, it } from "vitest";
import { goDomain, goIp, goMailbox, goString, goUri, v4Mapped } from "../../src/x509/go-syntax.js";

// [value, read by current Go, "current" when go1.19 differs]
const URIS: [string, boolean, string?][] = [
  ["", true], ["*", true], ["urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", true], ["mailto:a%zz", true], ["spiffe://gw.example/x", true],
  ["https://[2001:db8::1]:443/p", true], ["https://u:p@gw.example/", true], ["https://gw.example:/", true], ["//gw.example/x", true],
  ["///x", true], ["https:///x", true], ["a/b:c", true], ["/a:b", true], ["https://gw.example?%zz", true], ["https://gw.example#a%41", true],
  ["http://[fe80::1%25en0]/", true], ["HTTP://gw.example/", true], ["http://g_w.example/", true], ["s3+x-y.z://gw/", true],
  ["https://gw%25.example/", true], ["spiffe://gw.example/%41%2f", true], ["https://gw.example/ x", true], ["spiffe://::1/", true],
  ["https://u@v@gw.example/", true], ["https://-._:~!$&'()*+,;=%41@gw.example/", true], ["https://a<b@gw.example/", false], ["https://gw.example:443", true], ["a#b#%41", true],
  ["https://gw.example/#", true], ["https://gw.example/?", true], ["https://gw.example:443/x", true], ["https://[::1]/", true],
  [":gw", false], ["1a:b", false], ["a b:c", false], ["https://gw.example/\x01", false], ["https://gw.example:8a/", false], ["https://[::1", false],
  ["https://[::1]x/", false], ["https://[192.0.2.1]/", false, "current"], ["https://[gw.example]/", false, "current"], ["https://a:b:c/", false],
  ["https://::1/", false, "current"], ["HTTPS://::1/", false, "current"], ["http://a::1/", false, "current"], ["https://gw%41/", false], ["https://gw%7f/", false], ["https://gw%zz/", false],
  ["https://gw%4/", false], ["https://u%zz@gw/", false], ["https://u{@gw/", false], ["https://gw.example/%zz", false], ["https://gw.example#%zz", false],
  ["https://gw.example#%4", false], ["https://.gw/", false, "current"], ["https://gw..x/", false], ["https://gw./", false], ["https://g w/", false],
  ["https://gw\x7f/", false], ["https://g{w/", false], ["https://g|w/", false], ["https://g`w/", false], ["https://gw%C3%A9.example/", false],
  ["a/b%zz", false], ["https://gw.example/%zz41", false], ["a#%4#1", false], ["xhttps://::1/", true], ["https://[%3a%3a1]/", false], ["https://[fe80::1%25en%30]/", true], ["https://gw%25%41/", false], ["http://[fe80::1%25%zz]/", false], ["https://[::1]:8a/", false],
];
const MAILBOXES: [string, boolean][] = [
  ["a@gw.example", true], ["a.b@gw", true], ["\"a..b\"@gw", true], ["\"a b\"@gw", true], ["\"a\\\"b\"@gw", true], ["\"a\\\tb\"@gw", true],
  ["a\\ b@gw", true], ["a@", true], ["a@.gw", true], ["!#$%&'*+-/=?^_`{|}~@gw", true], ["\"\"@gw", true], ["\"a\x7f\x01\"@gw", true], ["Zz09@gw", true],
  ["\"\\\x7f\"@gw", true], ["a@b@gw", true], ["a\\ @gw", true], ["\"a\u00e9\"@gw", false],
  ["@gw", false], [".a@gw", false], ["a.@gw", false], ["a..b@gw", false], ["a b@gw", false], ["a\x7f@gw", false],
  ["\"a\tb\"@gw", false], ["\"a\nb\"@gw", false], ["\"a\rb\"@gw", false], ["\"a\\\nb\"@gw", false], ["\"a\\\rb\"@gw", false], ["\"a\x00b\"@gw", false], ["\"a\\\x00b\"@gw", false],
  ["\"a\"b@gw", false], ["\"a@gw", false], ["a@gw..x", false], ["a@gw.", false], ["a@g w", false], ["a(b@gw", false],
  ["a\\@gw", false], ["a[@gw", false],
];

describe("Go's certificate text rules", () => {
  it.each(URIS)("a URI SAN %j: read %s", (uri, read) => {
    expect(goUri(uri)).toBe(read);
  });

  it.each(MAILBOXES)("a mailbox constraint %j: read %s", (mailbox, read) => {
    expect(goMailbox(mailbox)).toBe(read);
  });

  it("domains: empty, labels of 21-7e, one leading dot in a constraint only; an IP address without a zone", () => {
    expect(["", "gw", "gw.example", ".gw", "!.~"].map((d) => goDomain(d))).toEqual([true, true, true, true, true]);
    expect(["gw.", "..gw", "g w", "gw\x7f", ".", "gw..x"].map((d) => goDomain(d))).toEqual([false, false, false, false, false, false]);
    expect([goDomain(".gw", false), goDomain("gw", false)]).toEqual([false, true]);
    expect(["192.0.2.1", "::1", "::ffff:192.0.2.1", "fe80::1%en0", "192.0.2.01", "gw"].map(goIp)).toEqual([true, true, true, false, false, false]);
  });

  it("IPv4-mapped: the first 10 bytes zero, then ff ff", () => {
    const v6 = (...head: number[]) => Buffer.from([...head, ...Array(16 - head.length).fill(0)]);
    expect(v4Mapped(v6(...Array(10).fill(0), 0xff, 0xff, 192, 0, 2, 1))).toBe(true);
    expect(v4Mapped(Buffer.concat([v6(...Array(10).fill(0), 0xff, 0xff), Buffer.alloc(16, 0xff)]))).toBe(true); // a range
    for (const ip of [v6(...Array(10).fill(0), 0xff, 0xfe), v6(...Array(10).fill(0), 0xfe, 0xff), v6(...Array(9).fill(0), 1, 0xff, 0xff), v6(1), Buffer.from([0, 0, 0xff, 0xff])]) {
      expect(v4Mapped(ip), ip.toString("hex")).toBe(false);
    }
  });

  const s = (tag: number, hex: string) => ({ tag, content: Buffer.from(hex, "hex"), raw: Buffer.alloc(0) });
  const text = (tag: number, value: string) => s(tag, Buffer.from(value, "latin1").toString("hex"));
  it("name strings: a PrintableString of its set and '*', '&'; digits and space; IA5; UTF-8; BMP units without surrogates or noncharacters", () => {
    expect(goString(text(0x13, "AZaz09 '()+,-./:=?*&"))).toBe(true);
    for (const c of ["@", "_", "!", "\"", "#", "<", ";", "[", "`", "{", "\x00", "\xe9"]) expect(goString(text(0x13, c)), c).toBe(false);
    expect(goString(text(0x12, "0189 "))).toBe(true);
    for (const c of ["/", ":", "a", "-"]) expect(goString(text(0x12, c)), c).toBe(false);
    expect([goString(text(0x16, "a\x7f")), goString(text(0x16, "a\x80"))]).toEqual([true, false]);
    expect([goString(text(0x0c, "\xc3\xa9")), goString(text(0x0c, "\xc0\xaf")), goString(text(0x0c, "\xed\xa0\x80"))]).toEqual([true, false, false]);
    for (const [hex, read] of [["d7ff", true], ["d800", false], ["dfff", false], ["e000", true], ["fdcf", true], ["fdd0", false], ["fdef", false],
      ["fdf0", true], ["fffd", true], ["fffe", false], ["ffff", false], ["0061", true], ["00", false], ["006100", false], ["00610000", true], ["0000", true],
      ["00000061", true], ["d8000000", false]] as const) {
      expect(goString(s(0x1e, hex)), hex).toBe(read);
    }
    expect([goString(text(0x14, "\xff")), goString(text(0x1c, "\x00\x00\x00a"))]).toEqual([true, true]);
    // Any other type is read as it is by current Go (readASN1Any); go1.19.8-go1.26: "unsupported string type".
    expect([goString(s(0x04, "ff")), goString(s(0x03, "0061")), goString(s(0x30, "0c0161")), goString(s(0x1a, "61"))]).toEqual([true, true, true, true]);
  });
});
