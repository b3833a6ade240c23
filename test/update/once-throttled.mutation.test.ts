/**
 * `update --once` retrying a 429 within its 5-minute clock-wait budget, and clockFault, at the lines whose mutation
 * no unit test of run-update.ts noticed (some only a daemon-path or native test saw): the call's own 429 retry off
 * (`retryThrottled: waitMs === 0`), the engine's back-off count and context, the budget's `>=`, which errors count as
 * the clock's, the 1 s step threshold, and the real monotonic clock and randomness when no seam replaces them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import type { SessionCreator } from "../../src/credentials/credential-source.js";
import type { SignerFactory } from "../../src/credentials/signer-holder.js";
import { NetworkError, ServiceError } from "../../src/errors.js";
import { CLOCK_WAIT_MS, runUpdate } from "../../src/update/run-update.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { standInSettings, standInSigner } from "../helpers/stand-in.js";
import { startEndpoint, successBody } from "../rolesanywhere/support.js";

const REAL = Date.UTC(2027, 2, 1, 8, 0, 0);
const EARLIEST_RIGHT_CLOCK = Date.UTC(2026, 11, 1); // run-update.ts's
const throttled = (retryAfterMs?: number) => () =>
  new ServiceError("THROTTLED", "CreateSession was throttled (HTTP 429 ThrottlingException)", { status: 429, serviceCode: "ThrottlingException", retryAfterMs });
const clockText = "Signature expired: 20260301T080000Z is now earlier than 20270301T075500Z";

const { dir, cleanup } = makeTempDir("raa-once-throttled-");
afterAll(cleanup);
let n = 0;

/** Virtual time as in run-update.test.ts: each timer moves both clocks; at `stepAfterMs` the wall clock moves by `stepBy`. */
function scenario(opts: { start?: number; failures: (() => Error)[]; random?: () => number; stepAfterMs?: number; stepBy?: number }) {
  const clock = { wall: opts.start ?? REAL, mono: 0, stepped: false };
  const calls: number[] = [];
  const createSession: SessionCreator = async () => {
    calls.push(clock.mono);
    const failure = opts.failures.shift();
    if (failure) throw failure();
    return { accessKeyId: "AKIA1", secretAccessKey: "s", sessionToken: "t", expiration: new Date(clock.wall + 3600_000) };
  };
  const timers = {
    setTimeout: (callback: () => void, ms: number) => {
      clock.mono += ms;
      clock.wall += ms;
      if (!clock.stepped && opts.stepAfterMs !== undefined && clock.mono >= opts.stepAfterMs) {
        clock.stepped = true;
        clock.wall += opts.stepBy!;
      }
      setImmediate(callback);
    },
    clearTimeout: () => {},
  };
  const seams = {
    now: () => clock.wall, monotonic: () => clock.mono, timers, random: opts.random ?? (() => 0.5),
    createSigner: (async () => standInSigner()) as SignerFactory, createSession,
  };
  return { clock, calls, seams };
}

async function once(seams: Parameters<typeof runUpdate>[0]["seams"], extra: { clockWaitMs?: number; restartJitterMs?: number } = {}) {
  const settings = standInSettings("/nonexistent/cert.pem");
  return runUpdate({ settings: async () => settings, path: join(dir, `credentials-${++n}`), section: "boot", once: true, log: () => {}, seams, ...extra })
    .then(() => undefined, (e: unknown) => e);
}

describe("update --once and a 429: the engine's pace, within the budget", () => {
  it("honours Retry-After (5 s, longer than the 1 s minimum interval) before each new call", async () => {
    const s = scenario({ failures: Array.from({ length: 6 }, () => throttled(5_000)), random: () => 0 });
    expect(await once(s.seams)).toBeUndefined();
    const gaps = s.calls.slice(1).map((t, i) => t - s.calls[i]!);
    expect(gaps).toHaveLength(6);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(5_000);
  });

  it("backs off to the 30 s throttling ceiling (not 60 s), counting the 429s: a few dozen calls in 5 minutes, not hundreds", async () => {
    const s = scenario({ failures: Array.from({ length: 1000 }, () => throttled()), random: () => 0.9 });
    const error = await once(s.seams, { restartJitterMs: 0 });
    expect(error).toMatchObject({ code: "THROTTLED" });
    const gaps = s.calls.slice(1).map((t, i) => t - s.calls[i]!);
    expect(gaps.slice(0, 6)).toEqual([1_000, 1_800, 3_600, 7_200, 14_400, 27_000]); // 0.9 of 1, 2, 4, 8, 16, 30 s
    expect(Math.max(...gaps)).toBe(27_000);
    expect(s.calls.length).toBeLessThan(20);
  });

  it("a pause that would end just at the budget's end is not taken: the 429 stands", async () => {
    // random 0: each pause is the 1 s minimum; calls at 0, 1 and 2 s; a pause from 2 s would end at the 3 s bound.
    const s = scenario({ failures: Array.from({ length: 10 }, () => throttled()), random: () => 0 });
    expect(await once(s.seams, { clockWaitMs: 3_000, restartJitterMs: 0 })).toMatchObject({ code: "THROTTLED" });
    expect(s.calls).toEqual([0, 1_000, 2_000]);
  });
});

describe("update --once and a 429 at the real CreateSession: retried by the run, or by the call at a terminal", () => {
  let settings: ReturnType<typeof standInSettings>;
  beforeAll(() => {
    const ca = createCa(dir, { name: "ca" });
    const leaf = issueLeaf(ca, dir, { name: "leaf" });
    const arns = {
      trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/a"),
      profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/b"),
      roleArn: parseRoleArn("arn:aws:iam::111122223333:role/r"),
    };
    settings = { signer: { certificate: leaf.certPath, privateKey: leaf.keyPath }, session: { ...arns, durationSeconds: 900 }, endpoint: { endpoint: "", env: {}, timeoutMs: 10_000 } } as never;
  }, 60_000);
  const tooMany = { status: 429, body: '{"message":"Rate exceeded"}', headers: { "x-amzn-ErrorType": "ThrottlingException" } };

  /** The requests the endpoint saw when each of the run's pauses began, and the outcome. */
  async function run(clockWaitMs: number | undefined) {
    const server = await startEndpoint([tooMany, tooMany, { status: 201, body: successBody() }]);
    const pausesAt: number[] = [];
    const timers = { setTimeout: (callback: () => void) => void (pausesAt.push(server.requests.length), setImmediate(callback)), clearTimeout: () => {} };
    const ours = { ...settings, endpoint: { ...settings.endpoint, endpoint: server.url } };
    try {
      const error = await runUpdate({
        settings: async () => ours, path: join(dir, `credentials-${++n}`), section: "boot", once: true, log: () => {},
        seams: { timers, random: () => 0 }, clockWaitMs, restartJitterMs: 0,
      }).then(() => undefined, (e: unknown) => e);
      return { error, pausesAt, requests: server.requests.length };
    } finally {
      await server.close();
    }
  }

  it("under systemd (a clock-wait budget): one request per try, the run pausing between them", async () => {
    expect(await run(undefined)).toEqual({ error: undefined, pausesAt: [1, 2], requests: 3 });
  });

  it("at a terminal (no budget): the call itself retries the 429, the run never pauses", async () => {
    expect(await run(0)).toEqual({ error: undefined, pausesAt: [], requests: 3 });
  }, 20_000);
});

describe("clockFault: only the service's own refusal of the signature's time, or a certificate not valid yet by an early clock", () => {
  it("the same words from a network error, or from a ServiceError that is not the service's (a 503), fail at once", async () => {
    const failures = [
      () => new NetworkError("NETWORK_ERROR", `the proxy said: ${clockText}`),
      () => new ServiceError("SERVICE_UNAVAILABLE", `failed to answer CreateSession (HTTP 503 UnknownError: ${clockText})`, { status: 503, serviceCode: "UnknownError" }),
    ];
    for (const failure of failures) {
      const s = scenario({ failures: [failure, failure] });
      expect(await once(s.seams, { restartJitterMs: 0 })).toBeInstanceOf(Error);
      expect(s.calls).toEqual([0]);
    }
    const refused = () => new ServiceError("ACCESS_DENIED", `CreateSession refused (HTTP 403 AccessDeniedException: ${clockText})`, { status: 403, serviceCode: "AccessDeniedException", requestId: "r" });
    const s = scenario({ failures: [refused, refused] });
    expect(await once(s.seams)).toMatchObject({ code: "ACCESS_DENIED" });
    expect(s.calls).toEqual([0, CLOCK_WAIT_MS]); // the service's: waited for
  });

  it("a certificate not valid yet by a clock at the release's day itself is not the clock's fault; a millisecond before, it is", async () => {
    const notYet = () => new ServiceError("CERTIFICATE_NOT_YET_VALID" as never, "the certificate is not valid yet", { status: 0, serviceCode: "" });
    const at = scenario({ start: EARLIEST_RIGHT_CLOCK, failures: [notYet, notYet] });
    await once(at.seams);
    expect(at.calls).toEqual([0]);
    const before = scenario({ start: EARLIEST_RIGHT_CLOCK - 1, failures: [notYet, notYet] });
    await once(before.seams);
    expect(before.calls).toEqual([0, CLOCK_WAIT_MS]);
  });

  it("a wall clock moving exactly 1 s away from the monotonic one is not a step; 1 s and 1 ms is", async () => {
    const refused = () => new ServiceError("ACCESS_DENIED", `CreateSession refused (HTTP 403 AccessDeniedException: ${clockText})`, { status: 403, serviceCode: "AccessDeniedException" });
    const exact = scenario({ failures: [refused, refused], stepAfterMs: 10_000, stepBy: 1_000 });
    await once(exact.seams);
    expect(exact.calls).toEqual([0, CLOCK_WAIT_MS]);
    const past = scenario({ failures: [refused, refused], stepAfterMs: 10_000, stepBy: 1_001 });
    await once(past.seams);
    expect(past.calls).toEqual([0, 10_000, CLOCK_WAIT_MS]); // tried at the step (then again at the bound)
  });
});

describe("update --once on the real clocks and randomness (no seam for them)", () => {
  it("the clock wait is bounded by the real monotonic clock: a refusal that stays is tried at most twice in 50 ms", async () => {
    const calls: number[] = [];
    const refused = new ServiceError("ACCESS_DENIED", `CreateSession refused (HTTP 403 AccessDeniedException: ${clockText})`, { status: 403, serviceCode: "AccessDeniedException" });
    const createSession: SessionCreator = async () => {
      calls.push(calls.length);
      throw calls.length >= 5 ? new NetworkError("NETWORK_ERROR", "stopped: no bound") : refused;
    };
    const error = await once({ createSigner: (async () => standInSigner()) as SignerFactory, createSession }, { clockWaitMs: 50, restartJitterMs: 0 });
    expect(error).toBe(refused);
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it("the restart jitter draws from Math.random: some of three failed runs wait", async () => {
    const waits: number[] = [];
    const timers = { setTimeout: (callback: () => void, ms: number) => void (waits.push(ms), setImmediate(callback)), clearTimeout: () => {} };
    const down = async () => {
      throw new NetworkError("NETWORK_ERROR", "connection refused");
    };
    for (let i = 0; i < 3; i++) {
      await once({ timers, createSigner: (async () => standInSigner()) as SignerFactory, createSession: down });
    }
    expect(waits).toHaveLength(3);
    expect(Math.max(...waits)).toBeGreaterThan(0); // all three 0: a chance of 1 in 10^12
  });
});
