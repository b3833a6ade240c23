import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { CredentialCache, type RefreshEvent } from "../../src/credentials/credential-cache.js";
import { describeRefreshEvent } from "../../src/credentials/credential-source.js";
import type { Credentials } from "../../src/rolesanywhere/credentials.js";
import { AuthError, InputError, NetworkError, ServiceError, UsageError } from "../../src/errors.js";
import { errorFromResponse } from "../../src/rolesanywhere/response.js";

const MIN = 60_000;
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

let serial = 0;
function creds(expiresInMs: number, now = Date.now()): Credentials {
  serial++;
  return {
    accessKeyId: `ASIA${serial}`,
    secretAccessKey: `secret${serial}`,
    sessionToken: `token${serial}`,
    expiration: new Date(now + expiresInMs),
  };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("CredentialCache", () => {
  it("collapses 1,000 concurrent requests on an empty cache into one fetch", async () => {
    const pending = deferred<Credentials>();
    const fetch = vi.fn(() => pending.promise);
    const cache = new CredentialCache({ fetch });
    const results = Array.from({ length: 1000 }, () => cache.get());
    expect(fetch).toHaveBeenCalledTimes(1);
    const issued = creds(60 * MIN);
    pending.resolve(issued);
    const all = await Promise.all(results);
    expect(new Set(all)).toEqual(new Set([issued]));
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("serves from the cache and refreshes once, in the background, when 1,000 stale hits arrive together", async () => {
    const first = creds(60 * MIN);
    const second = deferred<Credentials>();
    const fetch = vi.fn<() => Promise<Credentials>>().mockResolvedValueOnce(first).mockImplementationOnce(() => second.promise);
    const cache = new CredentialCache({ fetch });
    await cache.get();
    vi.setSystemTime(T0 + 56 * MIN); // past the refresh point (55 min), still valid
    const hits = await Promise.all(Array.from({ length: 1000 }, () => cache.get()));
    expect(hits.every((c) => c === first)).toBe(true);
    expect(fetch).toHaveBeenCalledTimes(2);
    const renewed = creds(60 * MIN);
    second.resolve(renewed);
    await vi.advanceTimersByTimeAsync(0);
    expect(await cache.get()).toBe(renewed);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("refreshes proactively at the random point of its window that it planned", async () => {
    const fetch = vi.fn(async () => creds(60 * MIN));
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(1);
    const planned = Math.round(0.575 * (60 * MIN - 10_000)); // halfway through [0.3, 0.85] of the usable hour
    expect(cache.status().refreshAt?.getTime()).toBe(T0 + planned);
    await vi.advanceTimersByTimeAsync(planned - 1);
    expect(fetch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(2);
    cache.stop();
  });

  it("refreshes within a minute of the planned time when the wall clock jumps past it (suspend, NTP step)", async () => {
    // Before: timers run on the monotonic clock, which stands still while the machine sleeps: after a night's
    // suspend the refresh came the planned 34 min after resume, `update` leaving expired credentials in the file.
    const fetch = vi.fn(async () => creds(60 * MIN));
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    vi.setSystemTime(T0 + 8 * 60 * MIN); // the clock jumps; no timer has run meanwhile
    await vi.advanceTimersByTimeAsync(MIN);
    expect(fetch).toHaveBeenCalledTimes(2);
    cache.stop();
  });

  it("still refreshes after the planned time on the timers' clock when the wall clock steps back", async () => {
    const fetch = vi.fn(async () => creds(60 * MIN));
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    const planned = cache.status().refreshAt!.getTime() - T0;
    vi.setSystemTime(T0 - 8 * 60 * MIN);
    await vi.advanceTimersByTimeAsync(planned - 1);
    expect(fetch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(2);
    cache.stop();
  });

  it("refreshes at the planned time on the timers' clock through repeated steps back, and at once on a step past it", async () => {
    const fetch = vi.fn(async () => creds(60 * MIN));
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    const planned = cache.status().refreshAt!.getTime() - T0; // 34.4 minutes
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(Date.now() - 24 * 60 * MIN); // a flapping time source steps the clock back a day, thrice
      await vi.advanceTimersByTimeAsync(10 * MIN);
    }
    await vi.advanceTimersByTimeAsync(planned - 30 * MIN - 1);
    expect(fetch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(2);
    vi.setSystemTime(Date.now() + 3 * 24 * 60 * MIN); // and forward three days: the credentials look expired
    expect(cache.cached()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(MIN);
    expect(fetch).toHaveBeenCalledTimes(3);
    cache.stop();
  });

  it("plans each refresh with a new draw, so that two caches started together drift apart", async () => {
    const draws = [0.1, 0.9, 0.6, 0.2];
    const plan = (offset: number) => {
      let i = offset;
      return new CredentialCache({ fetch: async () => creds(60 * MIN), random: () => draws[i++ % draws.length]! });
    };
    const a = plan(0);
    const b = plan(1);
    a.start();
    b.start();
    await vi.advanceTimersByTimeAsync(0);
    const firstA = a.status().refreshAt!.getTime();
    const firstB = b.status().refreshAt!.getTime();
    expect(Math.abs(firstA - firstB)).toBeGreaterThan(20 * MIN);
    a.stop();
    b.stop();
  });

  it("keeps serving the last credentials through a failing endpoint, then errors once they expire, then recovers", async () => {
    let endpointUp = true;
    const outcomes = [
      () => new NetworkError("SERVICE_UNAVAILABLE", "CreateSession answered 503"),
      () => new NetworkError("TIMEOUT", "CreateSession timed out"),
      () => new NetworkError("NETWORK_ERROR", "connect ECONNREFUSED 127.0.0.1:1"),
    ];
    let failures = 0;
    const fetch = vi.fn(async () => {
      if (!endpointUp) throw outcomes[failures++ % outcomes.length]!();
      return creds(15 * MIN);
    });
    const events: RefreshEvent[] = [];
    const cache = new CredentialCache({ fetch, onEvent: (e) => events.push(e), random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = await cache.get();
    endpointUp = false;

    // Until 10 s before expiry the old credentials are served, although every refresh since minute 10 failed.
    for (let t = 0; t < 15 * MIN - 10_000; t += 7_000) {
      vi.setSystemTime(T0 + t);
      await vi.advanceTimersByTimeAsync(0);
      expect(await cache.get()).toBe(first);
    }
    const attemptsWhileValid = fetch.mock.calls.length - 1;
    expect(attemptsWhileValid).toBeGreaterThan(3); // it did retry…
    expect(attemptsWhileValid).toBeLessThan(40); // …with backoff, not in a loop

    // After that: an error, never the expired credentials, and never empty ones.
    vi.setSystemTime(T0 + 15 * MIN - 10_000);
    for (let i = 0; i < 20; i++) {
      await expect(cache.get()).rejects.toBeInstanceOf(NetworkError);
      await vi.advanceTimersByTimeAsync(20_000);
    }
    expect(cache.status().state).toBe("expired");
    expect(events.some((e) => e.type === "refresh-failed" && e.servingPreviousUntil !== undefined)).toBe(true);

    endpointUp = true;
    await vi.advanceTimersByTimeAsync(61_000); // at most one retry interval later the timer has fetched again
    const recovered = await cache.get();
    expect(recovered).not.toBe(first);
    expect(recovered.expiration.getTime()).toBeGreaterThan(Date.now());
    expect(cache.status().state).toBe("fresh");
    cache.stop();
  });

  it("starts refreshing short-lived credentials early enough to retry while they are still served", async () => {
    let up = true;
    const fetch = vi.fn(async () => {
      if (!up) throw new NetworkError("SERVICE_UNAVAILABLE", "503");
      return creds(20_000);
    });
    const events: RefreshEvent[] = [];
    const cache = new CredentialCache({ fetch, onEvent: (e) => events.push(e), random: () => 0.999 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    up = false;
    await vi.advanceTimersByTimeAsync(8_500); // the end of the window: 85 % of the 10 s usable lifetime
    const failure = events.find((e) => e.type === "refresh-failed");
    expect(failure).toMatchObject({ servingPreviousUntil: new Date(T0 + 10_000) });
    expect(failure!.type === "refresh-failed" && failure!.nextAttemptAt!.getTime()).toBeLessThan(T0 + 10_000);
    cache.stop();
  });

  it("never lets credentials lapse while the endpoint only throttles, even when Retry-After asks for more time than they have left", async () => {
    const throttled = () =>
      new ServiceError("THROTTLED", "CreateSession was throttled (HTTP 429 ThrottlingException: Rate exceeded)", {
        status: 429,
        serviceCode: "ThrottlingException",
        retryAfterMs: 10 * MIN,
      });
    // After the first credentials, every request is throttled until 20 s before they stop being served.
    let admitFrom = Number.NEGATIVE_INFINITY;
    const fetch = vi.fn(async () => {
      if (Date.now() < admitFrom) throw throttled();
      return creds(60 * MIN);
    });
    const events: RefreshEvent[] = [];
    const cache = new CredentialCache({ fetch, random: () => 0.5, onEvent: (e) => events.push(e) });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = await cache.get();
    admitFrom = first.expiration.getTime() - 10_000 - 20_000;

    for (let t = 0; t < 62 * MIN; t += 5_000) {
      await vi.advanceTimersByTimeAsync(5_000);
      const served = await cache.get(); // never throws: something usable is always there
      expect(served.expiration.getTime() - 10_000).toBeGreaterThan(Date.now());
    }
    const renewed = events.filter((e) => e.type === "refreshed");
    expect(renewed).toHaveLength(2);
    const failures = events.filter((e) => e.type === "refresh-failed");
    expect(failures.length).toBeGreaterThan(3);
    expect(failures.length).toBeLessThan(40); // backed off, not hammering
    for (const f of failures) {
      // Every retry was planned while the old credentials were still served.
      if (f.type === "refresh-failed") expect(f.nextAttemptAt!.getTime()).toBeLessThan(f.servingPreviousUntil!.getTime());
    }
    cache.stop();
  });

  it("a device refused with AccessDenied asks at most a few times an hour, with or without credentials to serve", async () => {
    // Before: every 30 s on average forever (60 s ceiling), and down to every second as the credentials neared expiry.
    let denied = false;
    const fetch = vi.fn(async () => {
      if (denied) throw new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403 AccessDeniedException)", { status: 403, serviceCode: "AccessDeniedException" });
      return creds(60 * MIN);
    });
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    denied = true; // the profile was disabled: every refresh from now on is refused
    const attemptsAt: number[] = [];
    fetch.mockClear();
    fetch.mockImplementation(async () => {
      attemptsAt.push(Date.now());
      throw new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403 AccessDeniedException)", { status: 403, serviceCode: "AccessDeniedException" });
    });
    await vi.advanceTimersByTimeAsync(6 * 60 * MIN);
    expect(attemptsAt.length).toBeLessThan(20); // in six hours; before: 665
    const gaps = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(30_000); // nearing expiry did not make them denser
    expect(gaps.slice(-3).every((g) => g === 30 * MIN)).toBe(true); // the 1-hour ceiling, with jitter 0.5
    cache.stop();
  });

  it("a proxy's 407 or a captive portal's HTML 403 waits up to 5 minutes: not every 30 s, not an hour (still exit 7)", async () => {
    // Paced as network failures (every ~30 s forever), 10,000 devices behind one proxy asked it ~330 times a second;
    // paced as the service's refusals (up to an hour), a laptop waited up to an hour after logging in to the portal.
    const context = { receivedAt: new Date(), endpoint: "https://rolesanywhere.eu-west-1.amazonaws.com", region: "eu-west-1" };
    const page = { "content-type": "text/html" };
    const aws = { "x-amzn-requestid": "1", "x-amzn-errortype": "AccessDeniedException" };
    const answers = [
      errorFromResponse({ status: 403, headers: page, body: Buffer.from("<html>Blocked by policy</html>") }, context),
      errorFromResponse({ status: 407, headers: { ...page, "proxy-authenticate": "Basic" }, body: Buffer.from("<html>Login</html>") }, context),
      errorFromResponse({ status: 511, headers: page, body: Buffer.from("<html>Network login</html>") }, context),
      errorFromResponse({ status: 403, headers: aws, body: Buffer.from('{"message":"Profile is disabled"}') }, context),
    ];
    const categories = [["RESPONSE_INVALID", "network"], ["NETWORK_ERROR", "network"], ["SERVICE_UNAVAILABLE", "network"], ["ACCESS_DENIED", "service"]];
    expect(answers.map((e) => [e.code, e.category])).toEqual(categories);
    const attempts = [];
    for (const answer of answers) {
      const fetch = vi.fn(async () => {
        throw answer;
      });
      const cache = new CredentialCache({ fetch, random: () => 0.5 });
      cache.start();
      await vi.advanceTimersByTimeAsync(6 * 60 * MIN);
      attempts.push(fetch.mock.calls.length);
      cache.stop();
    }
    expect(attempts[0]).toBeGreaterThan(140); // in six hours: every 2.5 min (half the 5-minute ceiling)
    expect(attempts[0]).toBeLessThan(160);
    expect(attempts[1]).toBe(attempts[0]);
    expect(attempts[2]).toBeGreaterThan(700); // a 5xx (a proxy's 502/511) stays at the network pace: every 30 s
    expect(attempts[3]).toBeLessThan(20); // the service's refusal: the 1-hour ceiling
  });

  it("a key or certificate no retry can fix (PASSWORD_REQUIRED, a mismatched renewal) is tried every few minutes, not every 30 s", async () => {
    // An agent profile with an encrypted key and no password source, or a renewal that wrote a certificate for
    // another key: local, so no quota is spent, but each attempt was logged (1–60 s ceiling: ~720 lines in 6 h).
    const input = new InputError("PASSWORD_REQUIRED", "/etc/raa/key.pem holds an encrypted private key and no password was given");
    const fetch = vi.fn(async () => creds(60 * MIN));
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = await cache.get();
    fetch.mockClear();
    fetch.mockImplementation(async () => {
      throw input;
    });
    await vi.advanceTimersByTimeAsync(50 * MIN); // the refresh time passed: the previous credentials are still served
    expect(cache.cached()).toBe(first);
    await vi.advanceTimersByTimeAsync(6 * 60 * MIN);
    expect(fetch.mock.calls.length).toBeGreaterThan(130); // every 2.5 minutes (the ceiling doubles from 1 s to 5 minutes),
    expect(fetch.mock.calls.length).toBeLessThan(185); // more often as the served credentials neared expiry; before: 765
    fetch.mockImplementation(async () => creds(60 * MIN)); // fixed (or renewed again): picked up within 5 minutes
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(cache.status().state).toBe("fresh");
    cache.stop();
  });

  it("the first refusal after a run of network failures waits under the refusal's first ceiling (60 s), not an hour", async () => {
    // A gateway booted before its uplink: network errors for a few minutes, then the profile is refused until an
    // operator enables it. The refusals' ceiling doubles from 60 s; the network failures before must not count.
    let answer: "down" | "denied" | "ok" = "down";
    const fetch = vi.fn(async () => {
      if (answer === "down") throw new NetworkError("NETWORK_ERROR", "connect ECONNREFUSED");
      if (answer === "denied") throw new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403)", { status: 403, serviceCode: "AccessDeniedException" });
      return creds(60 * MIN);
    });
    const cache = new CredentialCache({ fetch, random: () => 0.999999 });
    cache.start();
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(cache.status().consecutiveFailures).toBeGreaterThanOrEqual(7);
    answer = "denied";
    const refusedAt = fetch.mock.calls.length;
    await vi.advanceTimersByTimeAsync(MIN);
    expect(fetch.mock.calls.length).toBe(refusedAt + 1); // the first refusal
    expect(cache.status().nextAttemptAt!.getTime() - Date.now()).toBeLessThanOrEqual(MIN);
    answer = "ok"; // fixed: the device holds credentials within the refusal's first minute
    await vi.advanceTimersByTimeAsync(MIN);
    expect(cache.status().state).toBe("fresh");

    // Refusals between network errors still climb to the hour: the errors between them do not start them over.
    let calls = 0;
    answer = "denied";
    fetch.mockImplementation(async () => {
      if (++calls % 2 === 0) throw new NetworkError("NETWORK_ERROR", "connect ECONNREFUSED");
      throw new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403)", { status: 403, serviceCode: "AccessDeniedException" });
    });
    await vi.advanceTimersByTimeAsync(60 * MIN); // credentials lapse; refusals 60 s, 2, 4, 8… minutes apart
    const before = fetch.mock.calls.length;
    await vi.advanceTimersByTimeAsync(6 * 60 * MIN);
    expect(fetch.mock.calls.length - before).toBeLessThan(16);
    cache.stop();
  });

  // A device booted with its RTC a day ahead: every signature is refused ("Signature expired") until NTP steps the
  // clock back; the refusals had pushed the wait to the 1-hour ceiling, which a fixed clock must not sit out.
  const DAY = 24 * 60 * MIN;
  const refusedWhileAhead = () =>
    vi.fn(async () => {
      if (Date.now() < T0 - DAY / 2) return creds(60 * MIN);
      const details = { status: 403, serviceCode: "InvalidSignatureException" };
      throw new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403 InvalidSignatureException: Signature expired)", details);
    });

  it("on a simulation's virtual clocks, time passing is not a clock step: a refusal's back-off is sat out", async () => {
    // Before `monotonic` was injectable, virtual minutes against a real performance.now() looked like a clock step.
    let t = T0;
    let calls = 0;
    const fetch = async (): Promise<Credentials> => {
      calls++;
      throw new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403 AccessDeniedException)", { status: 403, serviceCode: "AccessDeniedException" });
    };
    const cache = new CredentialCache({ fetch, now: () => t, monotonic: () => t - T0, random: () => 0.5 });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await expect(cache.get()).rejects.toMatchObject({ code: "ACCESS_DENIED" });
      waits.push(cache.status().nextAttemptAt!.getTime() - t);
      t = cache.status().nextAttemptAt!.getTime();
    }
    expect([waits, calls]).toEqual([[30_000, 60_000, 120_000, 240_000, 480_000], 5]); // from 60 s, doubling, × 0.5
    t -= 60_000; // a minute before the 8-minute wait ends, on both clocks
    await expect(cache.get()).rejects.toMatchObject({ code: "ACCESS_DENIED" });
    expect(calls).toBe(5); // still waiting: no sixth CreateSession
    t += 60_000;
    await expect(cache.get()).rejects.toMatchObject({ code: "ACCESS_DENIED" });
    expect(calls).toBe(6);
  });

  it("a refusal's back-off ends when NTP steps the clock back (a device booted with its clock ahead)", async () => {
    const fetch = refusedWhileAhead();
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(152 * MIN); // refusals up to the ceiling; the last one 30 s ago, the next in 29.5 min
    const refusals = fetch.mock.calls.length;
    expect(cache.status().nextAttemptAt!.getTime() - Date.now()).toBeGreaterThan(20 * MIN);
    vi.setSystemTime(Date.now() - DAY); // NTP corrects the clock
    await vi.advanceTimersByTimeAsync(60_000); // the timer looks at the clock at least once a minute
    expect(fetch).toHaveBeenCalledTimes(refusals + 1);
    expect(cache.status().state).toBe("fresh");
    cache.stop();
  });

  it("without a timer (the SDK provider), a call after the clock was stepped back tries again at once", async () => {
    const fetch = refusedWhileAhead();
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    for (let i = 0; i < 8; i++) {
      await expect(cache.get()).rejects.toThrow("Signature expired");
      await vi.advanceTimersByTimeAsync(60 * MIN);
    }
    await expect(cache.get()).rejects.toThrow("Signature expired");
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(cache.get()).rejects.toThrow("Signature expired"); // a clock that stays wrong: the hour stands
    expect(fetch).toHaveBeenCalledTimes(9);
    vi.setSystemTime(Date.now() - DAY);
    await expect(cache.get()).resolves.toMatchObject({ accessKeyId: expect.stringMatching(/^ASIA/) });
    expect(fetch).toHaveBeenCalledTimes(10);
  });

  it("a refusal's back-off ends when NTP stepped the clock while the refused request was on its way", async () => {
    let attempts = 0;
    const fetch = vi.fn(async () => {
      if (++attempts < 9) throw new ServiceError("ACCESS_DENIED", "Signature expired", { status: 403, serviceCode: "InvalidSignatureException" });
      if (attempts > 9) return creds(60 * MIN);
      vi.setSystemTime(Date.now() - DAY); // the clock is corrected between signing and the answer
      throw new ServiceError("ACCESS_DENIED", "Signature expired", { status: 403, serviceCode: "InvalidSignatureException" });
    });
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(92 * MIN); // the 9th refusal 30 s ago: its wait would be 29.5 minutes more
    expect(fetch).toHaveBeenCalledTimes(9);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch).toHaveBeenCalledTimes(10);
    expect(cache.status().state).toBe("fresh");
    cache.stop();
  });

  it("a certificate 'expired' by a clock years ahead is tried again within a minute of NTP stepping it back", async () => {
    // Before: the wait after the local CERTIFICATE_EXPIRED (up to 5 minutes) was sat out on the monotonic clock.
    const fetch = vi.fn(async () => {
      if (Date.now() < T0 + DAY) return creds(60 * MIN);
      throw new InputError("CERTIFICATE_EXPIRED", "the certificate expired 300 d ago (…)");
    });
    vi.setSystemTime(T0 + 365 * DAY); // the RTC a year ahead at boot
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(20 * MIN); // failures up to the 5-minute ceiling: 150 s apart at 0.5
    const failures = fetch.mock.calls.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(cache.status().nextAttemptAt!.getTime() - Date.now()).toBeGreaterThan(90_000);
    vi.setSystemTime(Date.now() - 365 * DAY); // NTP
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch).toHaveBeenCalledTimes(failures + 1);
    expect(cache.status().state).toBe("fresh");
    cache.stop();
  });

  it.each([
    // An RTC with a flat battery, a year behind at boot, until NTP steps it forward: retried within the minute.
    ["a certificate 'not yet valid' to a clock a year behind", "CERTIFICATE_NOT_YET_VALID", -365 * DAY, true],
    // Only the clock's own failures end their wait at a step.
    ["a key error", "PRIVATE_KEY_INVALID", 0, false],
  ] as const)("%s (%s), the clock %d ms off, then stepped: tried again within a minute: %s", async (_what, code, offset, retried) => {
    const fetch = vi.fn(async (): Promise<Credentials> => {
      if (code === "CERTIFICATE_NOT_YET_VALID" && Date.now() > T0 - DAY) return creds(60 * MIN);
      throw new InputError(code, "the certificate is valid only from … / could not read private key …");
    });
    vi.setSystemTime(T0 + offset);
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(20 * MIN);
    const failures = fetch.mock.calls.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(cache.status().nextAttemptAt!.getTime() - Date.now()).toBeGreaterThan(90_000);
    vi.setSystemTime(Date.now() + (offset === 0 ? -365 * DAY : -offset)); // NTP
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch).toHaveBeenCalledTimes(retried ? failures + 1 : failures);
    if (retried) expect(cache.status().state).toBe("fresh");
    cache.stop();
  });

  it("a refusal's back-off holds through small clock corrections and steps before it (bounded calls)", async () => {
    const fetch = vi.fn(async (): Promise<Credentials> => {
      throw new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403 AccessDeniedException)", { status: 403, serviceCode: "AccessDeniedException" });
    });
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    vi.setSystemTime(Date.now() + DAY); // a step before the refusal changes nothing
    await vi.advanceTimersByTimeAsync(152 * MIN); // the last refusal 30 s ago, the next in 29.5 minutes
    const refusals = fetch.mock.calls.length;
    vi.setSystemTime(Date.now() - 4 * MIN); // NTP trims a few minutes: signatures were within the limit already
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(fetch).toHaveBeenCalledTimes(refusals);
    cache.stop();
  });

  it("honours Retry-After when it has nothing to serve: no CreateSession before it, however many callers ask", async () => {
    let throttle = true;
    const fetch = vi.fn(async () => {
      if (throttle) throw new ServiceError("THROTTLED", "throttled", { status: 429, serviceCode: "ThrottlingException", retryAfterMs: 30_000 });
      return creds(60 * MIN);
    });
    const cache = new CredentialCache({ fetch, random: () => 0 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 29; i++) {
      await vi.advanceTimersByTimeAsync(1_000);
      await expect(cache.get()).rejects.toMatchObject({ code: "THROTTLED" });
    }
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(cache.status().nextAttemptAt?.getTime()).toBe(T0 + 30_000);
    throttle = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(cache.status().state).toBe("fresh");
    cache.stop();
  });

  it("answers callers with the last error during backoff instead of calling CreateSession again", async () => {
    const fetch = vi.fn(async (): Promise<Credentials> => {
      throw new ServiceError("SERVICE_ERROR", "CreateSession failed: 500", { status: 500, serviceCode: "InternalFailure" });
    });
    const cache = new CredentialCache({ fetch, random: () => 0 });
    await expect(cache.get()).rejects.toThrow("CreateSession failed: 500");
    for (let i = 0; i < 100; i++) await expect(cache.get()).rejects.toThrow("CreateSession failed: 500");
    expect(fetch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_000); // minimum retry interval
    await expect(cache.get()).rejects.toThrow();
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("without a timer (the SDK provider), no backoff is stretched by the wall clock stepping back (NTP)", async () => {
    const fetch = vi.fn(async (): Promise<Credentials> => {
      const details = { status: 429, serviceCode: "ThrottlingException", retryAfterMs: 5 * MIN };
      throw new ServiceError("THROTTLED", "Rate exceeded", details);
    });
    const cache = new CredentialCache({ fetch, random: () => 0 });
    await expect(cache.get()).rejects.toThrow("Rate exceeded");
    vi.setSystemTime(T0 - 24 * 60 * MIN); // the device's clock was a day ahead; NTP corrects it
    await vi.advanceTimersByTimeAsync(5 * MIN - 1_000);
    await expect(cache.get()).rejects.toThrow("Rate exceeded");
    expect(fetch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_000); // the 5 minutes asked for have passed, whatever the wall clock says
    await expect(cache.get()).rejects.toThrow("Rate exceeded");
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it.each([
    ["an authentication failure (wrong PIN)", () => new AuthError("PIN_INCORRECT", "the token rejected the PIN")],
    ["a usage error (a setting that can never work, e.g. a bad tpm-device in a profile)", () => new UsageError("USAGE", "--tpm-device is not valid")],
  ])("never retries %s: it needs a fix and a reload", async (_, failure) => {
    const fetch = vi.fn(async (): Promise<Credentials> => {
      throw failure();
    });
    const cache = new CredentialCache({ fetch });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(60 * MIN);
    for (let i = 0; i < 10; i++) await expect(cache.get()).rejects.toThrow(failure().message);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(cache.status().state).toBe("failed");
    cache.stop();
  });

  it("refuses empty or already expired credentials from the fetch", async () => {
    const bad: [Credentials, string][] = [
      [{ accessKeyId: "", secretAccessKey: "", sessionToken: "", expiration: new Date(T0 + 60 * MIN) }, "RESPONSE_INVALID"],
      [{ accessKeyId: "A", secretAccessKey: "S", sessionToken: "T", expiration: new Date(Number.NaN) }, "CREDENTIALS_EXPIRED"],
      [{ accessKeyId: "A", secretAccessKey: "S", sessionToken: "T", expiration: new Date(T0 - 1) }, "CREDENTIALS_EXPIRED"],
      [{ accessKeyId: "A", secretAccessKey: "S", sessionToken: "T", expiration: new Date(T0 + 5_000) }, "CREDENTIALS_EXPIRED"],
    ];
    for (const [c, code] of bad) {
      const cache = new CredentialCache({ fetch: async () => c });
      await expect(cache.get()).rejects.toMatchObject({ code });
    }
  });

  it("wraps unexpected (non-agent) errors so callers always get a coded error", async () => {
    const cache = new CredentialCache({
      fetch: async () => {
        throw new TypeError("boom");
      },
    });
    await expect(cache.get()).rejects.toMatchObject({ code: "INTERNAL" });
  });

  it("says the installation changed, and to restart, when a module it loads late is gone (upgraded)", async () => {
    // npm replaces the package directory; the daemon's chunks of the old build are gone. Before: "refresh failed
    // (INTERNAL): refreshing credentials failed unexpectedly: Cannot find module '…/pkcs11-5YKXTVMV.mjs' imported
    // from …", retried every few seconds.
    const gone = join(tmpdir(), `raa-gone-${process.pid}`, "pkcs11-5YKXTVMV.mjs");
    const cache = new CredentialCache({ fetch: async () => (await import(gone)) as Credentials });
    const error = (await cache.get().catch((e: unknown) => e)) as InputError;
    expect(error).toBeInstanceOf(InputError);
    expect(error.toOneLine()).toBe(
      `the installation changed since this process started, or is incomplete: ${gone} is missing ` +
        "(restart it once installed; reinstall if it repeats)",
    );
    // Any other error stays a bug to report.
    const builtin = "node:no-such-module";
    const never = new CredentialCache({ fetch: async () => (await import(builtin)) as Credentials });
    await expect(never.get()).rejects.toMatchObject({ code: "INTERNAL" });
  });

  it("says the installation is incomplete, and to restart, when a module it loads late is cut short (npm writing it)", async () => {
    // npm writes the package's files one by one; a daemon that imports a chunk meanwhile gets part of it. Node keeps
    // the failed module for the process's life, so the profile failed for good, while the install completed, with
    // "refresh failed (INTERNAL): refreshing credentials failed unexpectedly: Unexpected end of input" and no hint.
    // Node's own import(), as the daemon's (vitest's parses the file itself), in a worker that hands its error over.
    const nodeImport = async (path: string) => {
      const worker = new Worker("import(require('node:worker_threads').workerData)", { eval: true, workerData: path });
      throw (await once(worker, "error"))[0];
    };
    const dir = mkdtempSync(join(tmpdir(), "raa-cut-"));
    try {
      writeFileSync(join(dir, "cut.mjs"), "export const createPkcs11Signer = [1,\n");
      writeFileSync(join(dir, "empty.mjs"), "");
      writeFileSync(join(dir, "importer.mjs"), 'import { a } from "./empty.mjs";\nexport const b = a;\n');
      const cases: [string, string][] = [
        ["cut.mjs", "Unexpected end of input"],
        ["importer.mjs", "The requested module './empty.mjs' does not provide an export named 'a'"],
      ];
      for (const [file, what] of cases) {
        const cache = new CredentialCache({ fetch: async () => (await nodeImport(join(dir, file))) as Credentials });
        const error = (await cache.get().catch((e: unknown) => e)) as InputError;
        expect(error).toBeInstanceOf(InputError);
        expect(error.toOneLine()).toBe(
          `the installation changed since this process started, or is incomplete: a module does not compile (${what}) ` +
            "(restart it once installed; reinstall if it repeats)",
        );
      }
      // A SyntaxError of the program's own (JSON.parse) stays a bug to report.
      const json = new CredentialCache({ fetch: async () => JSON.parse("{") as Credentials });
      await expect(json.get()).rejects.toMatchObject({ code: "INTERNAL" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports its state without secrets", async () => {
    const cache = new CredentialCache({ fetch: async () => creds(60 * MIN) });
    expect(cache.status().state).toBe("empty");
    await cache.get();
    const status = cache.status();
    expect(status.state).toBe("fresh");
    expect(JSON.stringify(status)).not.toMatch(/secret|token\d/);
  });

  it("property: whatever the endpoint does and whenever callers ask, get() never yields unusable credentials", async () => {
    type Step = { advanceMs: number; outcome: "ok" | "fail" | "auth" | "expired" | "empty"; lifetimeMin: number; callers: number };
    const step = fc.record({
      advanceMs: fc.integer({ min: 0, max: 10 * MIN }),
      outcome: fc.constantFrom<Step["outcome"]>("ok", "ok", "fail", "fail", "expired", "empty", "auth"),
      lifetimeMin: fc.integer({ min: 1, max: 60 }),
      callers: fc.integer({ min: 1, max: 5 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        vi.setSystemTime(T0);
        let next: Step = steps[0]!;
        let inFlight = 0;
        let maxInFlight = 0;
        const fetch = async (): Promise<Credentials> => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await Promise.resolve();
          inFlight--;
          switch (next.outcome) {
            case "ok":
              return creds(next.lifetimeMin * MIN);
            case "fail":
              throw new NetworkError("SERVICE_UNAVAILABLE", "503");
            case "auth":
              throw new AuthError("PIN_INCORRECT", "bad PIN");
            case "expired":
              return creds(-1000);
            case "empty":
              return { accessKeyId: "", secretAccessKey: "", sessionToken: "", expiration: new Date(Date.now() + MIN) };
          }
        };
        const cache = new CredentialCache({ fetch });
        cache.start();
        for (const s of steps) {
          next = s;
          await vi.advanceTimersByTimeAsync(s.advanceMs);
          const results = await Promise.allSettled(Array.from({ length: s.callers }, () => cache.get()));
          for (const r of results) {
            if (r.status === "fulfilled") {
              expect(r.value.accessKeyId).not.toBe("");
              expect(r.value.expiration.getTime() - 10_000).toBeGreaterThan(Date.now());
            } else {
              expect(r.reason).toHaveProperty("code");
            }
          }
        }
        cache.stop();
        expect(maxInFlight).toBe(1);
      }),
      { numRuns: 150 },
    );
  });
});

describe("CredentialCache with this host's clock behind the endpoint's", () => {
  // The service measures Expiration by its own clock: 4 minutes behind it (signatures still pass), credentials
  // handed out until our clock reached Expiration − 10 s had been refused by AWS for the last 3 min 50 s.
  const issued = (lifetimeMs: number, clockSkewMs: number | undefined) => ({ ...creds(lifetimeMs), clockSkewMs });

  it("hands credentials out and refreshes them as much earlier as the endpoint's Date was ahead", async () => {
    const first = issued(60 * MIN, 4 * MIN);
    const fetch = vi.fn().mockResolvedValueOnce(first).mockReturnValue(new Promise(() => {})); // later refreshes hang
    const events: RefreshEvent[] = [];
    const cache = new CredentialCache({ fetch, random: () => 0.999999, onEvent: (e) => events.push(e) });
    await cache.get();
    expect(events).toEqual([expect.objectContaining({ type: "refreshed", clockBehindMs: 4 * MIN })]);
    expect(describeRefreshEvent("gw", events[0]!)).toMatch(
      /^gw: new credentials, valid until 2030-01-01T13:00:00Z; next refresh at 2030-01-01T12:47:2\dZ; this host's clock is 4 min behind the endpoint's, so they are handed out 4 min less long: fix the clock \(NTP\)$/,
    );
    const refreshAt = cache.status().refreshAt!.getTime();
    expect(refreshAt).toBeLessThanOrEqual(T0 + 0.85 * (56 * MIN - 10_000)); // before: 0.85 of 59 min 50 s
    expect(refreshAt).toBeGreaterThan(T0 + 0.85 * (56 * MIN - 10_000) - 1_000);
    vi.setSystemTime(T0 + 56 * MIN - 10_001); // the service's clock: 10 s before Expiration
    expect(cache.cached()).toBe(first);
    // The status says until when they are handed out, next to the service's Expiration: a monitor reading "fresh"
    // with 4 minutes left must know that "expired" comes then (before: only the Expiration, 4 min 10 s later).
    expect(cache.status()).toMatchObject({ state: "stale", expiration: new Date(T0 + 60 * MIN), servedUntil: new Date(T0 + 56 * MIN - 10_000) });
    vi.setSystemTime(T0 + 56 * MIN - 10_000);
    expect(cache.cached()).toBeUndefined(); // before: handed out until 59 min 50 s, 4 minutes past the service's expiry
    expect(cache.status()).toMatchObject({ state: "expired", servedUntil: new Date(T0 + 56 * MIN - 10_000) });
  });

  it("a clock ahead of the endpoint's, or no Date, keeps the 10 s margin", async () => {
    for (const skew of [-4 * MIN, undefined, Number.NaN]) {
      vi.setSystemTime(T0);
      const events: RefreshEvent[] = [];
      const fetch = vi.fn().mockResolvedValueOnce(issued(60 * MIN, skew)).mockReturnValue(new Promise(() => {}));
      const cache = new CredentialCache({ fetch, onEvent: (e) => events.push(e) });
      await cache.get();
      expect(describeRefreshEvent("gw", events[0]!)).toMatch(/next refresh at [-0-9T:]+Z$/); // no word on the clock
      vi.setSystemTime(T0 + 60 * MIN - 10_001);
      expect(cache.cached()).toBeDefined();
    }
  });

  it("a hostile or broken Date counts for at most 5 minutes and half the lifetime: no refresh loop, never nothing to hand out", async () => {
    const cache = new CredentialCache({ fetch: vi.fn().mockResolvedValueOnce(issued(60 * MIN, 1e12)).mockReturnValue(new Promise(() => {})) });
    await cache.get();
    vi.setSystemTime(T0 + 55 * MIN - 10_001);
    expect(cache.cached()).toBeDefined(); // 5 minutes early, not never
    vi.setSystemTime(T0 + 55 * MIN - 10_000);
    expect(cache.cached()).toBeUndefined();

    // Two-minute credentials and a Date a year ahead: served for half their life, refreshed at a sane pace.
    vi.setSystemTime(T0);
    const fetch = vi.fn(async () => issued(2 * MIN, 365 * 24 * 60 * MIN));
    const short = new CredentialCache({ fetch });
    short.start();
    let gaps = 0;
    for (let t = 0; t < 60 * MIN; t += 1_000) {
      await vi.advanceTimersByTimeAsync(1_000);
      if (!short.cached()) gaps++;
    }
    short.stop();
    expect(gaps).toBe(0);
    expect(fetch.mock.calls.length).toBeLessThan(200); // one every 16–47 s (55 s of use each); a loop: 3,600
  });
});

describe("CredentialCache under clock steps", () => {
  it("a wall clock stepped back after the credentials came does not stretch them past the service's expiry", async () => {
    // A bad NTP source or a hand-set date puts the clock an hour back; the refreshes are then refused ("Signature
    // expired", 403 with the endpoint's Date). Before, the credentials were handed out for another hour by the wrong
    // clock, all of it after the service had expired them (ExpiredToken for every caller, state "stale").
    const fetch = vi.fn(async () => creds(60 * MIN));
    const cache = new CredentialCache({ fetch, random: () => 0.5 });
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = await cache.get();
    fetch.mockImplementation(async () => {
      throw new ServiceError("ACCESS_DENIED", "Signature expired", { status: 403, serviceCode: "InvalidSignatureException", requestId: "r" });
    });
    await vi.advanceTimersByTimeAsync(10 * MIN);
    vi.setSystemTime(Date.now() - 60 * MIN);
    await vi.advanceTimersByTimeAsync(50 * MIN - 10_000 - 1);
    expect(cache.cached()).toBe(first);
    expect(cache.status().servedUntil!.getTime()).toBe(Date.now() + 1);
    await vi.advanceTimersByTimeAsync(1); // 59 min 50 s after they came: 10 s before the service's Expiration
    expect(cache.cached()).toBeUndefined();
    expect(cache.status().state).toBe("expired");
    await expect(cache.get()).rejects.toMatchObject({ code: "ACCESS_DENIED" });
    cache.stop();
  });

  it("property: with the wall clock stepped either way at any moment, CreateSessions are 1 s apart (a step may end that wait) and bounded", async () => {
    type Step = { advanceMs: number; stepMs: number; outcome: "ok" | "fail" | "refused" | "throttled"; callers: number; forced: boolean };
    const step = fc.record({
      advanceMs: fc.integer({ min: 0, max: 20 * MIN }),
      stepMs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -2 * 24 * 60 * MIN, max: 2 * 24 * 60 * MIN })),
      outcome: fc.constantFrom<Step["outcome"]>("ok", "fail", "refused", "refused", "throttled"),
      callers: fc.integer({ min: 0, max: 3 }),
      forced: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), fc.boolean(), async (steps, timer) => {
        vi.setSystemTime(T0);
        let next: Step = steps[0]!;
        const fetchedAt: { at: number; steps: number }[] = [];
        let stepped = 0;
        const fetch = async (): Promise<Credentials> => {
          // vitest's fake performance.now() (useFakeTimers fakes it, as the cache's default monotonic clock): virtual
          // time moved by advanceTimersByTimeAsync, so "1 s apart" needs no real second (150 runs: ~0.2 s).
          fetchedAt.push({ at: performance.now(), steps: stepped });
          await Promise.resolve();
          switch (next.outcome) {
            case "ok":
              return creds(60 * MIN);
            case "fail":
              throw new NetworkError("SERVICE_UNAVAILABLE", "503");
            case "throttled":
              throw new ServiceError("THROTTLED", "429", { status: 429, serviceCode: "ThrottlingException", retryAfterMs: 2_000 });
            case "refused":
              throw new ServiceError("ACCESS_DENIED", "403", { status: 403, serviceCode: "AccessDeniedException" });
          }
        };
        const cache = new CredentialCache({ fetch });
        if (timer) cache.start();
        for (const s of steps) {
          next = s;
          if (s.stepMs !== 0) {
            vi.setSystemTime(Date.now() + s.stepMs);
            stepped++;
          }
          await vi.advanceTimersByTimeAsync(s.advanceMs);
          const results = await Promise.allSettled(Array.from({ length: s.callers }, () => cache.get({ forceRefresh: s.forced })));
          for (const r of results) {
            if (r.status === "fulfilled") expect(r.value.expiration.getTime() - 10_000).toBeGreaterThan(Date.now());
            else expect(r.reason).toHaveProperty("code");
          }
        }
        cache.stop();
        // Under a second apart on the monotonic clock only across a step of the wall clock (either clock ends a wait).
        const close = fetchedAt.slice(1).filter((f, i) => f.at - fetchedAt[i]!.at < 1_000 && f.steps === fetchedAt[i]!.steps);
        expect(close).toEqual([]);
        // Bounded: the whole run lasts at most 40 × 20 minutes; even at the 1-second floor that is 48,000; a hot
        // loop (a wait that ends at once, again and again) would show as thousands.
        const steps_ = steps.filter((s) => s.stepMs !== 0).length;
        const minutes = steps.reduce((sum, s) => sum + s.advanceMs, 0) / MIN;
        expect(fetchedAt.length).toBeLessThanOrEqual(steps_ + steps.length * 4 + minutes * 4 + 10);
      }),
      { numRuns: 150 },
    );
  });
});

describe("forceRefresh (the SDK's, after a session was revoked)", () => {
  it("fetches anew on a hit, but never after a final error: a wrong PIN is not tried again", async () => {
    // Mutants ignoring forceRefresh, or forcing a fetch past a final error (the token counts each try), survived.
    const fetch = vi.fn(async () => creds(60 * MIN));
    const cache = new CredentialCache({ fetch, now: Date.now, random: () => 0.5 });
    await cache.get();
    vi.advanceTimersByTime(2000); // past the minimum interval between attempts
    await cache.get({ forceRefresh: true });
    expect(fetch).toHaveBeenCalledTimes(2);
    const refused = new AuthError("PIN_INCORRECT", "the token rejected the PIN");
    const pin = vi.fn(async (): Promise<Credentials> => {
      throw refused;
    });
    const locked = new CredentialCache({ fetch: pin, now: Date.now, random: () => 0.5 });
    await expect(locked.get()).rejects.toBe(refused);
    vi.advanceTimersByTime(10 * MIN);
    await expect(locked.get({ forceRefresh: true })).rejects.toBe(refused);
    expect(pin).toHaveBeenCalledTimes(1);
  });
});

describe("describeRefreshEvent for update (what its credentials file holds)", () => {
  it("a failure not retried (a wrong PIN) says what the file holds too, as a retried one does", () => {
    // Before: only "not retried (fix it, …)"; the retried line said whether the file still held valid credentials.
    const error = new AuthError("PIN_INCORRECT", "the token rejected the PIN");
    const failed: RefreshEvent = { type: "refresh-failed", error, consecutiveFailures: 1, nextAttemptAt: undefined, servingPreviousUntil: undefined };
    const written = new Date("2030-01-01T13:00:00Z");
    expect(describeRefreshEvent("gw", failed, { written, now: written.getTime() - MIN })).toBe(
      "gw: refresh failed (PIN_INCORRECT): the token rejected the PIN; not retried (fix it, then reload with SIGHUP or restart)"
        + "; the credentials file keeps the previous ones, valid until 2030-01-01T13:00:00Z",
    );
    expect(describeRefreshEvent("gw", failed)).toBe( // agent, serve: as before
      "gw: refresh failed (PIN_INCORRECT): the token rejected the PIN; not retried (fix it, then reload with SIGHUP or restart)",
    );
  });
});
