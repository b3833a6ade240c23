/**
 * The local endpoint as a real process (`roles-anywhere-agent local-endpoint`), issuing credentials to a
 * SigV4-X509-signed CreateSession, then the real AWS CLI v2 calling STS GetCallerIdentity against it.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { identity, send, signedCreateSession } from "../test/local-endpoint/support.js";

const AWS = "/usr/bin/aws";
const { dir, cleanup } = makeTempDir("raa-native-local-endpoint-");
let bundleDir: string;
let child: ChildProcess;
let url: string;
const stderr: string[] = [];

/** Bundles just the local-endpoint command behind the CLI's argument parser and error reporting. */
async function bundleLocalEndpointCli(): Promise<string> {
  const cacheDir = resolve("node_modules", ".cache");
  mkdirSync(cacheDir, { recursive: true });
  bundleDir = mkdtempSync(join(cacheDir, "raa-native-local-endpoint-"));
  const entry = [
    'import spec from "./src/cli/commands/local-endpoint.ts";',
    'import { parseCommandArgs } from "./src/cli/parse-args.ts";',
    'import { EXIT_CODES } from "./src/cli/exit-codes.ts";',
    "try {",
    "  process.exitCode = await spec.run(parseCommandArgs(spec, process.argv.slice(2)), { stdout: process.stdout, stderr: process.stderr, env: process.env });",
    "} catch (e) {",
    "  process.stderr.write(`roles-anywhere-agent: ${e.toOneLine ? e.toOneLine() : e.message}\\n`);",
    "  process.exitCode = e.category ? EXIT_CODES[e.category] : 1;",
    "}",
  ].join("\n");
  await build({
    stdin: { contents: entry, resolveDir: resolve("."), loader: "ts", sourcefile: "local-endpoint-cli.ts" },
    outfile: join(bundleDir, "local-endpoint.mjs"),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "silent",
  });
  return join(bundleDir, "local-endpoint.mjs");
}

const ca = createCa(join(dir, "ca"), { name: "AWS CLI Test CA", keyType: "rsa2048" });
const device = identity(issueLeaf(ca, join(dir, "leaf"), { name: "awscli-device", keyType: "p256" }));

beforeAll(async () => {
  const cli = await bundleLocalEndpointCli();
  child = spawn(process.execPath, [cli, "--trust-anchors", ca.certPath, "--port", "0", "--region", "us-east-1"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line));
  const [first] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  url = first;
});

afterAll(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  cleanup();
});

describe("local-endpoint process with the AWS CLI v2", () => {
  it("prints its base URL as the first stdout line", () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("issues credentials that /usr/bin/aws sts get-caller-identity accepts", async () => {
    const res = await send(url, await signedCreateSession(url, device, { body: { roleSessionName: "awscli-session" } }));
    expect(res.status, res.body).toBe(201);
    const creds = res.json().credentialSet[0].credentials;

    const awsDir = join(dir, "aws");
    mkdirSync(awsDir, { recursive: true });
    writeFileSync(join(awsDir, "config"), "[default]\nregion = us-east-1\n");
    const env: NodeJS.ProcessEnv = {
      PATH: process.env["PATH"],
      HOME: awsDir,
      AWS_CONFIG_FILE: join(awsDir, "config"),
      AWS_SHARED_CREDENTIALS_FILE: join(awsDir, "credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_SESSION_TOKEN: creds.sessionToken,
      AWS_PAGER: "",
    };
    const { stdout } = await promisify(execFile)(AWS, ["sts", "get-caller-identity", "--endpoint-url", url, "--output", "json"], { env, timeout: 60_000 });
    const out = JSON.parse(stdout);
    expect(out.Arn).toBe("arn:aws:sts::111122223333:assumed-role/TestRole/awscli-session");
    expect(out.Account).toBe("111122223333");
    expect(out.UserId).toMatch(/^AROA[A-Z2-7]{17}:awscli-session$/);

    const wrong = await promisify(execFile)(AWS, ["sts", "get-caller-identity", "--endpoint-url", url], {
      env: { ...env, AWS_SECRET_ACCESS_KEY: "not-the-secret" },
      timeout: 60_000,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((wrong as { code: number }).code).toBe(254);
    expect((wrong as { stderr: string }).stderr).toMatch(/SignatureDoesNotMatch/);

    const logged = stderr.join("\n");
    expect(logged).toMatch(/POST \/sessions 201: issued 3600s session/);
    expect(logged).toMatch(/POST \/ 200: GetCallerIdentity arn:aws:sts::111122223333:assumed-role\/TestRole\/awscli-session/);
    expect(logged).toMatch(/POST \/ 403 SignatureDoesNotMatch/);
    for (const secret of [creds.accessKeyId, creds.secretAccessKey, creds.sessionToken]) expect(logged).not.toContain(secret);
  });

  it("stops cleanly on SIGTERM", async () => {
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(0);
    expect(stderr.at(-1)).toBe("SIGTERM: stopping");
  });
});
