/**
 * `--certificate`, `--private-key` and `--intermediates` given as values: `-` (standard input, for one of them)
 * and `env:NAME` (CI systems hold certificates and keys as secrets, not files). The shipped CLI (dist/cli.js) runs
 * credential-process against the verifying local endpoint; no message ever carries the value.
 */
import { execFile, execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { DIST_CLI, type CliRun } from "./helpers/run-cli.js";

const ACCOUNT = "111122223333";
const ARNS = [
  "--trust-anchor-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:trust-anchor/ta`,
  "--profile-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:profile/p`,
  "--role-arn", `arn:aws:iam::${ACCOUNT}:role/device`,
];
const baseEnv: NodeJS.ProcessEnv = { ...process.env, CI: "true", NODE_EXTRA_CA_CERTS: "", AWS_CA_BUNDLE: "", XDG_RUNTIME_DIR: "/nonexistent" };

/** The CLI with `stdin` piped in (or an empty, closed standard input). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}, stdin: string | Buffer = ""): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [DIST_CLI, ...args], { env: { ...baseEnv, ...env }, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    // A CLI that fails before it reads its standard input closes the pipe: EPIPE here is that, not a test error.
    child.stdin!.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
    child.stdin!.end(stdin);
  });
}

function expectCredentials(r: CliRun): void {
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
}

const { dir, cleanup } = makeTempDir("raa-cli-inputs-");
let root: ReturnType<typeof createCa>;
let inter: ReturnType<typeof createCa>;
let leaf: ReturnType<typeof issueLeaf>;
let keyPem: string;
let endpoint: LocalEndpoint;

beforeAll(async () => {
  root = createCa(dir, { name: "Inputs Root CA" });
  inter = createCa(dir, { name: "Inputs Intermediate CA", parent: root });
  leaf = issueLeaf(inter, join(dir, "leaf"), { name: "inputs-leaf", keyType: "p256" });
  keyPem = readFileSync(leaf.keyPath, "utf8");
  endpoint = await startLocalEndpoint({ trustAnchors: root.certPath, port: 0 });
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

const session = () => [...ARNS, "--endpoint", endpoint.url, "--no-agent"];

describe("certificate, key and intermediates as values", () => {
  // scripts/test.sh runs this file again under Node 22 and 24: the CLI processes run on the Node that runs vitest.
  it.runIf(process.env["RAA_TEST_NODE_MAJOR"])("runs under the Node.js version the test command asked for", () => {
    expect(process.versions.node.split(".")[0]).toBe(process.env["RAA_TEST_NODE_MAJOR"]);
  });

  it("takes each of them from an environment variable", async () => {
    const env = { RAA_CERT: leaf.certPem, RAA_KEY: keyPem, RAA_CHAIN: inter.certPem };
    expectCredentials(await cli(["credential-process", "--certificate", "env:RAA_CERT", "--private-key", "env:RAA_KEY", "--intermediates", "env:RAA_CHAIN", ...session()], env));
  });

  it("takes any one of them from standard input, the others from files or variables", async () => {
    const chainFile = join(dir, "chain.pem");
    writeFileSync(chainFile, inter.certPem);
    expectCredentials(await cli(["credential-process", "--certificate", "-", "--private-key", "env:RAA_KEY", "--intermediates", chainFile, ...session()], { RAA_KEY: keyPem }, leaf.certPem));
    expectCredentials(await cli(["credential-process", "--certificate", leaf.certPath, "--private-key", "-", "--intermediates", chainFile, ...session()], {}, keyPem));
    expectCredentials(await cli(["credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, "--intermediates", "-", ...session()], {}, inter.certPem));
  });

  // The file-key bundle hands PKCS#12 (and hardware keys) to the full CLI; standard input must reach that run unread.
  it("reads a PKCS#12 file from standard input", async () => {
    const p12 = join(dir, "leaf.p12");
    execFileSync("openssl", ["pkcs12", "-export", "-in", leaf.certPath, "-inkey", leaf.keyPath, "-certfile", inter.certPath, "-out", p12, "-passout", "pass:inputs"]);
    expectCredentials(await cli(["credential-process", "--certificate", "-", "--pkcs8-password-env", "RAA_P12_PASSWORD", ...session()], { RAA_P12_PASSWORD: "inputs" }, readFileSync(p12)));
  });

  it("reads a combined PEM (key, certificate, chain) once from standard input when --private-key is absent", async () => {
    expectCredentials(await cli(["credential-process", "--certificate", "-", ...session()], {}, `${keyPem}${leaf.certPem}${inter.certPem}`));
  });

  it("refuses - for two of them with a usage error, before reading anything", async () => {
    const r = await cli(["credential-process", "--certificate", "-", "--private-key", "-", ...session()], {}, keyPem);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/only one of --certificate, --private-key and --intermediates can be - \(standard input\)/);
  });

  it("says which variable is missing or empty, and which input is empty, in one line", async () => {
    const unset = await cli(["credential-process", "--certificate", leaf.certPath, "--private-key", "env:RAA_NOT_SET", ...session()]);
    expect(unset.code).toBe(3);
    expect(unset.stderr).toMatch(/^roles-anywhere-agent: private key file: environment variable RAA_NOT_SET is not set/);
    const empty = await cli(["credential-process", "--certificate", "-", "--private-key", leaf.keyPath, ...session()]);
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/certificate file: standard input is empty/);
    for (const r of [unset, empty]) expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("caps standard input like a file: more than 16 MiB is one input error, exit 3", async () => {
    const huge = await cli(["credential-process", "--certificate", "-", "--private-key", leaf.keyPath, ...session()], {}, Buffer.alloc(17 * 1024 * 1024));
    expect(huge.code).toBe(3);
    expect(huge.stderr).toMatch(/^roles-anywhere-agent: certificate file: standard input holds more than 16 MiB \(/);
    expect(huge.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("never echoes the value: not in errors, not with --debug", async () => {
    // A key that is not a key, a certificate that is not a certificate, and a key for another certificate.
    const secret = "NOT-A-KEY-BUT-A-SECRET-7f3a9c";
    const other = issueLeaf(root, join(dir, "other"), { name: "other-leaf", keyType: "p256" });
    const otherKey = readFileSync(other.keyPath, "utf8");
    const base64Body = (pem: string) => pem.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
    const runs = [
      await cli(["credential-process", "--certificate", leaf.certPath, "--private-key", "env:RAA_KEY", ...session()], { RAA_KEY: secret }),
      await cli(["credential-process", "--certificate", leaf.certPath, "--private-key", "-", "--debug", ...session()], {}, `-----BEGIN PRIVATE KEY-----\n${Buffer.from(secret).toString("base64")}\n-----END PRIVATE KEY-----\n`),
      await cli(["credential-process", "--certificate", "env:RAA_CERT", "--private-key", leaf.keyPath, ...session()], { RAA_CERT: secret }),
      await cli(["credential-process", "--certificate", leaf.certPath, "--private-key", "env:RAA_KEY", "--debug", ...session()], { RAA_KEY: otherKey }),
    ];
    for (const r of runs) {
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe("");
      for (const text of [secret, Buffer.from(secret).toString("base64"), base64Body(otherKey), base64Body(otherKey).slice(0, 40)]) {
        expect(r.stderr).not.toContain(text);
      }
    }
    expect(runs[0]!.stderr).toMatch(/env:RAA_KEY/);
  });

  it("install-certificate takes a key from standard input or a variable once, and needs --out for it", async () => {
    const out = join(dir, "installed.pem");
    const piped = await cli(["install-certificate", "--private-key", "-", "--certificate", leaf.certPath, "--out", out], {}, keyPem);
    expect([piped.code, piped.stderr, piped.stdout]).toEqual([0, "", `${out}\n`]);
    expect(readFileSync(out, "utf8")).toBe(leaf.certPem.endsWith("\n") ? leaf.certPem : `${leaf.certPem}\n`);
    // No file to put the certificate beside: it went to ./-.cert.pem or ./env:RAA_KEY.cert.pem.
    const runs = [
      await cli(["install-certificate", "--private-key", "-", "--certificate", leaf.certPath], {}, keyPem),
      await cli(["install-certificate", "--private-key", "env:RAA_KEY", "--certificate", leaf.certPath], { RAA_KEY: keyPem }),
      await cli(["install-certificate", "--private-key", "-", "--certificate", "-", "--out", join(dir, "x.pem")], {}, keyPem),
    ];
    rmSync("-.cert.pem", { force: true });
    rmSync("env:RAA_KEY.cert.pem", { force: true });
    for (const r of runs) {
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(runs[1]!.stderr).toContain("--out");
  });
});
