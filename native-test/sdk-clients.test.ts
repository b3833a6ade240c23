/**
 * Real AWS clients end to end against the verifying local endpoint, each asserting the caller identity STS
 * GetCallerIdentity returns for the credentials it was given (so they were issued, used and verified):
 * - the AWS CLI v2 (/usr/bin/aws) with a `credential_process` line running the shipped dist/cli.js, for a
 *   file key, a SoftHSM key and a TPM key (swtpm, tpm2-openssl key file);
 * - @aws-sdk/client-sts with `fromProcess` (same kind of line) and with our `fromRolesAnywhere`;
 * - examples/sdk-sts.mjs, importing the package by name.
 * `serve` with fromInstanceMetadata/fromContainerMetadata is covered by native-test/serve.test.ts.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { GetCallerIdentityCommand, STSClient, type STSClientConfig } from "@aws-sdk/client-sts";
import { fromProcess } from "@aws-sdk/credential-providers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { fromRolesAnywhere, type RolesAnywhereProviderOptions } from "../src/sdk/index.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { ARNS } from "../test/local-endpoint/support.js";
import { runSdkStsExample } from "./helpers/sdk-example.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { genpkey, sessionHandles, transientHandles } from "./helpers/tpm-keys.js";

const run = promisify(execFile);
const AWS = "/usr/bin/aws";
const REPO = resolve(import.meta.dirname, "..");
const CLI = join(REPO, "dist", "cli.js");
const IDENTITY_PREFIX = "arn:aws:sts::111122223333:assumed-role/TestRole/";

const { dir, cleanup } = makeTempDir("raa-native-sdk-clients-");
const home = join(dir, "home");
const awsConfig = join(home, ".aws", "config");
const awsCredentials = join(home, ".aws", "credentials");
/** The variables this file changes in its own process, for the in-process SDK; restored afterwards. */
const isolated: Record<string, string | undefined> = {
  HOME: home,
  AWS_CONFIG_FILE: awsConfig,
  AWS_SHARED_CREDENTIALS_FILE: awsCredentials,
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_PROFILE: undefined,
  AWS_REGION: undefined,
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_ENDPOINT_URL: undefined,
  AWS_ENDPOINT_URL_STS: undefined,
  AWS_ENDPOINT_URL_ROLESANYWHERE: undefined,
  AWS_CA_BUNDLE: undefined,
};
const saved = Object.fromEntries(Object.keys(isolated).map((k) => [k, process.env[k]]));

let hsm: SoftHsmFixture;
let tpm: Swtpm;
let endpoint: LocalEndpoint;
/** Per key kind: the credential-process flags and the same key as fromRolesAnywhere options. */
const keys: Record<"file" | "softhsm" | "tpm", { flags: string[]; options: Partial<RolesAnywhereProviderOptions> }> = {} as never;

const quote = (arg: string) => `'${arg.replace(/'/g, "'\\''")}'`;

/** A `credential_process` line that both the AWS CLI (shlex) and the JS SDK (a shell) split the same way. */
function credentialProcess(kind: keyof typeof keys, sessionName: string, env: Record<string, string> = {}): string {
  const args = [
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    process.execPath, CLI, "credential-process", "--no-agent",
    ...keys[kind].flags,
    "--trust-anchor-arn", ARNS.trustAnchorArn, "--profile-arn", ARNS.profileArn, "--role-arn", ARNS.roleArn,
    "--role-session-name", sessionName, "--endpoint", endpoint.url,
  ];
  return (Object.keys(env).length > 0 ? ["env", ...args] : args).map(quote).join(" ");
}

function writeAwsConfig(profiles: Record<string, string>): void {
  const text = Object.entries(profiles).map(([name, command]) => `[profile ${name}]\nregion = us-east-1\ncredential_process = ${command}\n`);
  writeFileSync(awsConfig, text.join("\n"));
}

/** The environment of one AWS CLI run: nothing inherited but PATH. */
function awsEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env["PATH"],
    HOME: home,
    AWS_CONFIG_FILE: awsConfig,
    AWS_SHARED_CREDENTIALS_FILE: awsCredentials,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_PAGER: "",
    ...extra,
  };
}

async function callerIdentityWith(credentials: STSClientConfig["credentials"]): Promise<string> {
  const sts = new STSClient({ region: "us-east-1", endpoint: endpoint.url, credentials, maxAttempts: 1 });
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn!;
  } finally {
    sts.destroy();
  }
}

const issuedFor = (sessionName: string) => endpoint.issued.filter((s) => s.roleSessionName === sessionName);

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  mkdirSync(join(home, ".aws"), { recursive: true });
  writeFileSync(awsCredentials, "");
  for (const [k, v] of Object.entries(isolated)) v === undefined ? delete process.env[k] : (process.env[k] = v);

  const fileCa = createCa(join(dir, "file-ca"), { name: "SDK Clients File CA" });
  const fileLeaf = issueLeaf(fileCa, join(dir, "file-leaf"), { name: "sdk-file-device", keyType: "rsa2048" });
  keys.file = {
    flags: ["--certificate", fileLeaf.certPath, "--private-key", fileLeaf.keyPath],
    options: { certificate: fileLeaf.certPath, privateKey: fileLeaf.keyPath },
  };

  hsm = createSoftHsmFixture("raa-native-sdk-clients-hsm-");
  process.env["SOFTHSM2_CONF"] = hsm.conf;
  const uri = `pkcs11:token=${hsm.token};object=ec-key`;
  const pinFile = hsm.pinFile();
  keys.softhsm = {
    flags: ["--certificate", uri, "--pkcs11-lib", hsm.module, "--pkcs11-pin-file", pinFile],
    options: { certificate: uri, pkcs11: { library: hsm.module, pin: { kind: "file", path: pinFile } } },
  };

  tpm = await startSwtpm();
  const tpmCa = createCa(join(tpm.dir, "ca"), { name: "SDK Clients TPM CA" });
  const tpmKey = await genpkey(tpm, "sdk-tpm-ec", { algorithm: "EC", curve: "P-256", userAuth: "tpm-Key-pw" });
  const tpmLeaf = issueLeaf(tpmCa, join(tpm.dir, "certs"), { name: "sdk-tpm-device", publicKeyPath: tpmKey.publicKeyPath });
  const tpmPassword = join(tpm.dir, "key-password.txt");
  writeFileSync(tpmPassword, "tpm-Key-pw\n", { mode: 0o600 });
  keys.tpm = {
    flags: ["--certificate", tpmLeaf.certPath, "--private-key", tpmKey.keyPath, "--tpm-device", tpm.device, "--tpm-key-password-file", tpmPassword],
    options: { certificate: tpmLeaf.certPath, privateKey: tpmKey.keyPath, tpm: { device: tpm.device, keyPassword: { kind: "file", path: tpmPassword } } },
  };

  endpoint = await startLocalEndpoint({ trustAnchors: [fileCa.certPath, hsm.file("ca.pem"), tpmCa.certPath], port: 0, region: "us-east-1" });
}, 180_000);

afterAll(async () => {
  await endpoint?.close();
  await tpm?.stop();
  hsm?.cleanup();
  for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  delete process.env["SOFTHSM2_CONF"];
  cleanup();
});

describe("the AWS CLI v2 with credential_process = node dist/cli.js credential-process …", () => {
  for (const kind of ["file", "softhsm", "tpm"] as const) {
    it(`${kind} key: aws sts get-caller-identity returns the role session the CLI obtained`, async () => {
      const session = `awscli-${kind}`;
      writeAwsConfig({ [kind]: credentialProcess(kind, session) });
      const { stdout } = await run(AWS, ["sts", "get-caller-identity", "--profile", kind, "--endpoint-url", endpoint.url, "--output", "json"], {
        env: awsEnv(kind === "softhsm" ? { SOFTHSM2_CONF: hsm.conf } : {}),
        timeout: 90_000,
      });
      const identity = JSON.parse(stdout);
      expect(identity.Arn).toBe(`${IDENTITY_PREFIX}${session}`);
      expect(identity.Account).toBe("111122223333");
      expect(issuedFor(session)).toHaveLength(1);
      if (kind === "tpm") expect(await transientHandles(tpm)).toEqual([]);
    });
  }
});

describe("@aws-sdk/client-sts", () => {
  it("fromProcess runs the credential_process line (SoftHSM key) and STS accepts what it printed", async () => {
    writeAwsConfig({ "sdk-process": credentialProcess("softhsm", "sdk-process", { SOFTHSM2_CONF: hsm.conf }) });
    const credentials = fromProcess({ profile: "sdk-process", configFilepath: awsConfig, filepath: awsCredentials });
    const resolved = await credentials();
    expect(resolved.expiration).toEqual(issuedFor("sdk-process")[0]!.credentials.expiration);
    expect(await callerIdentityWith(credentials)).toBe(`${IDENTITY_PREFIX}sdk-process`);
  });

  for (const kind of ["file", "softhsm", "tpm"] as const) {
    it(`fromRolesAnywhere, ${kind} key: two clients share one CreateSession; close() releases the key`, async () => {
      const session = `sdk-${kind}`;
      const credentials = fromRolesAnywhere({ ...keys[kind].options, ...ARNS, roleSessionName: session, endpoint: endpoint.url });
      try {
        expect(await callerIdentityWith(credentials)).toBe(`${IDENTITY_PREFIX}${session}`);
        expect(await callerIdentityWith(credentials)).toBe(`${IDENTITY_PREFIX}${session}`);
        expect(issuedFor(session)).toHaveLength(1);
      } finally {
        await credentials.close();
      }
      if (kind === "tpm") {
        // swtpm serves one connection at a time: these tool calls only get through once the signer let go.
        expect(await transientHandles(tpm)).toEqual([]);
        expect(await sessionHandles(tpm)).toEqual([]);
      }
    });
  }
});

describe("examples/sdk-sts.mjs", () => {
  it("prints the caller identity, importing roles-anywhere-agent by name", async () => {
    const stdout = await runSdkStsExample({ packageDir: REPO, appDir: join(dir, "example-app"), hsm, endpointUrl: endpoint.url, arns: ARNS, baseEnv: awsEnv() });
    // No role session name given: the endpoint names the session after the certificate's serial, as the service does.
    expect(stdout).toBe(`${IDENTITY_PREFIX}${hsm.certificate("ec-key.pem").serialHex.toLowerCase()}`);
  });
});
