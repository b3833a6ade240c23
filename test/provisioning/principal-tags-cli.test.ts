import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/pki.js";
import { opensslCertificate } from "./helpers/openssl-certificate.js";
import { runCli } from "./helpers/run-cli.js";

const tmp = makeTempDir("raa-ptags-cli-");
afterAll(() => tmp.cleanup());

const certPath = join(tmp.dir, "leaf.der");
writeFileSync(
  certPath,
  opensslCertificate(tmp.dir, "leaf", {
    subject: "/CN=dev-1/OU=Ops/O=Acme, Inc.",
    issuer: "/CN=Device CA",
    subjectAltName: "DNS:dev-1.example.com",
  }),
);

const run = (...argv: string[]) => runCli(argv);

describe("principal-tags command", () => {
  it("prints tags, dropped values and an example policy", async () => {
    const { code, out } = await run("principal-tags", "--certificate", certPath);
    expect(code).toBe(0);
    expect(out).toMatch(/aws:PrincipalTag\/x509Subject\/CN\s+"dev-1"/);
    expect(out).toMatch(/aws:PrincipalTag\/x509SAN\/DNS\s+"dev-1.example.com"/);
    expect(out).toContain('x509Subject/O = "Acme, Inc.": contains ","');
    expect(out).toContain('Source identity (sts:SourceIdentity): "CN=dev-1"');
    const policy = JSON.parse(out.slice(out.indexOf("{")));
    expect(policy.Statement[0].Condition.StringEquals).toEqual({
      "aws:PrincipalTag/x509Subject/CN": "dev-1",
      "aws:PrincipalTag/x509Issuer/CN": "Device CA",
    });
  });

  it("--format json with chosen conditions and trust anchor", async () => {
    const arn = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta";
    const { code, out } = await run(
      "principal-tags", "--certificate", certPath, "--format", "json",
      "--condition", "x509Subject/OU", "--condition", "aws:PrincipalTag/x509SAN/DNS", "--trust-anchor-arn", arn,
    );
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.tags).toContainEqual({ key: "x509Subject/OU", value: "Ops", documented: true });
    expect(report.dropped).toEqual([expect.objectContaining({ key: "x509Subject/O", value: "Acme, Inc." })]);
    expect(report.trustPolicy.Statement[0].Condition).toEqual({
      StringEquals: { "aws:PrincipalTag/x509Subject/OU": "Ops", "aws:PrincipalTag/x509SAN/DNS": "dev-1.example.com" },
      ArnEquals: { "aws:SourceArn": [arn] },
    });
  });

  it("refuses a condition on a dropped or absent tag (usage, exit 2)", async () => {
    const dropped = await run("principal-tags", "--certificate", certPath, "--condition", "x509Subject/O");
    expect(dropped.code).toBe(2);
    expect(dropped.err).toContain("not usable");
    const absent = await run("principal-tags", "--certificate", certPath, "--condition", "x509Subject/L");
    expect(absent.code).toBe(2);
    expect(absent.err).toContain("available: x509Subject/CN, x509Subject/OU");
  });

  it("needs --certificate", async () => {
    expect((await run("principal-tags")).code).toBe(2);
  });

  it("refuses a --trust-anchor-arn that is not one (a profile ARN went into aws:SourceArn, and no session matched)", async () => {
    for (const arn of ["arn:aws:rolesanywhere:eu-west-1:123456789012:profile/p", 'ta"x', "arn:aws:iam::123456789012:role/r"]) {
      const r = await run("principal-tags", "--certificate", certPath, "--trust-anchor-arn", arn);
      expect([r.code, r.out]).toEqual([3, ""]);
      expect(r.err).toMatch(/^roles-anywhere-agent: invalid trust anchor ARN '.*'/);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
  });
});
