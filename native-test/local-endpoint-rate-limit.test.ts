/**
 * `local-endpoint --rate-limit N` as users rehearse it in CI: the shipped CLI runs the endpoint as a process,
 * parallel `credential-process` runs (also the shipped CLI) hit its quota, get the service's 429
 * ThrottlingException with a Retry-After, and get through by retrying; with no retries left they fail with one
 * line and exit 7. The endpoint's log shows that no second ever admitted more than N.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { until } from "./helpers/credential-waits.js";
import { DIST_CLI, runCli, type CliRun } from "./helpers/run-cli.js";

const ARNS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
  "--role-arn", "arn:aws:iam::111122223333:role/fleet",
];
const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", NODE_EXTRA_CA_CERTS: "", AWS_CA_BUNDLE: "", AWS_MAX_ATTEMPTS: "", XDG_RUNTIME_DIR: "/nonexistent" };

interface EndpointProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly log: string[];
}

const { dir, cleanup } = makeTempDir("raa-rate-limit-");
const endpoints: EndpointProcess[] = [];
let ca: ReturnType<typeof createCa>;
let leaf: IssuedCertificate;

async function startEndpoint(rateLimit: number): Promise<EndpointProcess> {
  const child = spawn(process.execPath, [DIST_CLI, "local-endpoint", "--trust-anchors", ca.certPath, "--port", "0", "--rate-limit", String(rateLimit)], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => log.push(line));
  const [url] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  for (let i = 0; i < 100 && log.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20)); // the start-up line
  const endpoint = { child, url, log };
  endpoints.push(endpoint);
  return endpoint;
}

function credentialProcess(url: string, maxAttempts: number): Promise<CliRun> {
  return runCli(DIST_CLI, ["credential-process", "--no-agent", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS, "--endpoint", url, "--max-attempts", String(maxAttempts)], env, 60_000);
}

/** Times (ms) of the CreateSession requests the endpoint logged with `status`. */
function logged(endpoint: EndpointProcess, status: number): number[] {
  return endpoint.log.filter((line) => line.includes(` POST /sessions ${status}`)).map((line) => Date.parse(line.split(" ", 1)[0]!));
}

/** When the rate limit admitted each issued session, on its own monotonic clock (ms), from the endpoint's log. */
function admissions(endpoint: EndpointProcess): number[] {
  const lines = endpoint.log.filter((line) => line.includes(" POST /sessions 201"));
  return lines.map((line) => Number(/; admitted at (\d+(?:\.\d+)?) ms on the rate limit's monotonic clock$/.exec(line)![1]));
}

beforeAll(() => {
  ca = createCa(join(dir, "ca"), { name: "Rate Limit CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "fleet-device", keyType: "p256" });
});
afterAll(async () => {
  for (const { child } of endpoints) {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  }
  cleanup();
});

describe("local-endpoint --rate-limit with parallel credential-process runs", () => {
  it("throttles above the rate with the service's answer, and every run gets through by retrying after the Retry-After", async () => {
    const endpoint = await startEndpoint(2);
    expect(endpoint.log[0]).toMatch(/at most 2 CreateSession requests per second$/);
    const runs = await Promise.all(Array.from({ length: 8 }, () => credentialProcess(endpoint.url, 8)));
    for (const run of runs) {
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).AccessKeyId).toMatch(/^ASIA/);
    }
    const admitted = admissions(endpoint).sort((a, b) => a - b);
    expect(admitted).toHaveLength(8);
    // Never more than two in one second: the admission times themselves (as the limiter compares them), not when the
    // answers were logged, which a slow machine delays by any amount.
    for (let i = 2; i < admitted.length; i++) expect(admitted[i - 2]! + 1000 - admitted[i]!).toBeLessThanOrEqual(0);
    const throttled = endpoint.log.filter((line) => line.includes(" POST /sessions 429 "));
    expect(throttled.length).toBeGreaterThan(0);
    for (const line of throttled) expect(line).toMatch(/ 429 ThrottlingException: Rate exceeded \(more than 2 CreateSession requests in one second; Retry-After: 1\)$/);
  });

  it("a run without retries left fails with one line and exit 7, saying it was throttled", async () => {
    const endpoint = await startEndpoint(1);
    // Rounds of 4 parallel runs until the endpoint has throttled one: a loaded machine can start the 4 more than a
    // second apart, so that none is throttled. Each run makes one request (no retries), so the runs that failed are
    // exactly the endpoint's 429s and those that succeeded its 201s.
    const runs: CliRun[] = [];
    const deadline = Date.now() + 60_000;
    while (logged(endpoint, 429).length === 0 && Date.now() < deadline) {
      runs.push(...(await Promise.all(Array.from({ length: 4 }, () => credentialProcess(endpoint.url, 1)))));
    }
    await until("the endpoint's log line for each run", () => (logged(endpoint, 201).length + logged(endpoint, 429).length >= runs.length ? true : undefined));
    const failed = runs.filter((r) => r.code !== 0);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBe(logged(endpoint, 429).length);
    expect(runs.filter((r) => r.code === 0).length).toBe(logged(endpoint, 201).length);
    for (const run of failed) {
      expect(run.code).toBe(7);
      expect(run.stdout).toBe("");
      const lines = run.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^roles-anywhere-agent: CreateSession was throttled by http:\/\/127\.0\.0\.1:\d+ \(HTTP 429 ThrottlingException: Rate exceeded\) \[request id [0-9a-f-]+\] \(.*cache credentials/);
    }
  });

  it("refuses a rate limit that is not a whole number of requests per second", async () => {
    const cases: [string, string][] = [
      ["0", "--rate-limit must be a whole number from 1 to 100000 (got 0)"],
      ["100001", "--rate-limit must be a whole number from 1 to 100000 (got 100001)"],
      ["2.5", "--rate-limit must be a whole number from 1 to 100000 (got 2.5)"], // was: invalid argument "2.5" … not an integer
    ];
    for (const [bad, message] of cases) {
      const run = await runCli(DIST_CLI, ["local-endpoint", "--trust-anchors", ca.certPath, "--rate-limit", bad], env, 30_000);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr.trimEnd().split("\n")).toEqual([`roles-anywhere-agent: ${message}`]);
    }
  });
});
