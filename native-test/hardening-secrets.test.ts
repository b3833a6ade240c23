/**
 * Secret hygiene of the shipped CLI (dist/cli.js) as real processes: with --debug and through error paths,
 * known distinctive secrets — the PKCS#8 password (right and wrong), the PKCS#11 user PIN (right and wrong,
 * from a file, an environment variable and the URI's pin-value) and every secret access key and session
 * token the local endpoint issued — must not appear on stderr, nor on stdout except in credential-process's
 * (and nothing else's) own JSON. `update --once` writes its file 0600.
 */
import { execFileSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../test/helpers/pki.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";
import { createSoftHsmFixture, SOFTHSM_MODULE, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

const ACCOUNT = "111122223333";
const ARNS = [
  "--trust-anchor-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:trust-anchor/ta`,
  "--profile-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:profile/p`,
  "--role-arn", `arn:aws:iam::${ACCOUNT}:role/device`,
];
// Distinctive values: long enough that finding one in the output cannot be a coincidence.
const PASSWORD = "Pw-hygiene-7f3c9e21";
const WRONG_PASSWORD = "Pw-wrong-0d5b8a64";
const PIN = "Pin-hygiene-5e1d77c0";
const WRONG_PIN = "Pin-wrong-a9c2e413";

interface Run { args: string[]; code: number; stdout: string; stderr: string; ownCredentials: boolean }
const runs: Run[] = [];

const { dir, cleanup } = makeTempDir("raa-secrets-");
let endpoint: LocalEndpoint;
let hsm: SoftHsmFixture;
let certPath: string;
let encryptedKey: string;
const baseEnv = (): NodeJS.ProcessEnv => ({
  ...process.env, CI: "true", NODE_EXTRA_CA_CERTS: "", AWS_CA_BUNDLE: "", XDG_RUNTIME_DIR: "/nonexistent", SOFTHSM2_CONF: hsm.conf,
  AWS_SHARED_CREDENTIALS_FILE: join(dir, "aws", "credentials"),
});

async function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const { code, stdout, stderr } = await runCli(DIST_CLI, args, { ...baseEnv(), ...extraEnv }, 60_000);
  const r: Run = { args, code, stdout, stderr, ownCredentials: code === 0 && args[0] === "credential-process" };
  runs.push(r);
  return r;
}

beforeAll(async () => {
  const ca = createCa(dir, { name: "Hygiene CA" });
  const leaf = issueLeaf(ca, dir, { name: "leaf", keyType: "p256" });
  certPath = leaf.certPath;
  encryptedKey = join(dir, "leaf-enc.pem");
  openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v2", "aes-256-cbc", "-passout", `pass:${PASSWORD}`, "-out", encryptedKey]);
  writeFileSync(join(dir, "password"), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "wrong-password"), `${WRONG_PASSWORD}\n`, { mode: 0o600 });

  hsm = createSoftHsmFixture("raa-secrets-hsm-");
  // Give the token a distinctive user PIN (the fixture's 1234 is too short to search for).
  execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", hsm.token, "--login", "--pin", hsm.pin, "--change-pin", "--new-pin", PIN], {
    env: { ...process.env, SOFTHSM2_CONF: hsm.conf }, stdio: "pipe",
  });
  writeFileSync(join(dir, "pin"), `${PIN}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "wrong-pin"), `${WRONG_PIN}\n`, { mode: 0o600 });

  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath, hsm.file("ca.pem")], port: 0, region: "us-east-1" });
});

afterAll(async () => {
  await endpoint?.close();
  hsm?.cleanup();
  cleanup();
});

const lib = ["--pkcs11-lib", SOFTHSM_MODULE];
const onToken = "pkcs11:token=rolesanywhere;object=ec-key";

describe("secrets never reach stdout/stderr", () => {
  it("file key: credential-process, sign-string, read-certificate-data and update --once with --debug", async () => {
    const key = ["--certificate", certPath, "--private-key", encryptedKey];
    const ok1 = await cli(["credential-process", ...key, "--pkcs8-password-file", join(dir, "password"), ...ARNS, "--endpoint", endpoint.url, "--debug"]);
    expect(ok1.code, ok1.stderr).toBe(0);
    expect(JSON.parse(ok1.stdout)["SecretAccessKey"]).toBe(endpoint.issued.at(-1)!.credentials.secretAccessKey);
    expect(ok1.stderr).toMatch(/canonical|string to sign|CreateSession/i); // --debug did log something
    const ok2 = await cli(["sign-string", "--private-key", encryptedKey, "--pkcs8-password-env", "RAA_HYGIENE_PW", "--debug"], { RAA_HYGIENE_PW: PASSWORD });
    expect(ok2.code, ok2.stderr).toBe(0);
    const ok3 = await cli(["read-certificate-data", "--certificate", certPath, "--debug"]);
    expect(ok3.code, ok3.stderr).toBe(0);
    const up = await cli(["update", "--once", ...key, "--pkcs8-password-file", join(dir, "password"), ...ARNS, "--endpoint", endpoint.url, "--debug", "--profile", "hygiene"]);
    expect(up.code, up.stderr).toBe(0);
    expect(statSync(join(dir, "aws", "credentials")).mode & 0o777).toBe(0o600);
  });

  it("file key: wrong password (file and command line), with --debug", async () => {
    const key = ["--certificate", certPath, "--private-key", encryptedKey];
    const bad1 = await cli(["credential-process", ...key, "--pkcs8-password-file", join(dir, "wrong-password"), ...ARNS, "--endpoint", endpoint.url, "--debug"]);
    expect(bad1.code).toBe(4);
    const bad2 = await cli(["sign-string", "--private-key", encryptedKey, "--pkcs8-password", WRONG_PASSWORD, "--debug"]);
    expect(bad2.code).toBe(4);
  });

  it("PKCS#11: right PIN from a file, an environment variable and the URI's pin-value, with --debug", async () => {
    const a = await cli(["credential-process", "--certificate", onToken, ...lib, "--pkcs11-pin-file", join(dir, "pin"), ...ARNS, "--endpoint", endpoint.url, "--debug"]);
    expect(a.code, a.stderr).toBe(0);
    const b = await cli(["sign-string", "--private-key", onToken, ...lib, "--pkcs11-pin-env", "RAA_HYGIENE_PIN", "--debug"], { RAA_HYGIENE_PIN: PIN });
    expect(b.code, b.stderr).toBe(0);
    const c = await cli(["credential-process", "--certificate", `${onToken}?pin-value=${PIN}`, ...lib, ...ARNS, "--endpoint", endpoint.url, "--debug"]);
    expect(c.code, c.stderr).toBe(0);
    const d = await cli(["read-certificate-data", "--certificate", `pkcs11:token=rolesanywhere?pin-value=${PIN}`, ...lib, "--debug"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain("pkcs11:");
  });

  it("PKCS#11: wrong PIN (file and URI), with --debug", async () => {
    const a = await cli(["credential-process", "--certificate", onToken, ...lib, "--pkcs11-pin-file", join(dir, "wrong-pin"), ...ARNS, "--endpoint", endpoint.url, "--debug"]);
    expect(a.code).toBe(4);
    const b = await cli(["sign-string", "--private-key", `${onToken}?pin-value=${WRONG_PIN}`, ...lib, "--debug"]);
    expect(b.code).toBe(4);
  });

  it("no run printed a password, a PIN, or an issued secret key / session token outside credential-process's JSON", () => {
    expect(runs.length).toBe(12);
    expect(endpoint.issued.length).toBeGreaterThanOrEqual(4);
    const secrets = [PASSWORD, WRONG_PASSWORD, PIN, WRONG_PIN, ...endpoint.issued.flatMap((s) => [s.credentials.secretAccessKey, s.credentials.sessionToken])];
    for (const r of runs) {
      for (const secret of secrets) {
        const where = `${r.args.slice(0, 1).join(" ")} ${r.args.filter((a) => a.startsWith("pkcs11:") || a.startsWith("--pkcs")).join(" ")}`;
        expect(r.stderr.includes(secret), `stderr of ${where} holds a secret`).toBe(false);
        const credentialValue = r.ownCredentials && endpoint.issued.some((s) => s.credentials.secretAccessKey === secret || s.credentials.sessionToken === secret);
        if (!credentialValue) expect(r.stdout.includes(secret), `stdout of ${where} holds a secret`).toBe(false);
      }
      // Base64/hex forms of the PIN and password either (e.g. a dumped PKCS#11 template or buffer).
      for (const s of [PASSWORD, PIN]) {
        for (const enc of [Buffer.from(s).toString("hex"), Buffer.from(s).toString("base64")]) {
          expect(r.stderr.includes(enc) || r.stdout.includes(enc), `encoded secret in the output of ${r.args[0]}`).toBe(false);
        }
      }
    }
  });
});
