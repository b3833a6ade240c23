/**
 * The shipped CLI bundle (dist/cli.js, built by `npm run build`) end to end: every key encoding and curve through
 * `credential-process` against the verifying local endpoint over HTTP and HTTPS, with and without intermediates,
 * and every bad input giving one clear line, its documented exit code, no stack trace and no secret.
 */
import { createServer, type Server } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, openssl, type TestKeyType } from "../test/helpers/pki.js";
import { DIST_CLI, runCli, type CliRun } from "./helpers/run-cli.js";

const ACCOUNT = "111122223333";
const ARNS = [
  "--trust-anchor-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:trust-anchor/ta`,
  "--profile-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:profile/p`,
  "--role-arn", `arn:aws:iam::${ACCOUNT}:role/device`,
];
const PASSWORD = "s3cret-Pässword";
const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", NODE_EXTRA_CA_CERTS: "", AWS_CA_BUNDLE: "", XDG_RUNTIME_DIR: "/nonexistent" };

type CliResult = CliRun;
const cli = (args: string[]): Promise<CliResult> => runCli(DIST_CLI, args, env, 60_000);

function expectCredentials(r: CliResult): void {
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout.endsWith("}")).toBe(true);
  const out = JSON.parse(r.stdout);
  expect(Object.keys(out)).toEqual(["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]);
  expect(out.Version).toBe(1);
  expect(out.AccessKeyId).toMatch(/^ASIA/);
  expect(new Date(out.Expiration).getTime()).toBeGreaterThan(Date.now());
}

function expectOneLineError(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^roles-anywhere-agent: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toContain(PASSWORD);
}

const { dir, cleanup } = makeTempDir("raa-cli-");
let root: ReturnType<typeof createCa>;
let inter: ReturnType<typeof createCa>;
let http: LocalEndpoint;
let https: LocalEndpoint;
let serverCa: string;
const passwordFile = join(dir, "password");

beforeAll(async () => {
  root = createCa(dir, { name: "CLI Root CA" });
  inter = createCa(dir, { name: "CLI Intermediate CA", parent: root });
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  const tlsCa = createCa(join(dir, "tls"), { name: "TLS CA" });
  const tls = issueLeaf(tlsCa, join(dir, "tls"), {
    name: "127.0.0.1",
    extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", "subjectAltName=IP:127.0.0.1"],
  });
  serverCa = tlsCa.certPath;
  http = await startLocalEndpoint({ trustAnchors: root.certPath, port: 0 });
  https = await startLocalEndpoint({ trustAnchors: root.certPath, port: 0, tls: { cert: tls.certPem, key: readFileSync(tls.keyPath) } });
});
afterAll(async () => {
  await http?.close();
  await https?.close();
  cleanup();
});

/** The key file in the requested encoding, made by openssl from the PKCS#8 original. */
function encode(keyPath: string, keyType: TestKeyType, encoding: string): { path: string; extra: string[] } {
  const out = `${keyPath}.${encoding}`;
  const pass = ["-passout", `file:${passwordFile}`];
  const withPassword = ["--pkcs8-password-file", passwordFile];
  switch (encoding) {
    case "pkcs8": return { path: keyPath, extra: [] };
    case "pkcs8-der": openssl(["pkcs8", "-topk8", "-nocrypt", "-in", keyPath, "-outform", "DER", "-out", out]); return { path: out, extra: [] };
    case "traditional": openssl([keyType.startsWith("rsa") ? "rsa" : "ec", "-in", keyPath, ...(keyType.startsWith("rsa") ? ["-traditional"] : []), "-out", out]); return { path: out, extra: [] };
    case "aes256-sha256": openssl(["pkcs8", "-topk8", "-in", keyPath, "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256", ...pass, "-out", out]); return { path: out, extra: withPassword };
    case "aes128-sha1": openssl(["pkcs8", "-topk8", "-in", keyPath, "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1", ...pass, "-out", out]); return { path: out, extra: withPassword };
    case "scrypt": openssl(["pkcs8", "-topk8", "-in", keyPath, "-scrypt", ...pass, "-out", out]); return { path: out, extra: ["--pkcs8-password-env", "RAA_TEST_PASSWORD"] };
    default: throw new Error(encoding);
  }
}

const MATRIX: [TestKeyType, string][] = [
  ["rsa2048", "pkcs8"], ["rsa2048", "traditional"], ["rsa3072", "aes256-sha256"], ["rsa4096", "pkcs8-der"],
  ["p256", "pkcs8"], ["p256", "traditional"], ["p256", "scrypt"], ["p384", "aes128-sha1"], ["p384", "pkcs8-der"],
  ["p521", "traditional"], ["p521", "aes256-sha256"],
];

describe("credential-process end to end (dist/cli.js)", () => {
  it.each(MATRIX)("%s key as %s over HTTP and HTTPS, leaf issued by an intermediate", async (keyType, encoding) => {
    const leaf = issueLeaf(inter, join(dir, `${keyType}-${encoding}`), { name: `${keyType}-${encoding}`, keyType });
    const key = encode(leaf.keyPath, keyType, encoding);
    env["RAA_TEST_PASSWORD"] = PASSWORD;
    const base = ["credential-process", "--certificate", leaf.certPath, "--private-key", key.path, "--intermediates", inter.certPath, ...key.extra, ...ARNS];
    expectCredentials(await cli([...base, "--endpoint", http.url]));
    expectCredentials(await cli([...base, "--endpoint", https.url, "--ca-bundle", serverCa]));
  });

  it("takes the chain from the certificate file, and the key from a combined PEM", async () => {
    const leaf = issueLeaf(inter, join(dir, "chain"), { name: "chain-leaf", keyType: "p256" });
    const chainFile = join(dir, "chain", "leaf-and-chain.pem");
    writeFileSync(chainFile, leaf.certPem + inter.certPem);
    const combined = join(dir, "chain", "combined.pem");
    writeFileSync(combined, readFileSync(leaf.keyPath, "utf8") + leaf.certPem + inter.certPem, { mode: 0o600 });
    expectCredentials(await cli(["credential-process", "--certificate", chainFile, "--private-key", leaf.keyPath, ...ARNS, "--endpoint", http.url]));
    expectCredentials(await cli(["credential-process", "--certificate", combined, ...ARNS, "--endpoint", http.url]));
    // Without the intermediate the service cannot build the path.
    const alone = await cli(["credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS, "--endpoint", http.url]);
    expectOneLineError(alone, 6, /AccessDeniedException|[Uu]ntrusted/);
  });

  it("uses a PKCS#12 file with a password", async () => {
    const leaf = issueLeaf(root, join(dir, "p12"), { name: "p12-leaf", keyType: "p384" });
    const p12 = join(dir, "p12", "device.p12");
    openssl(["pkcs12", "-export", "-in", leaf.certPath, "-inkey", leaf.keyPath, "-passout", `file:${passwordFile}`, "-out", p12]);
    expectCredentials(await cli(["credential-process", "--certificate", p12, "--pkcs8-password-file", passwordFile, ...ARNS, "--endpoint", http.url]));
  });
});

describe("credential-process bad input: one line, documented exit code, no stack, no secret", () => {
  let leaf: ReturnType<typeof issueLeaf>;
  let other: ReturnType<typeof issueLeaf>;
  let encrypted: string;
  let garbage: Server;
  let hang: Server;
  const cert = () => ["--certificate", leaf.certPath, "--private-key", leaf.keyPath];

  beforeAll(async () => {
    leaf = issueLeaf(root, join(dir, "bad"), { name: "bad-leaf", keyType: "p256" });
    other = issueLeaf(root, join(dir, "bad"), { name: "other-leaf", keyType: "p256" });
    encrypted = encode(leaf.keyPath, "p256", "aes256-sha256").path;
    garbage = createServer((_req, res) => { res.writeHead(201, { "content-type": "application/json" }); res.end("<html>not json"); });
    hang = createServer(() => { /* never answers */ });
    await Promise.all([garbage, hang].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
  });
  afterAll(() => {
    garbage?.close();
    hang?.closeAllConnections();
    hang?.close();
  });
  const url = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

  it.each([
    ["missing certificate file", () => ["--certificate", join(dir, "nope.pem"), "--private-key", leaf.keyPath, ...ARNS], 3, /nope\.pem/],
    ["garbled certificate", () => ["--certificate", passwordFile, "--private-key", leaf.keyPath, ...ARNS], 3, /certificate|PEM/i],
    ["wrong password", () => ["--certificate", leaf.certPath, "--private-key", encrypted, "--pkcs8-password", "wrong-" + PASSWORD, ...ARNS], 4, /password/i],
    ["missing password without a terminal", () => ["--certificate", leaf.certPath, "--private-key", encrypted, ...ARNS], 3, /password/i],
    ["key/certificate mismatch", () => ["--certificate", leaf.certPath, "--private-key", other.keyPath, ...ARNS], 3, /match/i],
    ["malformed ARN", () => [...cert(), ...ARNS.slice(0, 1), "arn:aws:rolesanywhere:us-east-1", ...ARNS.slice(2)], 3, /trust anchor ARN/],
    ["region mismatch", () => [...cert(), ...ARNS.slice(0, 2), "--profile-arn", `arn:aws:rolesanywhere:eu-west-1:${ACCOUNT}:profile/p`, ...ARNS.slice(4)], 3, /regions don't match/],
    // The regions are checked before the key is opened: the real mistake is reported, not the missing password.
    ["region mismatch with an encrypted key and no password", () => ["--certificate", leaf.certPath, "--private-key", encrypted, ...ARNS.slice(0, 2), "--profile-arn", `arn:aws:rolesanywhere:eu-west-1:${ACCOUNT}:profile/p`, ...ARNS.slice(4)], 3, /regions don't match/],
    ["missing ARN", () => [...cert(), ...ARNS.slice(2)], 2, /--trust-anchor-arn is required/],
    ["unknown flag", () => [...cert(), ...ARNS, "--frobnicate"], 2, /unknown flag --frobnicate/],
    ["OS store flag", () => ["--cert-selector", "Key=x509Subject,Value=CN=x", ...ARNS], 2, /not available on Linux/],
  ] as const)("%s", async (_name, args, code, pattern) => {
    expectOneLineError(await cli(["credential-process", ...args(), "--endpoint", http.url]), code, pattern);
  });

  it("unreachable endpoint", async () => {
    // Port 9 (discard), as other tests: below the ephemeral range, so no listen(0) of a parallel file can be there.
    // (Was: a port from listen(0), closed, which such a listen(0) could take while this CLI started.)
    const dead = "http://127.0.0.1:9";
    expectOneLineError(await cli(["credential-process", ...cert(), ...ARNS, "--endpoint", dead, "--max-attempts", "1"]), 7, /refused|connect/i);
  });

  it("4xx from the service (untrusted certificate)", async () => {
    const rogueCa = createCa(join(dir, "rogue"), { name: "Rogue CA" });
    const rogue = issueLeaf(rogueCa, join(dir, "rogue"), { name: "rogue-leaf" });
    expectOneLineError(await cli(["credential-process", "--certificate", rogue.certPath, "--private-key", rogue.keyPath, ...ARNS, "--endpoint", http.url]), 6, /AccessDenied|trust/i);
  });

  it("5xx after retries", async () => {
    http.failNext(5, 503);
    expectOneLineError(await cli(["credential-process", ...cert(), ...ARNS, "--endpoint", http.url, "--max-attempts", "2"]), 7, /503|unavailable/i);
    http.failNext(0, 503);
  });

  it("garbage and hanging responses", async () => {
    expectOneLineError(await cli(["credential-process", ...cert(), ...ARNS, "--endpoint", url(garbage)]), 7, /response|JSON/i);
    expectOneLineError(await cli(["credential-process", ...cert(), ...ARNS, "--endpoint", url(hang), "--timeout", "1", "--max-attempts", "1"]), 7, /time/i);
  });
});
