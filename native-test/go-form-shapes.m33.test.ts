/**
 * Round 30: certificates of the shapes the reader newly reads (Go's parser reads them; test/x509/go-parser-fuzz.f9.test.ts)
 * through the shipped CLI: credential-process against the verifying local endpoint (as the leaf and in the chain) and
 * read-certificate-data. The answer a user should get: credentials or the certificate's data, never an internal error.
 */
import { createSign, generateKeyPairSync, type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derBitString, derOid, derSequence, derTlv } from "../src/encoding/der-writer.js";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { makeTempDir } from "../test/helpers/pki.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const ARNS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
  "--role-arn", "arn:aws:iam::111122223333:role/device",
];
const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", NODE_EXTRA_CA_CERTS: "", AWS_CA_BUNDLE: "", XDG_RUNTIME_DIR: "/nonexistent" };
const cli = (args: string[]) => runCli(DIST_CLI, args, env, 60_000);
const { dir, cleanup } = makeTempDir("raa-go-form-shapes-cli-");

const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
const atv = (oid: string, value: Buffer) => derTlv(0x31, derSequence(derOid(oid), value));
const cn = (s: string) => derSequence(atv("2.5.4.3", derTlv(0x0c, Buffer.from(s))));
const int = (...bytes: number[]) => derTlv(0x02, Buffer.from(bytes));
const berTlv = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag, 0x81, content.length]), content]);
const ext = (oid: string, value: Buffer, critical = false) => derSequence(derOid(oid), ...(critical ? [derTlv(0x01, Buffer.from([0xff]))] : []), derTlv(0x04, value));
const tail = (value: Buffer) => Buffer.concat([value, Buffer.from([0x05, 0x00])]);
const utc = (d: Date) => derTlv(0x17, Buffer.from(d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*/, "$1$2$3$4$5$6Z")));
const times = derSequence(utc(new Date(Date.now() - 3600_000)), utc(new Date(Date.now() + 86400_000)));
let serial = 20;
const issue = (issuer: Buffer, subject: Buffer, key: KeyObject, signer: KeyObject, extensions: Buffer[]) => {
  const tbs = derSequence(derTlv(0xa0, int(2)), int(serial++), ecdsaSha256, issuer, times, subject, key.export({ type: "spki", format: "der" }),
    ...(extensions.length ? [derTlv(0xa3, derSequence(...extensions))] : []));
  return derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(signer)));
};
const pem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`;
const caExtensions = [ext("2.5.29.19", derSequence(derTlv(0x01, Buffer.from([0xff])), int(1), berTlv(0x02, Buffer.from([5]))), true),
  ext("2.5.29.15", derTlv(0x03, Buffer.from([0x01, 0x06])), true)];
const root = generateKeyPairSync("ec", { namedCurve: "P-256" });
const issuing = generateKeyPairSync("ec", { namedCurve: "P-256" });
const leaf = generateKeyPairSync("ec", { namedCurve: "P-256" });
const uri = derTlv(0x86, Buffer.from("http://crl.example/ca.crl"));
const newlyRead = [
  ext("2.5.29.14", tail(derTlv(0x04, Buffer.from("0123456789abcdef0123")))),
  ext("1.3.6.1.5.5.7.1.1", tail(derSequence(derSequence(derOid("1.3.6.1.5.5.7.48.1"), derTlv(0x86, Buffer.from("http://ocsp.example/")), int(1))))),
  ext("2.5.29.31", derSequence(derSequence(derTlv(0xa0, derTlv(0xa0, uri)), derTlv(0x81, Buffer.from([0x01, 0x61]))))),
  ext("2.5.29.18", berTlv(0x30, derTlv(0x82, Buffer.from("gw.example")))),
];
const odd = derSequence(atv("2.5.4.45", derTlv(0x03, Buffer.from([0x00, 0xab]))), atv("1.2.3.4", derSequence(int(1))), atv("2.5.4.3", derTlv(0x0c, Buffer.from("shapes-cli"))));

let endpoint: LocalEndpoint;
beforeAll(async () => {
  writeFileSync(join(dir, "root.pem"), pem(issue(cn("Shapes CLI Root"), cn("Shapes CLI Root"), root.publicKey, root.privateKey, caExtensions)));
  writeFileSync(join(dir, "leaf.key"), leaf.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  const middle = issue(cn("Shapes CLI Root"), odd, issuing.publicKey, root.privateKey, [...caExtensions, ...newlyRead]);
  const leafDer = issue(odd, cn("shapes-cli-leaf"), leaf.publicKey, issuing.privateKey, [ext("2.5.29.15", derTlv(0x03, Buffer.from([0x07, 0x80])), true), ...newlyRead]);
  writeFileSync(join(dir, "chain.pem"), pem(leafDer) + pem(middle));
  endpoint = await startLocalEndpoint({ trustAnchors: [join(dir, "root.pem")], port: 0, region: "us-east-1" });
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

describe("the shapes the reader newly reads, through the shipped CLI", () => {
  it("credential-process: credentials for a leaf and an intermediate holding them", async () => {
    const r = await cli(["credential-process", "--certificate", join(dir, "chain.pem"), "--private-key", join(dir, "leaf.key"), ...ARNS, "--endpoint", endpoint.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
  });

  it("read-certificate-data: the certificate's data", async () => {
    const r = await cli(["read-certificate-data", "--certificate", join(dir, "chain.pem")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ keyType: "EC", supportedAlgorithms: ["ECSHA256", "ECSHA384", "ECSHA512"] });
  });
});
