/**
 * Fault injection at the CreateSession endpoint (issue 7, item 2): a hostile loopback endpoint closes the
 * connection, stalls, sends truncated, oversized or garbage bodies, throttles, or answers with a wrong Date.
 * Each fault is driven through the shipped CLI (dist/cli.js credential-process: exit code, one stderr line,
 * attempt count, no secret) and through the long-running credential source the agent, serve and update use
 * (the last valid credentials are served until they expire, never empty or expired ones, and it recovers).
 */
import { execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../src/arn.js";
import type { CredentialSettings } from "../src/settings/credential-settings.js";
import type { RefreshEvent } from "../src/credentials/credential-cache.js";
import { createCredentialSource, type CredentialSource } from "../src/credentials/credential-source.js";
import type { Credentials } from "../src/rolesanywhere/credentials.js";
import { isAgentError } from "../src/errors.js";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, openssl, type IssuedCertificate } from "../test/helpers/pki.js";
import { LEAKED_SECRET, OVERSIZED_BYTES, startHostileEndpoint, type Fault, type HostileEndpoint } from "./helpers/hostile-endpoint.js";

const CLI = join(process.cwd(), "dist", "cli.js");
const ARN = {
  trustAnchorArn: "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/faults",
  profileArn: "arn:aws:rolesanywhere:us-east-1:000000000000:profile/faults",
  roleArn: "arn:aws:iam::000000000000:role/faults",
};
const PASSWORD = "Fault-Inject-Pässword-7731";

const { dir, cleanup } = makeTempDir("raa-faults-endpoint-");
let local: LocalEndpoint;
let leaf: IssuedCertificate;
let encryptedKey: string;
const passwordFile = join(dir, "password");
const hostiles: HostileEndpoint[] = [];

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Faults CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "faults-device", keyType: "p256" });
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  encryptedKey = join(dir, "leaf", "key.enc.pem");
  openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v2", "aes-256-cbc", "-passout", `file:${passwordFile}`, "-out", encryptedKey]);
  local = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
});
afterAll(async () => {
  await Promise.all(hostiles.map((h) => h.close()));
  await local?.close();
  cleanup();
});

async function hostile(): Promise<HostileEndpoint> {
  const h = await startHostileEndpoint(local.url);
  hostiles.push(h);
  return h;
}

interface CliResult { code: number; stdout: string; stderr: string; ms: number }
function credentialProcess(endpoint: string, extra: string[]): Promise<CliResult> {
  const args = [
    CLI, "credential-process", "--no-agent", "--certificate", leaf.certPath, "--private-key", encryptedKey,
    "--pkcs8-password-file", passwordFile, "--trust-anchor-arn", ARN.trustAnchorArn, "--profile-arn", ARN.profileArn,
    "--role-arn", ARN.roleArn, "--endpoint", endpoint, ...extra,
  ];
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env: { ...process.env, NODE_EXTRA_CA_CERTS: "", XDG_RUNTIME_DIR: "/nonexistent", AWS_MAX_ATTEMPTS: "" }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr, ms: performance.now() - started }),
    );
  });
}

/** Every secret the run could leak: the key's password, every secret key and session token ever issued, the leaky body's key. */
function secrets(): string[] {
  return [PASSWORD, LEAKED_SECRET, ...local.issued.flatMap((s) => [s.credentials.secretAccessKey, s.credentials.sessionToken])];
}

function expectOneLine(r: CliResult, exitCode: number, pattern: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: exitCode, stdout: "" });
  const lines = r.stderr.split("\n");
  expect(lines.at(-1)).toBe("");
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^roles-anywhere-agent: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at |Error:/);
  for (const s of secrets()) expect(r.stderr).not.toContain(s);
}

interface CliCase {
  fault: Fault;
  extra: string[];
  exitCode: number;
  attempts: number;
  message: RegExp;
}

const CLOSED = /the connection to endpoint http:\/\/127\.0\.0\.1:\d+ was closed before the response was complete/;
const CLI_CASES: CliCase[] = [
  { fault: "close-before-headers", extra: ["--max-attempts", "3"], exitCode: 7, attempts: 3, message: new RegExp(`${CLOSED.source} \\(after 3 attempts\\)`) },
  { fault: "close-after-headers", extra: ["--max-attempts", "3"], exitCode: 7, attempts: 3, message: new RegExp(`${CLOSED.source} \\(after 3 attempts\\)`) },
  { fault: "truncated", extra: ["--max-attempts", "2"], exitCode: 7, attempts: 2, message: new RegExp(`${CLOSED.source} \\(after 2 attempts\\)`) },
  { fault: "stall", extra: ["--timeout", "2"], exitCode: 7, attempts: 1, message: /CreateSession at http:\/\/127\.0\.0\.1:\d+ did not complete within 2 s \(1 attempt\) \(.*raise --timeout\)$/ },
  { fault: "stall-after-headers", extra: ["--timeout", "2"], exitCode: 7, attempts: 1, message: /did not complete within 2 s \(1 attempt\)/ },
  { fault: "oversized", extra: [], exitCode: 7, attempts: 1, message: /the answer of http:\/\/127\.0\.0\.1:\d+ \(HTTP 201\) is larger than 1048576 bytes \(a CreateSession answer is a few KiB/ },
  { fault: "oversized-declared", extra: [], exitCode: 7, attempts: 1, message: /\(HTTP 201\) is larger than 1048576 bytes/ },
  { fault: "garbage", extra: [], exitCode: 7, attempts: 1, message: /CreateSession answered HTTP 201 from http:\/\/127\.0\.0\.1:\d+ but the body is not JSON/ },
  { fault: "proxy-page", extra: [], exitCode: 7, attempts: 1, message: /http:\/\/127\.0\.0\.1:\d+ answered HTTP 403 with a body that is not JSON \(.*captive portal/ },
  { fault: "leaky-garbage", extra: [], exitCode: 7, attempts: 1, message: /but credentialSet\[0\]\.credentials\.sessionToken is missing or empty/ },
  { fault: "throttle", extra: ["--max-attempts", "4"], exitCode: 7, attempts: 4, message: /CreateSession was throttled by http:\/\/127\.0\.0\.1:\d+ \(HTTP 429 ThrottlingException: Rate exceeded\) \(after 4 attempts\) \(.*cache credentials/ },
  { fault: "wrong-date", extra: [], exitCode: 6, attempts: 1, message: /CreateSession refused \(HTTP 403 AccessDeniedException: Signature expired\) \(the system clock is 2 h( 1 s)? ahead of the endpoint's \(Date: .*\): fix the clock \(NTP\)/ },
];

describe("credential-process (dist/cli.js) against a hostile endpoint", () => {
  it("gets credentials through the same endpoint when it behaves (baseline)", async () => {
    const h = await hostile();
    const r = await credentialProcess(h.url, []);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
    expect(h.attempts).toBe(1);
  });

  it.each(CLI_CASES)("$fault: exit $exitCode after $attempts attempt(s), one line, no secret", async ({ fault, extra, exitCode, attempts, message }) => {
    const h = await hostile();
    h.fault = fault;
    const r = await credentialProcess(h.url, extra);
    expectOneLine(r, exitCode, message);
    expect(h.attempts).toBe(attempts);
    if (fault === "oversized") {
      // Bounded: the client stopped reading after about 1 MiB; what was written beyond that sat in socket buffers.
      // The count is taken when the endpoint sees the connection close, which on a loaded machine may come after
      // the CLI's exit has been reported here: wait for it.
      const deadline = Date.now() + 30_000;
      while (h.oversizedBytesWritten === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(h.oversizedBytesWritten).toBeGreaterThan(0);
      expect(h.oversizedBytesWritten).toBeLessThan(OVERSIZED_BYTES / 4);
    }
    // The line names the timer that ended it (--timeout's 2 s, 1 attempt); this bound is for a longer timer behind
    // the same words, the 30 s default's: two thirds of it, so that a start slowed on a loaded 2-core machine (Node's
    // and the CLI's, ~1 s here, 3 s or more there) keeps 18 s of room. The default's run cannot take less than 30 s.
    if (fault === "stall" || fault === "stall-after-headers") expect(r.ms).toBeLessThan(20_000);
  });

  it("429 storm: honours Retry-After between attempts, and gives up when the next wait would pass --timeout", async () => {
    const h = await hostile();
    h.fault = "throttle";
    h.retryAfterSeconds = 1;
    const r = await credentialProcess(h.url, ["--max-attempts", "3", "--timeout", "10"]);
    expectOneLine(r, 7, /HTTP 429 ThrottlingException.*\(after 3 attempts\)/);
    expect(h.attempts).toBe(3);
    const gaps = h.arrivals.slice(1).map((t, i) => t - h.arrivals[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(950);

    // Retry-After longer than what is left of --timeout: no pointless wait, the error comes at once. A wait would
    // be ended by --timeout's deadline, whose error is "did not complete within 55 s", not the 429: the line and the
    // one attempt are the proof, not how long it took.
    const h2 = await hostile();
    h2.fault = "throttle";
    h2.retryAfterSeconds = 120;
    const r2 = await credentialProcess(h2.url, ["--max-attempts", "5", "--timeout", "55"]);
    expectOneLine(r2, 7, /HTTP 429 ThrottlingException/);
    expect(h2.attempts).toBe(1);

    // A hostile Retry-After of 10^12 s asks for more than the 5-minute ceiling: not ignored (5 attempts at once).
    const h3 = await hostile();
    h3.fault = "throttle";
    h3.retryAfterSeconds = 1e12;
    const r3 = await credentialProcess(h3.url, ["--max-attempts", "5", "--timeout", "5"]);
    expectOneLine(r3, 7, /HTTP 429 ThrottlingException/);
    expect(h3.attempts).toBe(1);
  });
});

const ARNS = { trustAnchorArn: parseTrustAnchorArn(ARN.trustAnchorArn), profileArn: parseProfileArn(ARN.profileArn), roleArn: parseRoleArn(ARN.roleArn) };
/**
 * Quick refreshes: credentials of 6 s are refreshed within the 5 s before the margin and served until 1 s before they
 * expire. 6 s, not 3 s: with 8 busy loops the fault loop began up to 1.0 s after the 12 concurrent cases' first
 * credentials were issued, of the 2 s a 3 s lifetime leaves to see a cached answer (none seen fails the case). A refusal
 * (wrong-date's 403) or a proxy's page keeps the same 300 ms ceiling: with the default one (doubling from `retryMaxMs` to an hour) the
 * source may rightly wait many seconds after the endpoint recovers, longer than the recovery loop below.
 */
const POLICY = {
  expiryMarginMs: 1_000, retryBaseMs: 100, retryMaxMs: 300, refusedRetryMaxMs: 300, blockedRetryMaxMs: 300, minRetryIntervalMs: 100,
};
const LIFETIME_MS = 6_000;

/** Each case: the codes a caller may see once the cached credentials have run out. */
const SOURCE_CASES: [Fault, string[]][] = [
  ["close-before-headers", ["NETWORK_ERROR"]],
  ["close-after-headers", ["NETWORK_ERROR"]],
  ["truncated", ["NETWORK_ERROR"]],
  ["stall", ["TIMEOUT"]],
  ["stall-after-headers", ["TIMEOUT"]],
  ["oversized", ["RESPONSE_INVALID"]],
  ["oversized-declared", ["RESPONSE_INVALID"]],
  ["garbage", ["RESPONSE_INVALID"]],
  ["leaky-garbage", ["RESPONSE_INVALID"]],
  ["proxy-page", ["RESPONSE_INVALID"]],
  ["throttle", ["THROTTLED"]],
  ["wrong-date", ["ACCESS_DENIED"]],
];

/**
 * The credentials from before the fault. The stall cases' 0.8 s timeout is for the fault; on a loaded machine the
 * behaving endpoint's first CreateSession can run past it too (seen 2 of 14 cases failing in one run with 8 busy
 * loops): ask again, for 60 s at most. Any other error still fails here.
 */
async function firstCredentials(source: CredentialSource): Promise<Credentials> {
  const timeouts: string[] = [];
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    try {
      return await source.get();
    } catch (error) {
      if ((error as { code?: string }).code !== "TIMEOUT") throw error;
      timeouts.push((error as Error).message);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no credentials from the behaving endpoint within 60 s: ${timeouts.length} timeouts, the last: ${timeouts.at(-1)}`);
}

function assertUsable(c: Credentials): void {
  expect(c.accessKeyId).toMatch(/^ASIA/);
  expect(c.secretAccessKey).not.toBe("");
  expect(c.sessionToken).not.toBe("");
  expect(c.expiration.getTime()).toBeGreaterThan(Date.now());
}

describe.concurrent("long-running credential source (agent, serve, update) against a hostile endpoint", () => {
  it.each(SOURCE_CASES)("%s: serves the last valid credentials until they expire, then an error, never empty ones; recovers", async (fault, codes) => {
    const h = await hostile();
    h.lifetimeMs = LIFETIME_MS;
    const settings: CredentialSettings = {
      signer: { certificate: leaf.certPath, privateKey: encryptedKey, keyPassword: { kind: "file", path: passwordFile } },
      session: { ...ARNS, durationSeconds: 900 },
      // Short timeouts only where the fault is seen through them (a stall): elsewhere a loaded machine that runs
      // late would turn a cut connection or a bad answer into TIMEOUT, and the check is on the code.
      endpoint: { endpoint: h.url, ...(codes.includes("TIMEOUT") ? { connectTimeoutMs: 500, timeoutMs: 800 } : { timeoutMs: 10_000 }), maxAttempts: 2 },
    };
    const source: CredentialSource = createCredentialSource({ name: fault, settings, policy: POLICY });
    try {
      source.start();
      const first = await firstCredentials(source);
      assertUsable(first);
      h.fault = fault;
      h.reset();
      const servedUntil = first.expiration.getTime() - POLICY.expiryMarginMs;
      const seen = { cached: 0, errors: new Map<string, number>() };
      const faultStarted = Date.now();
      const until = first.expiration.getTime() + 1_000;
      while (Date.now() < until) {
        const asked = Date.now();
        try {
          const c = await source.get();
          assertUsable(c);
          expect(c.accessKeyId).toBe(first.accessKeyId); // nothing new can have come from the broken endpoint
          expect(asked).toBeLessThan(servedUntil);
          seen.cached++;
        } catch (error) {
          expect(isAgentError(error)).toBe(true);
          const code = (error as { code: string }).code;
          seen.errors.set(code, (seen.errors.get(code) ?? 0) + 1);
          for (const s of secrets()) expect((error as Error).message).not.toContain(s);
        }
        await new Promise((r) => setTimeout(r, 40));
      }
      expect(seen.cached).toBeGreaterThan(0);
      expect([...seen.errors.keys()]).toEqual(codes);
      expect(h.attempts).toBeGreaterThan(0); // the refresh really hit the fault
      // Bounded: at most one refresh (of maxAttempts 2) per minimum retry interval, however often callers ask.
      expect(h.attempts).toBeLessThanOrEqual(2 * (Math.ceil((Date.now() - faultStarted) / POLICY.minRetryIntervalMs) + 1));
      expect(source.status().state).toBe("expired");

      h.fault = "ok";
      h.lifetimeMs = 60_000;
      let recovered: Credentials | undefined;
      for (let i = 0; i < 60 && !recovered; i++) {
        recovered = await source.get().catch(() => undefined);
        if (!recovered) await new Promise((r) => setTimeout(r, 100));
      }
      expect(recovered).toBeDefined();
      assertUsable(recovered!);
      expect(recovered!.accessKeyId).not.toBe(first.accessKeyId);
      expect(source.status().state).toBe("fresh");
    } finally {
      await source.close();
    }
  });

  it("a captive portal's HTML 403: retried within seconds at first, credentials within seconds of the login", async () => {
    // Paced as the service's refusal (last session), the first wait was 30 s (half the 60 s ceiling), then up to an
    // hour; paced as a blocked answer, the ceiling doubles from 1 s to 5 minutes (docs/architecture.md, "blocked").
    const h = await hostile();
    h.fault = "proxy-page";
    const settings: CredentialSettings = {
      signer: { certificate: leaf.certPath, privateKey: leaf.keyPath },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: h.url, timeoutMs: 2_000 },
    };
    // Jitter fixed at half of each ceiling: waits of 1 s (the floor), 1 s, 2 s, 4 s… Each wait the source plans after
    // a failure is read off its event (at most that, as read a moment later): the pacing itself, not a duration.
    const planned: number[] = [];
    const onEvent = (_: string, event: RefreshEvent) => {
      if (event.type === "refresh-failed" && event.nextAttemptAt) planned.push(event.nextAttemptAt.getTime() - Date.now());
    };
    const source = createCredentialSource({ name: "portal", settings, random: () => 0.5, onEvent });
    try {
      source.start();
      const codes = new Set<string>();
      const started = Date.now();
      let credentials: Credentials | undefined;
      while (!credentials && planned.every((ms) => ms <= 4_000) && Date.now() - started < 20_000) {
        if (Date.now() - started > 2_500) h.fault = "ok"; // the user logs in to the portal
        credentials = await source.get().catch((e: { code: string }) => void codes.add(e.code));
        await new Promise((r) => setTimeout(r, 50));
      }
      // Before: a first wait of 30 s. Now 1 s, 1 s, 2 s: the attempt after the 2.5 s login (at about 4 s) succeeds.
      expect(planned.length).toBeGreaterThan(0);
      expect(Math.max(...planned)).toBeLessThanOrEqual(4_000);
      expect([...codes]).toEqual(["RESPONSE_INVALID"]);
      expect(credentials, "no credentials within 20 s (the login at 2.5 s)").toBeDefined();
      assertUsable(credentials!);
      expect(h.attempts).toBeLessThanOrEqual(5); // not every 50 ms the callers asked
    } finally {
      await source.close();
    }
  });

  it("429 storm: refresh attempts stay bounded by the backoff while callers keep asking", async () => {
    const h = await hostile();
    h.lifetimeMs = 3_000; // the refresh due within the 5 s storm (below)
    const settings: CredentialSettings = {
      signer: { certificate: leaf.certPath, privateKey: leaf.keyPath },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: h.url, timeoutMs: 2_000, maxAttempts: 3 },
    };
    // Default-like backoff (1 s doubling) so that the bound is the policy's, not the test's.
    const source = createCredentialSource({ name: "storm", settings, policy: { expiryMarginMs: 1_000, retryBaseMs: 1_000, retryMaxMs: 4_000, minRetryIntervalMs: 1_000 } });
    try {
      source.start();
      await source.get();
      h.fault = "throttle";
      h.reset();
      const started = Date.now();
      // 100 callers every 50 ms for 5 s: 10,000 requests.
      while (Date.now() - started < 5_000) {
        await Promise.all(Array.from({ length: 100 }, () => source.get().catch(() => undefined)));
        await new Promise((r) => setTimeout(r, 50));
      }
      // Refresh due 0.6–1.7 s in; then at most one refresh per second (3 attempts each, within its 2 s timeout).
      const refreshes = Math.ceil(5_000 / 1_000);
      expect(h.attempts).toBeGreaterThanOrEqual(3);
      expect(h.attempts).toBeLessThanOrEqual(3 * refreshes);
    } finally {
      await source.close();
    }
  });
});

describe("serve (process) against a hostile endpoint", () => {
  it("IMDS keeps answering with the last valid credentials while the endpoint sends garbage, then 503 (never empty ones), and recovers", async () => {
    const h = await hostile();
    // 14 s credentials: served until 10 s before they expire (the default margin), refreshed 1.2–3.4 s in.
    h.lifetimeMs = 14_000;
    const child = spawn(process.execPath, [CLI, "serve", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, "--trust-anchor-arn", ARN.trustAnchorArn, "--profile-arn", ARN.profileArn, "--role-arn", ARN.roleArn, "--endpoint", h.url, "--port", "0", "--timeout", "2", "--max-attempts", "1"], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: "" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const log: string[] = [];
    try {
      let port = 0;
      for await (const line of createInterface({ input: child.stderr! })) {
        log.push(line);
        const m = /Local server started on port: (\d+)/.exec(line);
        if (m) port = Number(m[1]);
        if (port) break;
      }
      createInterface({ input: child.stderr! }).on("line", (l) => log.push(l));
      const base = `http://127.0.0.1:${port}`;
      const token = await (await fetch(`${base}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": "60" } })).text();
      const ask = async () => {
        const res = await fetch(`${base}/latest/meta-data/iam/security-credentials/faults`, { headers: { "X-aws-ec2-metadata-token": token } });
        return { status: res.status, body: await res.text() };
      };
      const first = await ask();
      expect(first.status).toBe(200);
      const firstDoc = JSON.parse(first.body) as { AccessKeyId: string; Expiration: string };
      h.fault = "garbage";
      h.reset();
      const statuses = new Set<number>();
      const until = Date.parse(firstDoc.Expiration) - 10_000 + 1_500; // past the end of serving, by 1.5 s
      while (Date.now() < until) {
        const asked = Date.now();
        const r = await ask();
        statuses.add(r.status);
        if (r.status === 200) {
          const doc = JSON.parse(r.body) as { AccessKeyId: string; SecretAccessKey: string; Token: string; Expiration: string };
          expect(doc.AccessKeyId).toBe(firstDoc.AccessKeyId);
          expect(doc.SecretAccessKey).not.toBe("");
          expect(doc.Token).not.toBe("");
          expect(asked).toBeLessThan(Date.parse(doc.Expiration) - 10_000);
        } else {
          expect(r.status).toBe(503);
          expect(r.body).toMatch(/^credentials for faults are unavailable: CreateSession answered HTTP 201 from .* but the body is not JSON/);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      expect([...statuses].sort()).toEqual([200, 503]);
      expect(h.attempts).toBeGreaterThan(0);
      expect(log.some((l) => /faults: refresh failed \(RESPONSE_INVALID\)/.test(l))).toBe(true);

      h.fault = "ok";
      let recovered: { AccessKeyId: string } | undefined;
      // The next refresh comes when the backoff allows: a random delay under a ceiling of 2^(n-1) s after the n-th
      // failure in a row, and 2 to 5 refreshes have failed by now (one in a hundred runs: 5, up to 16 s).
      const deadline = Date.now() + 45_000;
      while (!recovered && Date.now() < deadline) {
        const r = await ask();
        if (r.status === 200) recovered = JSON.parse(r.body);
        else await new Promise((res) => setTimeout(res, 200));
      }
      expect(recovered?.AccessKeyId).toMatch(/^ASIA/);
      expect(recovered?.AccessKeyId).not.toBe(firstDoc.AccessKeyId);
      for (const s of secrets()) expect(log.join("\n")).not.toContain(s);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
