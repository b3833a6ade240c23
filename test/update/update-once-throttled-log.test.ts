/**
 * `update --once` throttled (a 429) tries again for up to CLOCK_WAIT_MS: the journal says so once, and a later
 * refusal that is the clock's still gets its own line. Virtual time: each timer advances both clocks.
 */
import { afterAll, expect, it } from "vitest";
import { join } from "node:path";
import { runUpdate } from "../../src/update/run-update.js";
import { seededRandom } from "../../bench/lib/virtual-time.js";
import type { SessionCreator } from "../../src/credentials/credential-source.js";
import type { SignerFactory } from "../../src/credentials/signer-holder.js";
import { ServiceError } from "../../src/errors.js";
import { makeTempDir } from "../helpers/pki.js";
import { standInSettings, standInSigner } from "../helpers/stand-in.js";

const { dir, cleanup } = makeTempDir("raa-update-once-throttled-log-");
afterAll(cleanup);

const REAL = Date.UTC(2027, 2, 1, 8, 0, 0);
const throttled = () =>
  new ServiceError("THROTTLED", "CreateSession was throttled (HTTP 429 ThrottlingException)", { status: 429, serviceCode: "ThrottlingException", retryAfterMs: 1000 });
const signatureExpired = () =>
  new ServiceError("ACCESS_DENIED", "CreateSession refused (HTTP 403 AccessDeniedException: Signature expired: 20270301T090000Z is now earlier than 20270301T080000Z)", { status: 403, serviceCode: "AccessDeniedException", requestId: "r" });

async function run(failures: (() => Error)[], stepAfterMs: number) {
  const clock = { wall: REAL + 3600_000, mono: 0, stepped: false };
  const createSession: SessionCreator = async () => {
    const failure = failures.shift();
    if (failure) throw failure();
    return { accessKeyId: "AKIA1", secretAccessKey: "s", sessionToken: "t", expiration: new Date(clock.wall + 3600_000) };
  };
  const seams = {
    now: () => clock.wall,
    monotonic: () => clock.mono,
    random: seededRandom(7),
    timers: {
      setTimeout: (callback: () => void, ms: number) => {
        clock.mono += ms;
        clock.wall += ms;
        if (!clock.stepped && clock.mono >= stepAfterMs) [clock.stepped, clock.wall] = [true, REAL + clock.mono];
        setImmediate(callback);
        return undefined;
      },
      clearTimeout: () => {},
    },
    createSigner: (async () => standInSigner()) as SignerFactory,
    createSession,
  };
  const log: string[] = [];
  const path = join(dir, `credentials-${stepAfterMs}`);
  await runUpdate({ settings: async () => standInSettings("/nonexistent/cert.pem"), path, section: "boot", once: true, log: (l) => log.push(l), seams });
  return log;
}

it("a 429 that --once keeps trying is logged once, saying so; a clock refusal after it still says it waits for NTP", async () => {
  // Three 429s, not two: with two, a line for the second instead of the first (`throttled !== 1`) read the same.
  const log = await run([throttled, throttled, throttled, signatureExpired], 60_000);
  expect(log).toEqual([
    "boot: CreateSession was throttled (HTTP 429 ThrottlingException); trying again within 5 min",
    expect.stringMatching(/^boot: CreateSession refused \(HTTP 403 AccessDeniedException: Signature expired: .*\); waiting up to 5 min for the system clock to be set \(NTP\): it said .*, and the service refused the signature's time$/),
    expect.stringMatching(/^wrote profile \[boot\] to .*credentials-60000; valid until /),
  ]);
});

it("a single 429 is logged too (the first is the one told, not the second)", async () => {
  const log = await run([throttled], 60_000);
  expect(log).toEqual([
    "boot: CreateSession was throttled (HTTP 429 ThrottlingException); trying again within 5 min",
    expect.stringMatching(/^wrote profile \[boot\] to /),
  ]);
});
