/**
 * `credential-process` (and `sign-string`, `read-certificate-data`) with keys on a real SoftHSM token,
 * run as processes against the verifying local CreateSession endpoint, which trusts the token's test CA
 * and checks every signature and chain. Covers the "Done when" list end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { verify } from "node:crypto";
import { promisify } from "node:util";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { fixedTestString } from "../src/signers/fixed-string.js";
import { bundleCli } from "./agent-support.js";
import { createSoftHsmFixture, type SoftHsmFixture, WRONG_PIN } from "./helpers/softhsm-fixture.js";

const execFileAsync = promisify(execFile);
const ACCOUNT = "111122223333";
const ARNS = [
  "--trust-anchor-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:trust-anchor/pkcs11-test`,
  "--profile-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:profile/pkcs11-test`,
  "--role-arn", `arn:aws:iam::${ACCOUNT}:role/pkcs11-test`,
];

let hsm: SoftHsmFixture;
let endpoint: LocalEndpoint;
let cli: { cli: string; cleanup: () => void };
let pinFile: string;

beforeAll(async () => {
  hsm = createSoftHsmFixture("raa-pkcs11-cp-");
  pinFile = hsm.pinFile();
  endpoint = await startLocalEndpoint({ trustAnchors: [hsm.file("ca.pem")], port: 0, region: "us-east-1" });
  cli = await bundleCli();
});

afterAll(async () => {
  await endpoint?.close();
  cli?.cleanup();
  hsm?.cleanup();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [cli.cli, ...args], {
      env: { ...process.env, SOFTHSM2_CONF: hsm.conf, ...env },
      encoding: "utf8",
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const lib = ["--pkcs11-lib", "/usr/lib/softhsm/libsofthsm2.so"];
const pin = () => ["--pkcs11-pin-file", pinFile];

async function credentialProcess(signerArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return run(["credential-process", ...signerArgs, ...ARNS, "--endpoint", endpoint.url], env);
}

async function expectCredentials(signerArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  const before = endpoint.issued.length;
  const result = await credentialProcess(signerArgs, env);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const credentials = JSON.parse(result.stdout) as Record<string, unknown>;
  expect(credentials["Version"]).toBe(1);
  expect(credentials["AccessKeyId"]).toMatch(/^ASIA/);
  expect(endpoint.issued.length).toBe(before + 1);
}

const onToken = (object: string) => `pkcs11:token=rolesanywhere;object=${object}`;

describe("credential-process with a key on the token", () => {
  it.each(["rsa-key", "ec-key", "ec384-key", "ec521-key"])("%s, certificate on the token", async (name) => {
    await expectCredentials(["--certificate", onToken(name), ...lib, ...pin()]);
  });

  it("ec384-key's chain (its intermediate CA) comes from the token and the endpoint accepts it", async () => {
    await expectCredentials(["--certificate", onToken("ec384-key"), ...lib, ...pin()]);
    const last = endpoint.requests.at(-1)!;
    expect(last.status).toBe(201);
  });

  it("certificate in a file, key on the token by label", async () => {
    await expectCredentials(["--certificate", hsm.file("ec-key.pem"), "--private-key", onToken("ec-key"), ...lib, ...pin()]);
  });

  it("key by id", async () => {
    await expectCredentials(["--certificate", hsm.file("rsa-key.pem"), "--private-key", "pkcs11:token=rolesanywhere;id=%01", ...lib, ...pin()]);
  });

  it("key by certificate (the key URI names only the token)", async () => {
    await expectCredentials(["--certificate", hsm.file("ec384-key.pem"), "--private-key", "pkcs11:token=rolesanywhere", ...lib, ...pin()]);
  });

  it("module-path in the URI instead of --pkcs11-lib", async () => {
    await expectCredentials(["--certificate", `${onToken("ec-key")}?module-path=/usr/lib/softhsm/libsofthsm2.so`, ...pin()]);
  });
});

describe("PIN sources", () => {
  it("pin-value in the URI", async () => {
    await expectCredentials(["--certificate", `${onToken("ec-key")}?pin-value=1234`, ...lib]);
  });
  it("pin-source in the URI (file: URI)", async () => {
    await expectCredentials(["--certificate", `${onToken("ec-key")}?pin-source=file://${pinFile}`, ...lib]);
  });
  it("--pkcs11-pin-env", async () => {
    await expectCredentials(["--certificate", onToken("ec-key"), ...lib, "--pkcs11-pin-env", "MY_TOKEN_PIN"], { MY_TOKEN_PIN: "1234" });
  });
  it("none, and no terminal: fails with what to pass instead", async () => {
    const result = await credentialProcess(["--certificate", onToken("ec-key"), ...lib]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/no terminal/);
    expect(result.stderr).toMatch(/--pkcs11-pin-file/);
  });
});

describe("CKA_ALWAYS_AUTHENTICATE", () => {
  it("with --reuse-pin", async () => {
    await expectCredentials(["--certificate", onToken("always-auth"), ...lib, ...pin(), "--reuse-pin"]);
  });
  it("with --pkcs11-context-pin-file", async () => {
    await expectCredentials(["--certificate", onToken("always-auth"), ...lib, ...pin(), "--pkcs11-context-pin-file", pinFile]);
  });
  it("without either: a clear error naming --reuse-pin", async () => {
    const result = await credentialProcess(["--certificate", onToken("always-auth"), ...lib, ...pin()]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/--reuse-pin/);
  });
});

describe("two tokens with an ec-key object", () => {
  it("resolved by token label", async () => {
    await expectCredentials(["--certificate", "pkcs11:token=second-token;object=ec-key", ...lib, ...pin()]);
  });
  it("resolved by serial", async () => {
    await expectCredentials(["--certificate", `pkcs11:serial=${hsm.serial2};object=ec-key`, ...lib, ...pin()]);
  });
  it("ambiguous without either: the error lists both candidates' URIs", async () => {
    const result = await credentialProcess(["--certificate", "pkcs11:object=ec-key", ...lib, ...pin()]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`serial=${hsm.serial};token=rolesanywhere;type=cert`);
    expect(result.stderr).toContain(`serial=${hsm.serial2};token=second-token;type=cert`);
  });
});

describe("errors, with their exit codes", () => {
  it("an empty PIN (file, variable, pin-value=, pin-source=): exit 3, one line, never presented to the token", async () => {
    const empty = hsm.file("empty-pin");
    writeFileSync(empty, "", { mode: 0o600 });
    const runs = [
      await credentialProcess(["--certificate", onToken("ec-key"), ...lib, "--pkcs11-pin-file", empty]),
      await credentialProcess(["--certificate", onToken("ec-key"), ...lib, "--pkcs11-pin-env", "EMPTY_PIN"], { EMPTY_PIN: "" }),
      await credentialProcess(["--certificate", `${onToken("ec-key")}?pin-value=`, ...lib]),
      await credentialProcess(["--certificate", `${onToken("ec-key")}?pin-source=${empty}`, ...lib]),
    ];
    const sources = [`file ${empty}`, "environment variable EMPTY_PIN", "pin-value in the URI", `pin-source file ${empty}`];
    runs.forEach((result, i) => {
      expect(result.stderr).toMatch(/^roles-anywhere-agent: [^\n]*\n$/);
      const expected = `the user PIN from ${sources[i]} is empty; it was not presented to token "rolesanywhere"`;
      expect(result.stderr).toContain(expected);
      expect(result.code).toBe(3);
    });
    // SoftHSM sets CKF_USER_PIN_COUNT_LOW on a failed C_Login: four empty PINs cost no try.
    const env = { ...process.env, SOFTHSM2_CONF: hsm.conf };
    const listing = execFileSync("pkcs11-tool", ["--module", hsm.module, "-L"], { env, encoding: "utf8" });
    expect(listing).toMatch(/token label\s*:\s*rolesanywhere/);
    expect(listing).not.toMatch(/user PIN count low/);
  });
  it("wrong PIN: exit 4 (auth), the token's counter flag is reported", async () => {
    const result = await credentialProcess(["--certificate", onToken("ec-key"), ...lib, "--pkcs11-pin-file", hsm.pinFile(WRONG_PIN)]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/rejected the PIN/);
    expect(result.stderr).toMatch(/CKF_USER_PIN_COUNT_LOW/);
    expect(result.stderr).not.toContain(WRONG_PIN);
    await expectCredentials(["--certificate", onToken("ec-key"), ...lib, ...pin()]); // clears the flag again
  });
  it("missing module: exit 5 (device), the installed modules are listed", async () => {
    const result = await credentialProcess(["--certificate", onToken("ec-key"), "--pkcs11-lib", "/nope/libmissing.so", ...pin()]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain("libsofthsm2.so");
  });
  it("key without CKA_SIGN: exit 5, PKCS11_KEY_CANNOT_SIGN", async () => {
    const result = await credentialProcess(["--certificate", onToken("no-sign"), ...lib, ...pin()]);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/CKA_SIGN=false/);
  });
});

describe("diagnostics", () => {
  it("sign-string signs the Go helper's fixed string with a token key (no certificate)", async () => {
    const result = await run(["sign-string", "--private-key", onToken("no-cert"), ...lib, ...pin(), "--format", "text", "--digest", "SHA384"]);
    expect(result.code).toBe(0);
    const { createPkcs11Signer } = await import("../src/signers/pkcs11/index.js");
    process.env["SOFTHSM2_CONF"] = hsm.conf;
    const signer = await createPkcs11Signer({ keyUri: onToken("no-cert"), library: "/usr/lib/softhsm/libsofthsm2.so", pin: { kind: "file", path: pinFile } });
    const key = (await signer.publicKey())!;
    await signer.close();
    expect(verify("sha384", fixedTestString(key), key, Buffer.from(result.stdout, "hex"))).toBe(true);
  });

  it("read-certificate-data lists matches in the Go helper's layout with full URIs", async () => {
    const result = await run(["read-certificate-data", "--certificate", "pkcs11:object=ec-key", ...lib]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Matching identities\n1\) Hex Fingerprint: [0-9a-f]{40}\nSubject: CN=ec-key/);
    expect(result.stdout).toContain(`URI: pkcs11:id=%02;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=ec-key;serial=${hsm.serial};token=rolesanywhere;type=cert\n`);
    expect(result.stdout).toContain(`token=second-token;type=cert\n`);
  });
});
