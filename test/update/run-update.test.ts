/**
 * `update --once` at a boot before NTP: a failure that is the clock's (a certificate refused for its dates by a clock
 * before this release, the service refusing the signature's time) is tried again when the wall clock steps, for
 * CLOCK_WAIT_MS at most; anything else fails at once, as before. Injected clocks and timers: virtual time.
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CLOCK_WAIT_MS, RESTART_JITTER_MS, runUpdate } from "../../src/update/run-update.js";
import { seededRandom } from "../../bench/lib/virtual-time.js";
import type { SessionCreator } from "../../src/credentials/credential-source.js";
import type { SignerFactory } from "../../src/credentials/signer-holder.js";
import { AuthError, InputError, NetworkError, ServiceError } from "../../src/errors.js";
import { heldSecret, readSecret } from "../../src/secrets/secret-source.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { ARNS } from "../local-endpoint/support.js";
import { Secret } from "../../src/secrets/secret.js";
import type { SignerOptions } from "../../src/signers/options.js";
import { makeTempDir } from "../helpers/pki.js";
import { standInSettings, standInSigner } from "../helpers/stand-in.js";

const settings = standInSettings("/nonexistent/cert.pem");
const signer = standInSigner();

const BOOT = Date.UTC(1970, 0, 1, 0, 0, 12); // a gateway without a battery-backed clock
const REAL = Date.UTC(2027, 2, 1, 8, 0, 0);
const notYetValid = () =>
  new InputError("CERTIFICATE_NOT_YET_VALID", "the certificate is not valid for another 20597 d (this machine's clock says 1970-01-01 00:00:12 UTC)");

/**
 * Virtual time: each timer advances the wall and monotonic clocks by its delay; the wall clock is set to
 * `stepTo` (NTP) once `stepAfterMs` have passed. `calls` records the wall and monotonic clocks at each CreateSession.
 */
function scenario(opts: { start: number; stepAfterMs?: number; stepTo?: number; failures: (() => Error)[] }) {
  const clock = { wall: opts.start, mono: 0, stepped: false };
  const calls: { wall: number; mono: number }[] = [];
  let timers = 0;
  const createSession: SessionCreator = async () => {
    calls.push({ wall: clock.wall, mono: clock.mono });
    const failure = opts.failures.shift();
    if (failure) throw failure();
    return { accessKeyId: "AKIA1", secretAccessKey: "s", sessionToken: "t", expiration: new Date(clock.wall + 3600_000) };
  };
  const seams = {
    now: () => clock.wall,
    monotonic: () => clock.mono,
    timers: {
      setTimeout: (callback: () => void, ms: number) => {
        timers++;
        clock.mono += ms;
        clock.wall += ms;
        if (!clock.stepped && opts.stepAfterMs !== undefined && clock.mono >= opts.stepAfterMs) {
          clock.stepped = true;
          clock.wall = opts.stepTo!;
        }
        setImmediate(callback);
        return undefined;
      },
      clearTimeout: () => {},
    },
    createSigner: (async () => signer) as SignerFactory,
    createSession,
  };
  return { clock, calls, seams, timers: () => timers };
}

describe("update --once and the clock", () => {
  const { dir, cleanup } = makeTempDir("raa-run-update-");
  afterAll(cleanup);
  let n = 0;

  const once = async (s: ReturnType<typeof scenario>, clockWaitMs?: number) => {
    const path = join(dir, `credentials-${++n}`);
    const log: string[] = [];
    const run = runUpdate({
      settings: async () => settings, path, section: "boot", once: true, log: (l) => log.push(l), seams: s.seams, clockWaitMs,
    });
    const error = await run.then(() => undefined, (e: unknown) => e);
    return { path, log, error };
  };

  it("a certificate not valid yet by a clock at 1970: waits, and tries again as soon as NTP steps the clock", async () => {
    const s = scenario({ start: BOOT, stepAfterMs: 40_000, stepTo: REAL, failures: [notYetValid] });
    const { path, log, error } = await once(s);
    expect(error).toBeUndefined();
    expect(s.calls).toHaveLength(2);
    expect(s.calls[1]!.wall).toBeGreaterThanOrEqual(REAL);
    expect(s.calls[1]!.mono).toBeLessThanOrEqual(41_000); // at the step, not at the bound
    expect(s.timers()).toBeLessThanOrEqual(41); // one look at the wall clock a second: no busy loop
    expect(readFileSync(path, "utf8")).toContain("aws_access_key_id = AKIA1");
    expect(log).toHaveLength(2);
    expect(log[0]).toMatch(/^boot: the certificate is not valid for another .*; waiting up to 5 min for the system clock to be set \(NTP\): it said 1970-01-01 00:00:12 UTC, before this release was built$/);
    expect(log[1]).toMatch(/^wrote profile \[boot\]/);
  });

  it("a clock never set: gives up after the bound (monotonic clock), with the certificate's error", async () => {
    const s = scenario({ start: BOOT, failures: [notYetValid, notYetValid] });
    const { error, log } = await once(s);
    expect(error).toMatchObject({ code: "CERTIFICATE_NOT_YET_VALID" });
    expect(s.calls.map((c) => c.mono)).toEqual([0, CLOCK_WAIT_MS]);
    expect(s.timers()).toBe(CLOCK_WAIT_MS / 1000);
    expect(log).toHaveLength(1);
  });

  it("a step that does not fix it (the firmware's date first, then NTP) waits on, silently", async () => {
    const s = scenario({ start: BOOT, stepAfterMs: 5_000, stepTo: BOOT + 86_400_000 * 400, failures: [notYetValid, notYetValid, notYetValid] });
    const { error, log } = await once(s);
    expect(error).toMatchObject({ code: "CERTIFICATE_NOT_YET_VALID" });
    expect(s.calls.map((c) => c.mono)).toEqual([0, 5_000, CLOCK_WAIT_MS]);
    expect(log).toHaveLength(1);
  });

  it("a step while the attempt ran (NTP set the clock meanwhile): tried again at once", async () => {
    const s = scenario({ start: BOOT, failures: [() => ((s.clock.wall = REAL), notYetValid())] });
    const { error, log } = await once(s);
    expect(error).toBeUndefined();
    expect(s.calls.map((c) => c.mono)).toEqual([0, 0]);
    expect(log[0]).toMatch(/it said 1970-01-01 00:00:12 UTC, before this release was built$/);
  });

  it("the service refusing the signature's time (Signature expired): waits for the step too", async () => {
    const refused = () =>
      new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403 AccessDeniedException: Signature expired: 20260301T080000Z is now earlier than 20270301T075500Z)", { status: 403, serviceCode: "AccessDeniedException", requestId: "r" });
    const s = scenario({ start: REAL + 3600_000, stepAfterMs: 10_000, stepTo: REAL, failures: [refused] });
    const { error, log } = await once(s);
    expect(error).toBeUndefined();
    expect(s.calls).toHaveLength(2);
    expect(log[0]).toMatch(/waiting up to 5 min for the system clock to be set \(NTP\): it said 2027-03-01 09:00:00 UTC, and the service refused the signature's time$/);
  });

  it("a jittery clock (a step at each attempt, refused at once): attempts spaced out, a dozen at most", async () => {
    const jitter = () => ((s.clock.wall += 2_000), notYetValid());
    const s = scenario({ start: BOOT, failures: Array.from({ length: 1000 }, () => jitter) });
    const { error } = await once(s);
    expect(error).toMatchObject({ code: "CERTIFICATE_NOT_YET_VALID" });
    expect(s.calls.length).toBeLessThanOrEqual(12);
    expect(s.calls.slice(0, 4).map((c) => c.mono)).toEqual([0, 0, 1_000, 3_000]); // the first step: at once
  });

  it("fails at once, as before: a certificate not valid yet by a clock that may be right", async () => {
    const s = scenario({ start: REAL, failures: [notYetValid] });
    const { error, log } = await once(s);
    expect(error).toMatchObject({ code: "CERTIFICATE_NOT_YET_VALID" });
    expect(s.calls).toHaveLength(1);
    expect(s.timers()).toBe(0);
    expect(log).toEqual([]);
  });

  it("fails at once: a certificate expired by a clock before this release (the real time is later still)", async () => {
    const expired = () => new InputError("CERTIFICATE_EXPIRED", "the certificate expired on 1969-12-31 (…)");
    const s = scenario({ start: BOOT, stepAfterMs: 1_000, stepTo: REAL, failures: [expired, expired] });
    const { error, log } = await once(s);
    expect(error).toMatchObject({ code: "CERTIFICATE_EXPIRED" });
    expect(s.calls).toHaveLength(1);
    expect(s.timers()).toBe(0);
    expect(log).toEqual([]);
  });

  it("fails at once: a wrong PIN (never presented again), other input errors, and with no wait (a terminal)", async () => {
    const wrongPin = () => new AuthError("PIN_INCORRECT", "the PIN is incorrect");
    const other = () => new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403 AccessDeniedException: untrusted certificate)", { status: 403, serviceCode: "AccessDeniedException" });
    for (const [failure, wait] of [[wrongPin, undefined], [other, undefined], [notYetValid, 0]] as const) {
      const s = scenario({ start: BOOT, stepAfterMs: 1_000, stepTo: REAL, failures: [failure] });
      const { error } = await once(s, wait);
      expect(error).toBeInstanceOf(Error);
      expect(s.calls).toHaveLength(1);
      expect(s.timers()).toBe(0);
    }
  });

  it("a `prompt` PIN is asked once per run, not at each try (2>log: the terminal asked again at each)", async () => {
    const typed = Buffer.from("1234");
    const prompt = vi.fn(async () => Secret.fromBytes(typed));
    vi.doMock("../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal: prompt }));
    try {
      const failures = [notYetValid, notYetValid, notYetValid];
      const s = scenario({ start: BOOT, stepAfterMs: 3_000, stepTo: BOOT + 1, failures });
      const pins: unknown[] = [];
      s.seams.createSigner = async (options: SignerOptions) => {
        const pin = await readSecret(options.pkcs11!.pin!, "PIN");
        pins.push(pin.use((bytes) => bytes.toString()));
        pin.wipe();
        return signer;
      };
      const pkcs11 = { reusePin: false, pin: { kind: "prompt" as const, prompt: "PIN: " } };
      const path = join(dir, `credentials-${++n}`);
      await runUpdate({
        settings: async () => ({ ...settings, signer: { ...settings.signer, pkcs11 } }),
        path, section: "boot", once: true, log: () => {}, seams: s.seams,
      }).catch(() => {});
      expect(s.calls.length).toBeGreaterThanOrEqual(3);
      expect(prompt).toHaveBeenCalledTimes(1);
      expect(pins).toEqual(s.calls.map(() => "1234"));
      expect(typed.every((byte) => byte === 0)).toBe(true); // the run over, the answer is wiped (was a string)
    } finally {
      vi.doUnmock("../../src/secrets/terminal-prompt.js");
    }
  });

  it("a TPM key password the Go helper's prompt asked is asked once per run, and wiped after it", async () => {
    const prompt = vi.fn(async () => Secret.fromUtf8("typed-pw"));
    vi.doMock("../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal: prompt }));
    try {
      const { resolveKeyPassword } = await import("../../src/signers/tpm/key-password.js");
      const s = scenario({ start: BOOT, stepAfterMs: 3_000, stepTo: BOOT + 1, failures: [notYetValid, notYetValid, notYetValid] });
      const asked = new Set<SignerOptions["askedPin"]>();
      const passwords: string[] = [];
      s.seams.createSigner = async (options: SignerOptions) => {
        asked.add(options.askedPin);
        const password = await resolveKeyPassword({ key: { kind: "handle", handle: 0x81000010 }, askedPin: options.askedPin }, undefined, "TPM key");
        passwords.push(password.use((bytes) => bytes.toString()));
        password.wipe();
        return signer;
      };
      await runUpdate({
        settings: async () => ({ ...settings, signer: { privateKey: "handle:0x81000010" } }),
        path: join(dir, `credentials-${++n}`), section: "boot", once: true, log: () => {}, seams: s.seams,
      }).catch(() => {});
      expect(s.calls.length).toBeGreaterThanOrEqual(3);
      expect(prompt).toHaveBeenCalledTimes(1);
      expect(passwords).toEqual(s.calls.map(() => "typed-pw"));
      expect(asked.size).toBe(1); // one for the run
      await expect([...asked][0]!.pin!.read()).rejects.toThrow("wiped"); // before: kept until the process ended
    } finally {
      vi.doUnmock("../../src/secrets/terminal-prompt.js");
    }
  });

  it.each([
    ["a PIN given directly (a flag)", { pkcs11: { pin: "1234" } }, "pin"],
    ["a pkcs11: URI's pin-value (taken out of its text)", { privateKey: "pkcs11:token=t;object=k?pin-value=1234" }, "uriPin"],
  ] as const)("%s is read at each try, each try's copy wiped, all of them zero after the run", async (_what, options, field) => {
    // Held as bytes its holder wipes: a try's source must not wipe the next try's PIN (it would fail "used after wiped").
    const failures = [notYetValid, notYetValid, notYetValid];
    const s = scenario({ start: BOOT, stepAfterMs: 3_000, stepTo: BOOT + 1, failures });
    const read: Buffer[] = [];
    const pins: string[] = [];
    s.seams.createSigner = async (options: SignerOptions) => {
      read.push(heldSecret(options.pkcs11![field])!.use((bytes) => bytes));
      const pin = await readSecret(options.pkcs11![field]!, "PIN");
      pins.push(pin.use((bytes) => bytes.toString()));
      pin.wipe();
      return signer;
    };
    const given = credentialSettingsFromOptions({ ...ARNS, certificate: "/nonexistent/cert.pem", ...options });
    const original = heldSecret(given.signer.pkcs11![field])!.use((bytes) => bytes);
    await runUpdate({
      settings: async () => ({ ...settings, signer: { ...settings.signer, pkcs11: given.signer.pkcs11 } }),
      path: join(dir, `credentials-${++n}`), section: "boot", once: true, log: () => {}, seams: s.seams,
    }).catch(() => {}); // the clock never right: given up after the tries
    expect(s.calls.length).toBeGreaterThanOrEqual(3);
    expect(pins).toEqual(s.calls.map(() => "1234"));
    expect([original, ...read].every((b) => b.length === 4 && b.every((byte) => byte === 0))).toBe(true);
  });
});

describe("update --once under systemd in an outage: devices that failed together are not restarted together", () => {
  const { dir, cleanup } = makeTempDir("raa-run-update-outage-");
  afterAll(cleanup);

  /** When each of `devices` runs that booted in the same instant reports its failure (virtual monotonic ms). */
  const failedAt = async (devices: number, failure: () => Error, restartJitterMs?: number) => {
    const times: number[] = [];
    for (let seed = 1; seed <= devices; seed++) {
      const s = scenario({ start: REAL, failures: [failure] });
      const path = join(dir, `credentials-${seed}`);
      const seams = { ...s.seams, random: seededRandom(seed) };
      const error = await runUpdate({ settings: async () => settings, path, section: "boot", once: true, log: () => {}, seams, restartJitterMs })
        .then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      times.push(s.clock.mono);
    }
    return times;
  };

  it("a network failure is reported after a random wait under RestartSec= (systemd's restarts have no jitter)", async () => {
    // Before: 200 devices all exited at 0 ms, so the unit's fixed RestartSec=10 brought all of them back in the same
    // instant, round after round (each run's own retries spread them by < 0.75 s).
    const refused = () => new NetworkError("NETWORK_ERROR", "could not connect to rolesanywhere.eu-west-1.amazonaws.com: connection refused");
    const times = await failedAt(200, refused);
    expect(Math.max(...times)).toBeLessThan(RESTART_JITTER_MS);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(0.9 * RESTART_JITTER_MS);
    const perSecond = new Map<number, number>();
    for (const t of times) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(30); // 20 a second on average over the 10 s
  });

  it("the signer is closed before the wait: a token session or the TPM connection is not held through it", async () => {
    const s = scenario({ start: REAL, failures: [() => new NetworkError("NETWORK_ERROR", "connection refused")] });
    let closedAt: number | undefined;
    const closing = { ...signer, close: async () => void (closedAt = s.clock.mono) };
    const seams = { ...s.seams, random: () => 0.5, createSigner: (async () => closing) as SignerFactory };
    const error = await runUpdate({ settings: async () => settings, path: join(dir, "credentials-closed"), section: "boot", once: true, log: () => {}, seams })
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(s.clock.mono).toBe(RESTART_JITTER_MS / 2);
    expect(closedAt).toBe(0);
  });

  it("no wait off systemd (0), nor for a failure no restart fixes (exit 2, 3, 4: not restarted)", async () => {
    const refused = () => new NetworkError("NETWORK_ERROR", "connection refused");
    expect(await failedAt(3, refused, 0)).toEqual([0, 0, 0]);
    const wrongPin = () => new AuthError("PIN_INCORRECT", "the PIN is incorrect");
    expect(await failedAt(3, wrongPin)).toEqual([0, 0, 0]);
  });
});

describe("update --once in a long throttled boot: the unit's three starts are not its only tries", () => {
  const { dir, cleanup } = makeTempDir("raa-run-update-throttled-");
  afterAll(cleanup);
  const throttled = () => new ServiceError("THROTTLED", "CreateSession was throttled (HTTP 429 ThrottlingException)", { status: 429, serviceCode: "ThrottlingException", retryAfterMs: 1000 });
  const run = async (failures: (() => Error)[], seed: number) => {
    const s = scenario({ start: REAL, failures });
    const seams = { ...s.seams, random: seededRandom(seed) };
    const path = join(dir, `credentials-${seed}`);
    const error = await runUpdate({ settings: async () => settings, path, section: "boot", once: true, log: () => {}, seams })
      .then(() => undefined, (e: unknown) => e);
    return { error, calls: s.calls.map((c) => c.mono), end: s.clock.mono };
  };

  it("keeps trying a 429 at the engine's jittered pace until its 5 minutes are spent; a network failure or a wrong PIN: no", async () => {
    // Before: the first run's 3 calls (createSession's own), exit 7, restarted twice by systemd: ~9 calls in 1–2 min.
    const served = await run(Array.from({ length: 12 }, () => throttled), 1);
    expect(served.error).toBeUndefined();
    expect(served.calls).toHaveLength(13);
    served.calls.slice(1).forEach((t, i) => expect(t - served.calls[i]!).toBeGreaterThanOrEqual(1000)); // Retry-After
    expect(served.end).toBeLessThan(CLOCK_WAIT_MS);
    const outage = await run(Array.from({ length: 1000 }, () => throttled), 2);
    expect(outage.error).toBeInstanceOf(ServiceError);
    expect(outage.calls.length).toBeGreaterThan(8);
    expect(outage.calls.at(-1)!).toBeLessThan(CLOCK_WAIT_MS);
    expect(outage.end).toBeLessThanOrEqual(CLOCK_WAIT_MS + RESTART_JITTER_MS);
    const wrongPin = () => new AuthError("PIN_INCORRECT", "the PIN is incorrect");
    expect((await run([wrongPin, throttled], 3)).calls).toHaveLength(1); // never tried twice
    // A refused connection still exits 7 for the unit's restart (and at once for a script: native-test/update.test.ts).
    const down = () => new NetworkError("NETWORK_ERROR", "connection refused");
    expect((await run([down, throttled], 4)).calls).toHaveLength(1);
  });
});
