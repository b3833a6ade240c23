/**
 * End to end with TPM keys made by other people's tools: the bundled CLI's `credential-process` against the
 * verifying local endpoint for each key kind, `sign-string` without a certificate, and the AWS CLI v2 using
 * the CLI as its credential_process. Every CLI run is its own process, so swtpm (one client at a time) is
 * free between runs, and the run must leave nothing loaded on the TPM.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { EXIT_CODES } from "../src/cli/exit-codes.js";
import { startLocalEndpoint } from "../src/local-endpoint/server.js";
import { fixedTestString } from "../src/signers/fixed-string.js";
import { createCa, issueLeaf } from "../test/helpers/pki.js";
import { ARNS } from "../test/local-endpoint/support.js";
import { bundleCli } from "./agent-support.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { genpkey, opensslVerifies, persistentKey, persistSrk, sessionHandles, transientHandles, type GenpkeyOptions } from "./helpers/tpm-keys.js";

const run = promisify(execFile);
const SRK = 0x81000001;

let tpm: Swtpm;
let cli: { cli: string; cleanup: () => void };
let endpoint: { url: string; close(): Promise<void> | void };
let ca: ReturnType<typeof createCa>;

interface Fixture {
  keyArg: string;
  certPath: string;
  publicKeyPath: string;
  passwordArgs: string[];
}
const fixtures: Record<string, Fixture> = {};

const env = () => {
  const e: NodeJS.ProcessEnv = { ...process.env, TPM_KEY_PW: "tpm-Key-pw" };
  delete e["NODE_EXTRA_CA_CERTS"];
  delete e["AWS_ENDPOINT_URL_ROLESANYWHERE"];
  return e;
};

function agent(args: string[]) {
  return run(process.execPath, [cli.cli, ...args], { env: env(), timeout: 60_000 });
}

beforeAll(async () => {
  tpm = await startSwtpm();
  cli = await bundleCli();
  ca = createCa(join(tpm.dir, "ca"), { name: "TPM E2E CA" });
  await persistSrk(tpm, SRK);
  const fromGenpkey = async (name: string, o: GenpkeyOptions) => {
    const k = await genpkey(tpm, name, o);
    const leaf = issueLeaf(ca, join(tpm.dir, "certs"), { name, publicKeyPath: k.publicKeyPath });
    fixtures[name] = { keyArg: k.keyPath, certPath: leaf.certPath, publicKeyPath: k.publicKeyPath, passwordArgs: o.userAuth ? ["--tpm-key-password-env", "TPM_KEY_PW"] : [] };
  };
  await fromGenpkey("ec-p256", { algorithm: "EC", curve: "P-256" });
  await fromGenpkey("ec-p384", { algorithm: "EC", curve: "P-384" });
  await fromGenpkey("rsa-2048", { algorithm: "RSA", bits: 2048 });
  await fromGenpkey("ec-p256-user-auth", { algorithm: "EC", curve: "P-256", userAuth: "tpm-Key-pw" });
  await fromGenpkey("rsa-user-auth", { algorithm: "RSA", bits: 2048, userAuth: "tpm-Key-pw" });
  await fromGenpkey("ec-persistent-parent", { algorithm: "EC", curve: "P-256", parent: SRK });
  await fromGenpkey("rsa-persistent-parent-user-auth", { algorithm: "RSA", bits: 2048, parent: SRK, userAuth: "tpm-Key-pw" });
  const fromTools = async (name: string, handle: number, alg: string, password?: string) => {
    const { publicKeyPath } = await persistentKey(tpm, name, handle, { alg, attributes: "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", parent: SRK, ...(password ? { password } : {}) });
    const leaf = issueLeaf(ca, join(tpm.dir, "certs"), { name, publicKeyPath });
    fixtures[name] = { keyArg: `handle:0x${handle.toString(16)}`, certPath: leaf.certPath, publicKeyPath, passwordArgs: password ? ["--tpm-key-password-env", "TPM_KEY_PW"] : ["--no-tpm-key-password"] };
  };
  await fromTools("persistent-ecc", 0x81000101, "ecc256");
  await fromTools("persistent-rsa-password", 0x81000102, "rsa2048", "tpm-Key-pw");
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
}, 120_000);

afterAll(async () => {
  await endpoint?.close();
  cli?.cleanup();
  await tpm?.stop();
});

const sessionArgs = () => [
  "--trust-anchor-arn", ARNS.trustAnchorArn,
  "--profile-arn", ARNS.profileArn,
  "--role-arn", ARNS.roleArn,
  "--endpoint", endpoint.url,
];

describe("credential-process with TPM keys against the local endpoint", () => {
  for (const name of [
    "ec-p256",
    "ec-p384",
    "rsa-2048",
    "ec-p256-user-auth",
    "rsa-user-auth",
    "ec-persistent-parent",
    "rsa-persistent-parent-user-auth",
    "persistent-ecc",
    "persistent-rsa-password",
  ]) {
    it(`${name}: credentials issued, nothing left loaded on the TPM`, async () => {
      const f = fixtures[name]!;
      const { stdout } = await agent(["credential-process", "--certificate", f.certPath, "--private-key", f.keyArg, "--tpm-device", tpm.device, ...f.passwordArgs, ...sessionArgs()]);
      const out = JSON.parse(stdout);
      expect(out.Version).toBe(1);
      expect(out.AccessKeyId).toMatch(/^ASIA/);
      expect(out.SecretAccessKey).toBeTruthy();
      expect(out.SessionToken).toBeTruthy();
      expect(await transientHandles(tpm)).toEqual([]);
      expect(await sessionHandles(tpm)).toEqual([]);
    });
  }

  it("a wrong TPM key password: exit code of an auth failure, one line on stderr, no credentials", async () => {
    const f = fixtures["ec-p256-user-auth"]!;
    const err = (await agent(["credential-process", "--certificate", f.certPath, "--private-key", f.keyArg, "--tpm-device", tpm.device, "--tpm-key-password", "nope", ...sessionArgs()]).catch(
      (e: unknown) => e,
    )) as { code: number; stdout: string; stderr: string };
    expect(err.code).toBe(EXIT_CODES.auth);
    expect(err.stdout).toBe("");
    expect(err.stderr.trim().split("\n")).toHaveLength(1);
    expect(err.stderr).toMatch(/wrong TPM key password/);
    expect(err.stderr).not.toContain("nope");
  });
});

describe("sign-string with TPM keys and no certificate", () => {
  for (const [name, digest] of [
    ["ec-p256", "SHA256"],
    ["rsa-user-auth", "SHA512"],
    ["persistent-ecc", "SHA384"],
  ] as const) {
    it(`${name} (${digest}): the signature over the fixed test string verifies with openssl`, async () => {
      const f = fixtures[name]!;
      const { stdout } = await agent(["sign-string", "--private-key", f.keyArg, "--tpm-device", tpm.device, ...f.passwordArgs, "--digest", digest, "--format", "text"]);
      const message = fixedTestString(createPublicKey(readFileSync(f.publicKeyPath)));
      expect(await opensslVerifies(tpm, f.publicKeyPath, message, Buffer.from(stdout.trim(), "hex"), digest.toLowerCase() as "sha256")).toBe(true);
    });
  }
});

describe("the AWS CLI v2 with credential_process", () => {
  it("aws sts get-caller-identity gets credentials from a TPM key through our CLI", async () => {
    const f = fixtures["ec-p256-user-auth"]!;
    const awsDir = join(tpm.dir, "aws");
    mkdirSync(awsDir, { recursive: true });
    const command = [process.execPath, cli.cli, "credential-process", "--certificate", f.certPath, "--private-key", f.keyArg, "--tpm-device", tpm.device, ...f.passwordArgs, ...sessionArgs()].join(" ");
    writeFileSync(join(awsDir, "config"), `[default]\nregion = us-east-1\ncredential_process = ${command}\n`);
    const { stdout } = await run("/usr/bin/aws", ["sts", "get-caller-identity", "--endpoint-url", endpoint.url, "--output", "json"], {
      env: {
        PATH: process.env["PATH"],
        HOME: awsDir,
        AWS_CONFIG_FILE: join(awsDir, "config"),
        AWS_SHARED_CREDENTIALS_FILE: join(awsDir, "credentials"),
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_PAGER: "",
        TPM_KEY_PW: "tpm-Key-pw",
      },
      timeout: 60_000,
    });
    expect(JSON.parse(stdout).Arn).toMatch(/^arn:aws:sts::111122223333:assumed-role\/TestRole\//);
  });
});
