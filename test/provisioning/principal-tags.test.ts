import { afterAll, describe, expect, it } from "vitest";
import { readCertificateNames } from "../../src/x509/names/certificate-names.js";
import * as principalTags from "../../src/provisioning/principal-tags/index.js";
import { derivePrincipalTags, renderPrincipalTags, type PrincipalTagReport } from "../../src/provisioning/principal-tags/index.js";
import { makeTempDir } from "../helpers/pki.js";
import { opensslCertificate, type NamedCertificateSpec } from "./helpers/openssl-certificate.js";

const tmp = makeTempDir("raa-ptags-");
afterAll(() => tmp.cleanup());

interface Case {
  readonly name: string;
  readonly cert: NamedCertificateSpec;
  /** Expected tags, key → value, in derivation order. */
  readonly tags: Readonly<Record<string, string>>;
  readonly dropped?: readonly string[];
  readonly ignored?: number;
  readonly sourceIdentity?: string | undefined;
}

const CASES: readonly Case[] = [
  {
    // The User Guide's own example ("Trust policy", SAN fields mapping).
    name: "the AWS documentation example",
    cert: {
      subject: "/CN=Alice",
      issuer: "/C=US/O=Amazon/OU=IAM/ST=Washington/CN=RolesAnywhere/L=Seattle",
      subjectAltName: "DNS:example.com,URI:spiffe://example.com/workload/alice,dirName:dir_alice",
      sections: { dir_alice: ["CN = Alice"] },
    },
    tags: {
      "x509Subject/CN": "Alice",
      "x509Issuer/C": "US",
      "x509Issuer/O": "Amazon",
      "x509Issuer/OU": "IAM",
      "x509Issuer/ST": "Washington",
      "x509Issuer/CN": "RolesAnywhere",
      "x509Issuer/L": "Seattle",
      "x509SAN/DNS": "example.com",
      "x509SAN/URI": "spiffe://example.com/workload/alice",
      "x509SAN/Name/CN": "Alice",
    },
    sourceIdentity: "CN=Alice",
  },
  {
    // The documented multi-value example: CN=alice, OU=Security, OU=Engineering, OU=Research.
    name: "repeated attributes joined with / in certificate order",
    cert: { subject: "/CN=alice/OU=Security/OU=Engineering/OU=Research", issuer: "/CN=CA" },
    tags: { "x509Subject/CN": "alice", "x509Subject/OU": "Security/Engineering/Research", "x509Issuer/CN": "CA" },
  },
  {
    // DER sorts the members of a SET: OU=Ops (shorter encoding) precedes CN=device-1 in the certificate.
    name: "multi-valued RDN, members in encoding order",
    cert: { subject: "/CN=device-1+OU=Ops/OU=Fleet", issuer: "/CN=CA" },
    tags: { "x509Subject/OU": "Ops/Fleet", "x509Subject/CN": "device-1", "x509Issuer/CN": "CA" },
    sourceIdentity: "CN=device-1",
  },
  {
    name: "non-ASCII names in UTF8String",
    cert: { subject: "/CN=Jürgen Müller/O=Société Générale/L=東京", issuer: "/CN=Certificação Raiz" },
    tags: {
      "x509Subject/CN": "Jürgen Müller",
      "x509Subject/O": "Société Générale",
      "x509Subject/L": "東京",
      "x509Issuer/CN": "Certificação Raiz",
    },
    sourceIdentity: "CN=Jürgen Müller",
  },
  {
    // string_mask=default: OpenSSL writes T61String for Latin-1 text and BMPString beyond it.
    name: "non-ASCII names in T61String and BMPString",
    cert: { subject: "/CN=Zoë/OU=開発", issuer: "/CN=CA", stringMask: "default" },
    tags: { "x509Subject/CN": "Zoë", "x509Subject/OU": "開発", "x509Issuer/CN": "CA" },
  },
  {
    name: "several SANs: only the first DNS, URI and directoryName, no email or IP",
    cert: {
      subject: "/CN=host",
      issuer: "/CN=CA",
      subjectAltName:
        "email:ops@example.com,DNS:first.example.com,IP:10.0.0.1,DNS:second.example.com,URI:urn:uuid:1234,URI:https://x/y,dirName:d1,dirName:d2",
      sections: { d1: ["CN = svc", "1.OU = A", "2.OU = B"], d2: ["CN = other"] },
    },
    tags: {
      "x509Subject/CN": "host",
      "x509Issuer/CN": "CA",
      "x509SAN/DNS": "first.example.com",
      "x509SAN/URI": "urn:uuid:1234",
      "x509SAN/Name/CN": "svc",
      "x509SAN/Name/OU": "A/B",
    },
    ignored: 5,
  },
  {
    name: "values outside the session tag pattern are dropped",
    cert: { subject: "/CN=ok/O=Acme, Inc./OU=R&D", issuer: "/CN=CA (test)" },
    tags: { "x509Subject/CN": "ok" },
    dropped: ["x509Subject/O", "x509Subject/OU", "x509Issuer/CN"],
  },
  {
    name: "no CN: source identity from the serial number",
    cert: { subject: "/O=Acme/OU=Robots", issuer: "/CN=CA", serial: "0x123" },
    tags: { "x509Subject/O": "Acme", "x509Subject/OU": "Robots", "x509Issuer/CN": "CA" },
    sourceIdentity: "ID=0123",
  },
  {
    // RFC 5280 forbids it, CAs have issued it: the sign stays, as in read-certificate-data's listing (was ID=fedd).
    name: "no CN and a negative serial: the source identity keeps the sign",
    cert: { subject: "/O=Acme", issuer: "/CN=CA", serial: "-0x123" },
    tags: { "x509Subject/O": "Acme", "x509Issuer/CN": "CA" },
    sourceIdentity: "ID=-0123",
  },
  {
    name: "undocumented attribute names are reported as such",
    cert: { subject: "/DC=com/DC=example/CN=svc/emailAddress=svc@example.com", issuer: "/CN=CA" },
    tags: { "x509Subject/DC": "com/example", "x509Subject/CN": "svc", "x509Subject/emailAddress": "svc@example.com", "x509Issuer/CN": "CA" },
  },
];

function derive(c: Case): PrincipalTagReport {
  return derivePrincipalTags(readCertificateNames(opensslCertificate(tmp.dir, c.name.replace(/\W+/g, "_"), c.cert)));
}

describe("derivePrincipalTags", () => {
  it.each(CASES)("$name", (c) => {
    const report = derive(c);
    expect(Object.fromEntries(report.tags.map((t) => [t.key, t.value]))).toEqual(c.tags);
    expect(report.tags.map((t) => t.key)).toEqual(Object.keys(c.tags));
    expect(report.dropped.map((d) => d.key)).toEqual(c.dropped ?? []);
    if (c.ignored !== undefined) expect(report.ignored).toHaveLength(c.ignored);
    if (c.sourceIdentity !== undefined) expect(report.sourceIdentity.value).toBe(c.sourceIdentity);
  });

  it("marks only C, O, OU, ST, L, CN, DNS, URI and Name/… as documented", () => {
    const report = derive(CASES.at(-1)!);
    const undocumented = report.tags.filter((t) => !t.documented).map((t) => t.key);
    expect(undocumented).toEqual(["x509Subject/DC", "x509Subject/emailAddress"]);
  });

  it("says why a value was dropped", () => {
    const report = derive(CASES.find((c) => c.dropped)!);
    expect(report.dropped.find((d) => d.key === "x509Subject/O")!.reason).toContain('","');
    expect(report.dropped.find((d) => d.key === "x509Issuer/CN")!.reason).toMatch(/"\(", "\)"/);
  });
});

describe("renderPrincipalTags", () => {
  it("lists tags, source identity, dropped and unmapped values, warnings and the trust policy", () => {
    const report: PrincipalTagReport = {
      tags: [
        { key: "x509Subject/CN", value: "Alice", documented: true },
        { key: "x509Subject/UID", value: "a1", documented: false },
      ],
      dropped: [
        { key: "x509Subject/OU", value: "a\tb", reason: "contains U+0009, which session tag values may not contain" },
        { key: "x509Issuer/O", value: undefined, reason: "a value is not a character string" },
      ],
      ignored: ["SAN IP:192.0.2.1: Roles Anywhere maps only DNS, URI and directoryName entries"],
      sourceIdentity: { value: "CN=Alice", rule: "subject CN of at most 61 characters: CN= and the CN" },
      warnings: ["51 tags: too many"],
    };
    expect(renderPrincipalTags(report, { Version: "2012-10-17" })).toBe(
      [
        "Session tags (default attribute mapping of a Roles Anywhere profile):",
        '  aws:PrincipalTag/x509Subject/CN   "Alice"',
        `  aws:PrincipalTag/x509Subject/UID  "a1"   (attribute name not in AWS's documentation: check before relying on it)`,
        "",
        'Source identity (sts:SourceIdentity): "CN=Alice"',
        "  rule: subject CN of at most 61 characters: CN= and the CN",
        "",
        "Not available as tags (Roles Anywhere ignores these values):",
        '  x509Subject/OU = "a\\tb": contains U+0009, which session tag values may not contain',
        "  x509Issuer/O: a value is not a character string",
        "",
        "Not mapped:",
        "  SAN IP:192.0.2.1: Roles Anywhere maps only DNS, URI and directoryName entries",
        "",
        "Warning: 51 tags: too many",
        "",
        "A profile with custom attribute mappings (aws rolesanywhere put-attribute-mapping) maps only what its rules select.",
        "",
        "Example role trust policy:",
        '{\n  "Version": "2012-10-17"\n}',
        "",
      ].join("\n"),
    );
  });

  it("shows bidi and C1 characters from a certificate as \\u escapes (JSON leaves them raw): U+202E reorders no line", () => {
    // Before: x509Subject/OU = "\u202eevil" printed with the raw U+202E, which displays the rest of the line reversed.
    const report: PrincipalTagReport = {
      tags: [{ key: "x509Subject/CN", value: "a\u202eb\u0085", documented: true }],
      dropped: [{ key: "x509Subject/OU", value: "\u202eevil\n", reason: "r" }],
      ignored: [],
      sourceIdentity: { value: "CN=a\u202eb", rule: "r" },
      warnings: [],
    };
    const text = renderPrincipalTags(report, { Condition: { StringEquals: { "aws:PrincipalTag/x509Subject/CN": "a\u202eb" } } });
    expect(text).not.toMatch(/[\u0080-\u009f\u202e]/);
    expect(text).toContain('aws:PrincipalTag/x509Subject/CN  "a\\u202eb\\u0085"');
    expect(text).toContain('x509Subject/OU = "\\u202eevil\\n": r');
    expect(text).toContain('"aws:PrincipalTag/x509Subject/CN": "a\\u202eb"');
  });

  it("says (none) and leaves out empty sections", () => {
    const report: PrincipalTagReport = { tags: [], dropped: [], ignored: [], sourceIdentity: { value: undefined, rule: "r" }, warnings: [] };
    expect(renderPrincipalTags(report, {}).split("\n").slice(0, 5)).toEqual([
      "Session tags (default attribute mapping of a Roles Anywhere profile):",
      "  (none)",
      "",
      "Source identity (sts:SourceIdentity): unknown",
      "  rule: r",
    ]);
    expect(renderPrincipalTags(report, {})).not.toMatch(/Not mapped|Not available|Warning/);
  });
});

describe("the principal-tags functions from plain JavaScript", () => {
  const names = { subject: [], issuer: [], subjectAltNames: [], serialHex: "01" };
  const report = { tags: [], dropped: [], ignored: [], sourceIdentity: { value: undefined, rule: "r" }, warnings: [] };
  it.each([
    ["derivePrincipalTags", [null], "names must be an object"],
    ["derivePrincipalTags", [{}], "names.subject must be an array of { oid, name, value }"],
    ["derivePrincipalTags", [{ ...names, subject: [{ oid: "2.5.4.3", value: 5 }] }], "names.subject must be"],
    ["derivePrincipalTags", [{ ...names, subjectAltNames: [{ type: "DirName" }] }], "names.subjectAltNames must be"],
    ["derivePrincipalTags", [{ ...names, serialHex: 1 }], "names.serialHex must be a string"],
    ["sessionTagValueProblem", [null], "value must be a string"],
    ["sessionTagValueProblem", [5], "value must be a string"],
    ["sourceIdentity", ["CN", "01"], "commonNames must be an array of strings"],
    ["sourceIdentity", [[], 1], "serialHex must be a string"],
    ["exampleTrustPolicy", [null], "the options must be an object"],
    ["exampleTrustPolicy", [{}], "conditionTags must be an array of { key, value } (strings)"],
    ["exampleTrustPolicy", [{ conditionTags: [], trustAnchorArn: 5 }], "trustAnchorArn must be a string"],
    ["defaultConditionTags", [undefined], "tags must be an array of { key, value } (strings)"],
    ["defaultConditionTags", [[null]], "tags must be an array of { key, value } (strings)"],
    ["renderPrincipalTags", [null, {}], "report must be an object"],
    ["renderPrincipalTags", [{}, {}], "report.tags must be an array of { key, value } (strings)"],
    ["renderPrincipalTags", [{ ...report, sourceIdentity: {} }, {}], "report.sourceIdentity.rule must be a string"],
    ["renderPrincipalTags", [{ ...report, dropped: [null] }, {}], "report.dropped must be an array of { key"],
    ["renderPrincipalTags", [report, "policy"], "trustPolicy must be an object"],
  ] as const)("%s(%j): USAGE", (name, args, text) => {
    const f = principalTags[name] as (...a: unknown[]) => unknown;
    const message = expect.stringContaining(`${name}: ${text}`);
    expect(() => f(...args)).toThrow(expect.objectContaining({ code: "USAGE", message }));
  });
});
