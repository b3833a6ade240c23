/**
 * Fleet simulation (issue 17): 10,000 devices boot in the same second after a site-wide power cut, each with
 * its own long-running CredentialSource (the refresh engine of the agent, `serve` and `update`), all sharing one
 * account's CreateSession quota of 10 requests per second. One process, a virtual clock and virtual timers: six
 * simulated hours take seconds.
 *
 * What is real: createCredentialSource (cache, single flight, refresh window, backoff, Retry-After, lapse
 * guard), the CreateSession client's retry loop (`withRetries`, 3 attempts), the service's 429 answer as the
 * client parses it (`errorFromResponse`), and the local endpoint's rate limit (`RateLimit`, a sliding one-second
 * window). What is simulated: the signer (no key is used) and the network (a request takes no time).
 *
 * Each figure is printed next to its target with PASS/FAIL, and the same fleet is run once more with the
 * previous schedule (a fixed refresh 5 minutes before expiry) as the reference. Settings through the
 * environment: FLEET_DEVICES, FLEET_RATE, FLEET_SESSION_SECONDS, FLEET_SEED.
 *
 * Alone: `npm run bench -- fleet`.
 */
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../src/arn.js";
import { createCredentialSource, type CredentialSourceOptions } from "../src/credentials/credential-source.js";
import type { Credentials } from "../src/credentials/credentials.js";
import { DEFAULT_REFRESH_POLICY, type RefreshPolicy } from "../src/credentials/refresh-policy.js";
import { RateLimit, retryAfterSeconds, THROTTLED } from "../src/local-endpoint/rate-limit.js";
import { errorFromResponse } from "../src/rolesanywhere/response.js";
import { DEFAULT_MAX_ATTEMPTS, withRetries } from "../src/rolesanywhere/retry.js";
import type { Signer } from "../src/signers/signer.js";
import { seededRandom, VirtualTime } from "./lib/virtual-time.js";

const T0 = Date.UTC(2030, 0, 1, 0, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;

interface FleetConfig {
  readonly devices: number;
  readonly ratePerSecond: number;
  readonly sessionSeconds: number;
  /** Every device starts at a random moment of this first stretch of time. */
  readonly bootSpreadMs: number;
  /** How long refreshes are watched once every device holds credentials. */
  readonly watchMs: number;
  readonly seed: number;
  readonly policy?: Partial<RefreshPolicy>;
}

interface FleetResult {
  /** From the first boot until every device holds credentials. */
  readonly allHoldAfterMs: number;
  readonly calls: number;
  readonly callsUntilAllHold: number;
  readonly refreshes: number;
  readonly peakOfferedPerSecond: number;
  readonly peakAdmittedPerSecond: number;
  /** The busiest second once every device holds credentials. */
  readonly peakOfferedAfterBootPerSecond: number;
  readonly lapsedDevices: number;
  /** Refreshes per minute over the watched hours. */
  readonly refreshesPerMinute: readonly number[];
  readonly simulatedMs: number;
  readonly wallMs: number;
}

const THROTTLED_BODY = Buffer.from(JSON.stringify({ message: THROTTLED.message }));

const STUB_SIGNER: Signer = {
  keyType: "EC",
  backend: "pkcs11",
  certificate: async () => undefined,
  certificateChain: async () => [],
  publicKey: async () => undefined,
  sign: async () => Buffer.alloc(0),
  close: async () => {},
};

const SETTINGS: CredentialSourceOptions["settings"] = {
  signer: { certificate: "pkcs11:token=fleet", privateKey: "pkcs11:token=fleet" },
  session: {
    trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/fleet"),
    profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/fleet"),
    roleArn: parseRoleArn("arn:aws:iam::111122223333:role/fleet"),
    durationSeconds: 3600,
  },
  endpoint: {},
};

/** Grows as needed: counts per whole second or minute of simulated time. */
function bump(counts: number[], index: number): void {
  while (counts.length <= index) counts.push(0);
  counts[index]!++;
}

async function simulate(config: FleetConfig): Promise<FleetResult> {
  const wallStart = process.hrtime.bigint();
  const time = new VirtualTime(T0);
  const random = seededRandom(config.seed);
  const policy = { ...DEFAULT_REFRESH_POLICY, ...config.policy };
  const limit = new RateLimit(config.ratePerSecond, time.now);
  const lifetimeMs = config.sessionSeconds * 1000;

  const offered: number[] = [];
  const admitted: number[] = [];
  let calls = 0;
  let serial = 0;

  /** One HTTP attempt at the rate-limited service: credentials, or the 429 the client would parse. */
  const attemptOnce = async (): Promise<Credentials> => {
    const now = time.now();
    calls++;
    bump(offered, Math.floor((now - T0) / 1000));
    const decision = limit.take();
    if (!decision.admitted) {
      const response = {
        status: THROTTLED.status,
        headers: { "x-amzn-errortype": THROTTLED.errorType, "retry-after": String(retryAfterSeconds(decision.retryAfterMs)) },
        body: THROTTLED_BODY,
      };
      throw errorFromResponse(response, { receivedAt: new Date(now), endpoint: "https://rolesanywhere.us-east-1.amazonaws.com", region: "us-east-1" });
    }
    bump(admitted, Math.floor((now - T0) / 1000));
    serial++;
    return { accessKeyId: `ASIAFLEET${serial}`, secretAccessKey: "fleet", sessionToken: "fleet", expiration: new Date(now + lifetimeMs) };
  };
  /** What createSession does around its attempts: the same loop, on virtual time (3 attempts, 30 s budget). */
  const createSession = () => {
    const deadline = time.now() + 30_000;
    return withRetries(attemptOnce, { maxAttempts: DEFAULT_MAX_ATTEMPTS, random, sleep: time.sleep, remainingMs: () => deadline - time.now() });
  };

  const servedUntil = new Float64Array(config.devices); // 0: no credentials yet
  let lapsedDevices = 0;
  const lapsed = new Uint8Array(config.devices);
  let holding = 0;
  let allHoldAt = Number.POSITIVE_INFINITY;
  const refreshTimes: number[] = [];

  const sources = Array.from({ length: config.devices }, (_, device) =>
    createCredentialSource({
      name: String(device),
      settings: SETTINGS,
      policy,
      now: time.now,
      random,
      timers: time,
      createSigner: async () => STUB_SIGNER,
      createSession,
      onEvent: (_name, event) => {
        if (event.type !== "refreshed") return;
        const now = time.now();
        if (servedUntil[device] === 0) {
          holding++;
          if (holding === config.devices) allHoldAt = now;
        } else {
          refreshTimes.push(now);
          if (now >= servedUntil[device]! && !lapsed[device]) {
            lapsed[device] = 1;
            lapsedDevices++;
          }
        }
        servedUntil[device] = event.expiration.getTime() - policy.expiryMarginMs;
      },
    }),
  );
  for (const source of sources) time.setTimeout(() => source.start(), random() * config.bootSpreadMs);

  // Until every device holds credentials (or a day has passed: a schedule that cannot cope shows as FAIL)…
  while (holding < config.devices && time.now() < T0 + 24 * HOUR) await time.runUntil(time.now() + MIN);
  const callsUntilAllHold = calls;
  const watchFrom = Number.isFinite(allHoldAt) ? allHoldAt : time.now();
  // …then the watched hours.
  await time.runUntil(watchFrom + config.watchMs);
  const end = time.now();
  for (let device = 0; device < config.devices; device++) {
    if (servedUntil[device]! > 0 && end >= servedUntil[device]! && !lapsed[device]) {
      lapsed[device] = 1;
      lapsedDevices++;
    }
  }
  // Closing waits for CreateSession calls in flight, whose retries sleep on the virtual clock: keep it moving.
  let closed = false;
  const closing = Promise.all(sources.map((source) => source.close())).then(() => (closed = true));
  while (!closed) await time.runUntil(time.now() + MIN);
  await closing;

  const refreshesPerMinute = new Array<number>(Math.round(config.watchMs / MIN)).fill(0);
  for (const t of refreshTimes) {
    const minute = Math.floor((t - watchFrom) / MIN);
    if (minute >= 0 && minute < refreshesPerMinute.length) refreshesPerMinute[minute]!++;
  }
  return {
    allHoldAfterMs: allHoldAt - T0,
    calls,
    callsUntilAllHold,
    refreshes: refreshTimes.length,
    peakOfferedPerSecond: Math.max(...offered),
    peakAdmittedPerSecond: Math.max(...admitted),
    peakOfferedAfterBootPerSecond: Math.max(0, ...offered.slice(Math.ceil((watchFrom - T0) / 1000))),
    lapsedDevices,
    refreshesPerMinute,
    simulatedMs: end - T0,
    wallMs: Number(process.hrtime.bigint() - wallStart) / 1e6,
  };
}

function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not '${text}'`);
  return value;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

function spread(result: FleetResult): { average: number; max: number; ratio: number; maxMinute: number } {
  const perMinute = result.refreshesPerMinute;
  const average = perMinute.reduce((a, b) => a + b, 0) / perMinute.length;
  const max = Math.max(...perMinute);
  return { average, max, ratio: max / average, maxMinute: perMinute.indexOf(max) };
}

async function main(): Promise<number> {
  // Hundreds of thousands of 429 errors are built: their stack traces would cost most of the run, and none is printed.
  Error.stackTraceLimit = 0;
  const devices = envNumber("FLEET_DEVICES", 10_000);
  const ratePerSecond = envNumber("FLEET_RATE", 10);
  const sessionSeconds = envNumber("FLEET_SESSION_SECONDS", 3600);
  const seed = envNumber("FLEET_SEED", 17);
  const base = { devices, ratePerSecond, sessionSeconds, bootSpreadMs: 1000, watchMs: 6 * HOUR, seed };

  const p = DEFAULT_REFRESH_POLICY;
  const lifetimeS = sessionSeconds - p.expiryMarginMs / 1000;
  const meanFraction = (p.refreshWindowStart + p.refreshWindowEnd) / 2;
  const steadyRate = devices / (meanFraction * lifetimeS);
  console.log("Assumptions:");
  console.log(`  ${fmt(devices)} devices start at random moments of the same second; one account's CreateSession quota is ${ratePerSecond}/s (sliding one-second window; above it HTTP 429 ThrottlingException, Retry-After: 1).`);
  console.log(`  Sessions of ${sessionSeconds} s, served until ${p.expiryMarginMs / 1000} s before expiry (usable lifetime L = ${fmt(lifetimeS)} s). Requests take no time; signing is not simulated.`);
  console.log(`  Each device: the refresh engine with its defaults (refresh at a random point of [${p.refreshWindowStart}, ${p.refreshWindowEnd}]·L, backoff ${p.retryBaseMs / 1000}–${p.retryMaxMs / 1000} s with full jitter above Retry-After, retries within half of the time left) around createSession's own ${DEFAULT_MAX_ATTEMPTS} attempts.`);
  console.log(`  Maths: the boot needs at least N/R = ${fmt(devices / ratePerSecond)} s; the steady state needs N/(${meanFraction}·L) = ${fmt(steadyRate, 2)} CreateSession/s (${fmt((100 * steadyRate) / ratePerSecond)} % of the quota).`);
  console.log(`  Sessions must last at least N/(R·${meanFraction}) + ${p.expiryMarginMs / 1000} s = ${fmt(devices / (ratePerSecond * meanFraction) + p.expiryMarginMs / 1000)} s for this fleet to keep up at all; 900 s sessions would need ${fmt(devices / (meanFraction * (900 - p.expiryMarginMs / 1000)), 1)}/s.`);
  console.log(`  After a synchronised boot the first refresh rounds overlap: a renewal model of these windows puts the busiest minute at ~1.28× the average; per-minute Poisson noise (±√n) adds the rest.`);
  console.log(`  The window starts at ${p.refreshWindowStart}·L = ${fmt(p.refreshWindowStart * lifetimeS)} s, after the boot's N/R = ${fmt(devices / ratePerSecond)} s: refreshes do not compete with devices still waiting for their first credentials. Seed ${seed}.`);

  const result = await simulate(base);
  const s = spread(result);
  const lapsedShare = result.lapsedDevices / devices;
  const checks = [
    { ok: Number.isFinite(result.allHoldAfterMs), line: `time until every device holds credentials: ${fmt(result.allHoldAfterMs / 1000)} s | floor N/R = ${fmt(devices / ratePerSecond)} s | ratio ${fmt(result.allHoldAfterMs / 1000 / (devices / ratePerSecond), 2)}× | target: all devices served` },
    { ok: true, line: `CreateSession calls per device: ${fmt(result.calls / devices, 1)} over ${fmt(result.simulatedMs / HOUR, 2)} simulated hours: ${fmt(result.callsUntilAllHold / devices, 1)} until all hold credentials (429s of the boot, each attempt of the engine being up to ${DEFAULT_MAX_ATTEMPTS} calls), then ${fmt((result.calls - result.callsUntilAllHold) / devices / (base.watchMs / HOUR), 2)} per hour (refreshes alone: ${fmt(3600 / (meanFraction * lifetimeS), 2)}) | no target` },
    { ok: result.peakAdmittedPerSecond <= ratePerSecond, line: `peak request rate: ${fmt(result.peakOfferedPerSecond)}/s offered (every device's first attempt), ${fmt(result.peakOfferedAfterBootPerSecond)}/s once all hold credentials, ${fmt(result.peakAdmittedPerSecond)}/s admitted | quota ${ratePerSecond}/s | target: admitted ≤ quota` },
    { ok: result.lapsedDevices === 0, line: `devices whose credentials lapsed after the first fetch: ${fmt(100 * lapsedShare, 2)} % (${result.lapsedDevices}) | target 0` },
    { ok: s.ratio <= 1.5, line: `refresh spread over the ${base.watchMs / HOUR} h after all hold credentials: busiest minute ${fmt(s.max)} refreshes (minute ${s.maxMinute}), average ${fmt(s.average, 1)}/min (${fmt(s.average / 60, 2)}/s) | ratio ${fmt(s.ratio, 2)}× | target ≤ 1.5×` },
  ];
  for (const c of checks) console.log(`${verdict(c.ok)}  ${c.line}`);
  console.log(`wall time: ${fmt(result.wallMs / 1000, 1)} s for ${fmt(result.simulatedMs / HOUR, 2)} simulated hours (${fmt(result.calls)} CreateSession calls, ${fmt(result.refreshes)} refreshes)`);

  // The reference: the previous schedule, a fixed refresh 5 minutes before the credentials stop being served.
  const fixed = (lifetimeS - 300) / lifetimeS;
  const reference = await simulate({ ...base, policy: { refreshWindowStart: fixed, refreshWindowEnd: fixed } });
  const r = spread(reference);
  console.log(
    `reference, fixed refresh 5 min before expiry (the previous schedule), same fleet: busiest minute ${fmt(r.max)} refreshes vs average ${fmt(r.average, 1)}/min → ${fmt(r.ratio, 2)}×; ` +
      `lapsed ${fmt((100 * reference.lapsedDevices) / devices, 2)} %; ${fmt(reference.calls / devices, 1)} calls per device; wall ${fmt(reference.wallMs / 1000, 1)} s`,
  );
  return checks.every((c) => c.ok) ? 0 : 1;
}

process.exitCode = await main().catch((e) => { console.error("fleet bench failed:", e); return 2; });
