import { describe, expect, it } from "vitest";
import { decodeName } from "../../src/x509/names/decode-name.js";
import {
  defaultConditionTags,
  exampleTrustPolicy,
  sessionTagValueProblem,
  sourceIdentity,
  type PrincipalTag,
} from "../../src/provisioning/principal-tags/index.js";
import { readSingle } from "../../src/encoding/der.js";

function tlv(tag: number, content: Buffer): Buffer {
  const len = content.length < 0x80 ? Buffer.from([content.length]) : Buffer.from([0x81, content.length]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, "hex"));
const atv = (type: Buffer, value: Buffer) => tlv(0x30, Buffer.concat([type, value]));
const rdn = (...atvs: Buffer[]) => tlv(0x31, Buffer.concat(atvs));
const name = (...rdns: Buffer[]) => readSingle(tlv(0x30, Buffer.concat(rdns)));
const CN = oid("550403");

describe("decodeName", () => {
  it.each([
    ["UTF8String", tlv(0x0c, Buffer.from("Zoë 東京", "utf8")), "Zoë 東京"],
    ["PrintableString", tlv(0x13, Buffer.from("abc")), "abc"],
    ["T61String (Latin-1)", tlv(0x14, Buffer.from([0x5a, 0x6f, 0xeb])), "Zoë"],
    ["BMPString", tlv(0x1e, Buffer.from("00e9004e", "hex")), "éN"],
    ["UniversalString", tlv(0x1c, Buffer.from("0001f60000000041", "hex")), "\u{1f600}A"],
    ["IA5String", tlv(0x16, Buffer.from("a@b.c")), "a@b.c"],
    ["INTEGER (not a string)", tlv(0x02, Buffer.from([1])), undefined],
  ])("reads a %s value", (_label, value, expected) => {
    const [attr] = decodeName(name(rdn(atv(CN, value))));
    expect(attr).toMatchObject({ oid: "2.5.4.3", name: "CN", documented: true, value: expected, rdn: 0 });
  });

  it("keeps unknown attribute types by OID and numbers RDNs", () => {
    const attrs = decodeName(name(rdn(atv(oid("2a0304"), tlv(0x0c, Buffer.from("x")))), rdn(atv(CN, tlv(0x0c, Buffer.from("y"))))));
    expect(attrs).toEqual([
      { oid: "1.2.3.4", name: undefined, documented: false, value: "x", rdn: 0 },
      { oid: "2.5.4.3", name: "CN", documented: true, value: "y", rdn: 1 },
    ]);
  });

  it("refuses invalid UTF-8", () => {
    expect(() => decodeName(name(rdn(atv(CN, tlv(0x0c, Buffer.from([0xc3, 0x28]))))))).toThrow(TypeError);
  });
});

describe("sessionTagValueProblem (STS Tag value: 256 characters of [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@])", () => {
  it.each([
    ["", true],
    ["spiffe://example.com/a_b.c=d+e@f-g", true],
    ["Jürgen Müller", true],
    ["東京 開発", true],
    ["a\u00a0b", true], // no-break space is \p{Z}
    ["x".repeat(256), true],
    ["é".repeat(256), true],
    ["x".repeat(257), false],
    ["Acme, Inc.", false],
    ["R&D", false],
    ["tab\there", false],
    ["smile \u{1f600}", false],
    ["a*b", false],
  ])("%j → accepted %s", (value, ok) => {
    expect(sessionTagValueProblem(value) === undefined).toBe(ok);
  });

  it("names the offending characters", () => {
    expect(sessionTagValueProblem("a,b\tc")).toBe('contains ",", U+0009, which session tag values may not contain');
  });
});

describe("sourceIdentity (User Guide, source identity rules)", () => {
  it.each([
    [["Alice"], "1f", "CN=Alice"],
    [["a".repeat(61)], "1f", `CN=${"a".repeat(61)}`],
    [["a".repeat(62)], "1f", "a".repeat(62)],
    [["a".repeat(64)], "1f", "a".repeat(64)],
    [["ü".repeat(61)], "1f", `CN=${"ü".repeat(61)}`],
    [[], "123", "ID=0123"],
    [[], "4567", "ID=4567"],
  ])("CN %j, serial %s → %s", (cns, serial, expected) => {
    expect(sourceIdentity(cns, serial).value).toBe(expected);
  });

  it("does not guess beyond 64 characters", () => {
    const si = sourceIdentity(["a".repeat(65)], "1");
    expect(si.value).toBeUndefined();
    expect(si.rule).toContain("65");
  });
});

describe("exampleTrustPolicy", () => {
  const tags: PrincipalTag[] = [
    { key: "x509Issuer/CN", value: "CA", documented: true },
    { key: "x509Subject/OU", value: "Ops", documented: true },
    { key: "x509Subject/CN", value: "dev-1", documented: true },
  ];

  it("requires subject CN and issuer CN by default, and the trust anchor", () => {
    const arn = "arn:aws-cn:rolesanywhere:cn-north-1:123456789012:trust-anchor/abc";
    const policy = exampleTrustPolicy({ conditionTags: defaultConditionTags(tags), trustAnchorArn: arn });
    expect(policy).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "rolesanywhere.amazonaws.com" },
          Action: ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
          Condition: {
            StringEquals: { "aws:PrincipalTag/x509Subject/CN": "dev-1", "aws:PrincipalTag/x509Issuer/CN": "CA" },
            ArnEquals: { "aws:SourceArn": [arn] },
          },
        },
      ],
    });
  });

  it("uses a placeholder trust anchor and omits StringEquals without tags", () => {
    const policy = exampleTrustPolicy({ conditionTags: [] }) as { Statement: { Condition: object }[] };
    expect(policy.Statement[0]!.Condition).toEqual({
      ArnEquals: { "aws:SourceArn": ["arn:aws:rolesanywhere:REGION:ACCOUNT_ID:trust-anchor/TRUST_ANCHOR_ID"] },
    });
  });
});
