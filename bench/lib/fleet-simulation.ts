/**
 * The fleet simulation behind `npm run bench -- fleet` (bench/fleet.ts) and its unit test
 * (test/credentials/fleet.test.ts): many devices, each with its own long-running CredentialSource, boot
 * together against one account's rate-limited CreateSession, on a virtual clock with virtual timers.
 *
 * What is real: createCredentialSource (cache, single flight, refresh window, backoff, Retry-After, lapse
 * guard), the CreateSession client's retry loop (`withRetries`, 3 attempts in a 30 s budget; a 429 not retried in it, as
 * in the daemons: src/daemon/run-daemon.ts), the service's 429
 * answer as the client parses it (`errorFromResponse`), and the local endpoint's rate limit (`RateLimit`, a
 * sliding one-second window). What is simulated: the signer (no key is used) and the network (a request takes
 * no time).
 */
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { createCredentialSource, type CredentialSourceOptions } from "../../src/credentials/credential-source.js";
import type { Credentials } from "../../src/index.js";
import { DEFAULT_REFRESH_POLICY, type RefreshPolicy } from "../../src/credentials/refresh-policy.js";
import { RateLimit, retryAfterSeconds, THROTTLED } from "../../src/local-endpoint/rate-limit.js";
import { errorFromResponse } from "../../src/rolesanywhere/response.js";
import type { HttpResponse } from "../../src/rolesanywhere/http-client.js";
import { DEFAULT_MAX_ATTEMPTS, withRetries } from "../../src/rolesanywhere/retry.js";
import type { Signer } from "../../src/signers/signer.js";
import { seededRandom, VirtualTime } from "./virtual-time.js";

const T0 = Date.UTC(2030, 0, 1, 0, 0, 0);
export const MIN = 60_000;
export const HOUR = 60 * MIN;

export interface FleetConfig {
  readonly devices: number;
  readonly ratePerSecond: number;
  readonly sessionSeconds: number;
  /** Every device starts at a random moment of this first stretch of time. */
  readonly bootSpreadMs: number;
  /** How long refreshes are watched once every device holds credentials. */
  readonly watchMs: number;
  readonly seed: number;
  readonly policy?: Partial<RefreshPolicy>;
  /** createSession retries a 429 within its call too (before: the daemons did; `update --once` and the SDK do). */
  readonly retryThrottled?: boolean;
  /** The endpoint's answer instead, `elapsedMs` after the first boot (an outage, a refusal); undefined: serves. */
  readonly fault?: (elapsedMs: number) => HttpResponse | undefined;
  /** Told of every device's every new credentials, first ones included (elapsed ms since the first boot). */
  readonly onRefreshed?: (device: number, elapsedMs: number, expiration: number) => void;
}

export interface FleetResult {
  /** From the first boot until every device holds credentials. */
  readonly allHoldAfterMs: number;
  readonly calls: number;
  readonly callsUntilAllHold: number;
  readonly refreshes: number;
  readonly peakOfferedPerSecond: number;
  /** CreateSession requests per second of simulated time since the first boot. */
  readonly offeredPerSecond: readonly number[];
  readonly peakAdmittedPerSecond: number;
  /** The busiest second once every device holds credentials. */
  readonly peakOfferedAfterBootPerSecond: number;
  readonly lapsedDevices: number;
  /** Refreshes per minute over the watched hours. */
  readonly refreshesPerMinute: readonly number[];
  readonly simulatedMs: number;
  readonly wallMs: number;
}

const ENDPOINT = "https://rolesanywhere.us-east-1.amazonaws.com";
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

export async function simulate(config: FleetConfig): Promise<FleetResult> {
  // Hundreds of thousands of 429 errors are built: their stack traces would cost most of the run, and none is shown.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return await run(config);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

async function run(config: FleetConfig): Promise<FleetResult> {
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
    const fault = config.fault?.(now - T0);
    if (fault) throw errorFromResponse(fault, { receivedAt: new Date(now), endpoint: ENDPOINT, region: "us-east-1" });
    const decision = limit.take();
    if (!decision.admitted) {
      const response = {
        status: THROTTLED.status,
        headers: { "x-amzn-errortype": THROTTLED.errorType, "retry-after": String(retryAfterSeconds(decision.retryAfterMs)) },
        body: THROTTLED_BODY,
      };
      throw errorFromResponse(response, { receivedAt: new Date(now), endpoint: ENDPOINT, region: "us-east-1" });
    }
    bump(admitted, Math.floor((now - T0) / 1000));
    serial++;
    return { accessKeyId: `ASIAFLEET${serial}`, secretAccessKey: "fleet", sessionToken: "fleet", expiration: new Date(now + lifetimeMs) };
  };
  /** What createSession does around its attempts: the same loop, on virtual time (3 attempts, 30 s budget). */
  const createSession = () => {
    const deadline = time.now() + 30_000;
    const loop = { maxAttempts: DEFAULT_MAX_ATTEMPTS, retryThrottled: config.retryThrottled ?? false, random, sleep: time.sleep };
    return withRetries(attemptOnce, { ...loop, remainingMs: () => deadline - time.now() });
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
      monotonic: time.now, // virtual time has no wall-clock steps
      random,
      timers: time,
      createSigner: async () => STUB_SIGNER,
      createSession,
      onEvent: (_name, event) => {
        if (event.type !== "refreshed") return;
        const now = time.now();
        config.onRefreshed?.(device, now - T0, event.expiration.getTime() - T0);
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
    offeredPerSecond: offered,
    peakAdmittedPerSecond: Math.max(...admitted),
    peakOfferedAfterBootPerSecond: Math.max(0, ...offered.slice(Math.ceil((watchFrom - T0) / 1000))),
    lapsedDevices,
    refreshesPerMinute,
    simulatedMs: end - T0,
    wallMs: Number(process.hrtime.bigint() - wallStart) / 1e6,
  };
}

/** The busiest minute of refreshes against the average minute of the watched hours. */
export function refreshSpread(result: FleetResult): { average: number; max: number; ratio: number; maxMinute: number } {
  const perMinute = result.refreshesPerMinute;
  const average = perMinute.reduce((a, b) => a + b, 0) / perMinute.length;
  const max = Math.max(...perMinute);
  return { average, max, ratio: max / average, maxMinute: perMinute.indexOf(max) };
}
