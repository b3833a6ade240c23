/**
 * Round 30: certificates of the shapes the reader newly reads (Go's parser reads them; test/x509/go-parser-fuzz.f9.test.ts)
 * through the shipped CLI: credential-process against the verifying local endpoint (as the leaf and in the chain) and
 * read-certificate-data. The answer a user should get: credentials or the certificate's data, never an internal error.
 */
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derSequence, derTlv } from "../src/encoding/der-writer.js";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { atv, caExtensions, cn, int, issue, leafKeyUsage, newlyRead, pem } from "../test/helpers/go-form.js";
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

const root = generateKeyPairSync("ec", { namedCurve: "P-256" });
const issuing = generateKeyPairSync("ec", { namedCurve: "P-256" });
const leaf = generateKeyPairSync("ec", { namedCurve: "P-256" });
const odd = derSequence(atv("2.5.4.45", derTlv(0x03, Buffer.from([0x00, 0xab]))), atv("1.2.3.4", derSequence(int(1))), atv("2.5.4.3", derTlv(0x0c, Buffer.from("shapes-cli"))));

let endpoint: LocalEndpoint;
beforeAll(async () => {
  writeFileSync(join(dir, "root.pem"), pem(issue(cn("Shapes CLI Root"), cn("Shapes CLI Root"), root.publicKey, root.privateKey, caExtensions)));
  writeFileSync(join(dir, "leaf.key"), leaf.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  const middle = issue(cn("Shapes CLI Root"), odd, issuing.publicKey, root.privateKey, [...caExtensions, ...newlyRead]);
  const leafDer = issue(odd, cn("shapes-cli-leaf"), leaf.publicKey, issuing.privateKey, [leafKeyUsage, ...newlyRead]);
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
