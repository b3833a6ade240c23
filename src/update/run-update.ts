import {
  createCredentialSource,
  type CertificateWarning,
  type CredentialSource,
  type CredentialSourceOptions,
} from "../credentials/credential-source.js";
import { isTransient, loggingSource } from "../daemon/run-daemon.js";
import { unit } from "../rolesanywhere/retry.js";
import { retryDelay } from "../credentials/refresh-policy.js";
import { runDaemon, type Log } from "../daemon/signals.js";
import { checkReadinessReporting, readinessGate, reportReady } from "../os/service-manager.js";
import { formatExpiration } from "../rolesanywhere/credentials.js";
import { CLOCK_REFUSAL } from "../rolesanywhere/response.js";
import { ServiceError } from "../errors.js";
import { roughDuration, utc } from "../x509/validity.js";
import type { CredentialSettings } from "../settings/credential-settings.js";
import { answerPromptsOnce, heldSecrets, withOwnSecrets } from "../credentials/signer-holder.js";
import type { Secret } from "../secrets/secret.js";
import type { SignerOptions } from "../signers/options.js";
import { keptOnReload, sourceFingerprint, wipeUnused } from "../credentials/source-registry.js";
import { credentialsFileUpdater } from "./file-updater.js";
import { writeProfileCredentials } from "./write-credentials.js";

interface UpdateRun {
  /** The settings; called again on SIGHUP. */
  readonly settings: () => Promise<CredentialSettings>;
  /** The credentials file and the section (profile) of it to keep filled. */
  readonly path: string;
  readonly section: string;
  readonly once: boolean;
  readonly log: Log;
  readonly certificateWarning?: CertificateWarning | undefined;
  readonly failFast?: boolean;
  /** --once: how long to wait for a clock that is wrong at boot (default {@link CLOCK_WAIT_MS}; 0: not at all). */
  readonly clockWaitMs?: number | undefined;
  /** --once: the most a failure systemd restarts waits first (default {@link RESTART_JITTER_MS}; 0: off systemd). */
  readonly restartJitterMs?: number | undefined;
  /** Seams for tests (credential-source.ts); `now`, `monotonic` and `timers` also time the wait for the clock. */
  readonly seams?: Pick<CredentialSourceOptions, "now" | "monotonic" | "timers" | "random" | "createSigner" | "createSession">;
}

/**
 * How long `update --once` waits for the clock to be set (NTP) when it is the clock, not the input, that failed:
 * a gateway's clock starts at 1970 or the firmware's date, and a cellular link may take minutes to bring NTP.
 * The unit's TimeoutStartSec= covers it (src/systemd/unit-files.ts).
 */
export const CLOCK_WAIT_MS = 5 * 60_000;

/**
 * The unit restarts a failed `update --once` after a fixed RestartSec= (10 s), which systemd never jitters: devices
 * that failed together in an outage would come back together, round after round. A network or device failure
 * (exit 7, 5) is reported after a random wait up to this long, so each restart interval is 10–20 s.
 */
export const RESTART_JITTER_MS = 10_000;

/**
 * No clock running this code is right before this day (this line's last change; a later release leaves it true):
 * a certificate not valid yet by such a clock is the clock's fault. One not valid yet by a clock after it may really
 * not be; one expired by a clock this early expired before it too: both fail at once.
 */
const EARLIEST_RIGHT_CLOCK = Date.UTC(2026, 11, 1);

/** The wall clock is read this often while waiting; a reading this far from the monotonic clock's is a step. */
const CLOCK_POLL_MS = 1_000;
const CLOCK_STEP_MS = 1_000;

/** Why `error` is this machine's clock's fault rather than the input's, or undefined when it is not (surely). */
function clockFault(error: unknown, now: number): string | undefined {
  if (error instanceof ServiceError && error.category === "service" && CLOCK_REFUSAL.test(error.message)) {
    return "and the service refused the signature's time";
  }
  const notYet = (error as { code?: unknown }).code === "CERTIFICATE_NOT_YET_VALID";
  return notYet && now < EARLIEST_RIGHT_CLOCK ? "before this release was built" : undefined;
}

/**
 * `update --once`: one write. A failure that is the clock's (clockFault) is tried again, with a new source (the
 * signer opened again: a PIN or password that failed ended the run, exit 4), each time the wall clock steps, for
 * `clockWaitMs` at most on the monotonic clock; then its error stands. So is a 429 (THROTTLED), at the
 * refresh engine's jittered pace: the unit's three starts alone made ~9 calls in 1–2 minutes of a boot that, for a
 * fleet behind the quota, lasts far longer.
 */
async function updateOnce(run: UpdateRun): Promise<void> {
  // Each try opens a new source: a `prompt` PIN or password is asked once per run, as a daemon's re-opens do.
  const given = await run.settings();
  const answers: Secret[] = heldSecrets(given.signer); // and each try's source wipes its own copy (withOwnSecrets)
  const asked: SignerOptions["askedPin"] = {}; // a PIN or TPM key password the first try asked for, none given
  try {
    await updateOnceWith(run, { ...given, signer: await answerPromptsOnce({ ...given.signer, askedPin: asked }, undefined, answers) });
  } finally {
    answers.forEach((answer) => answer.wipe());
    asked.pin?.wipe();
  }
}

async function updateOnceWith(run: UpdateRun, settings: CredentialSettings): Promise<void> {
  const { path, section, log, certificateWarning, seams = {} } = run;
  const now = seams.now ?? Date.now;
  const monotonic = seams.monotonic ?? (() => performance.now());
  const random = seams.random ?? Math.random;
  const setTimer = seams.timers?.setTimeout ?? ((callback: () => void, ms: number) => setTimeout(callback, ms));
  const waitMs = run.clockWaitMs ?? CLOCK_WAIT_MS;
  const until = monotonic() + waitMs;
  // The first step is tried at once; then at least 1 s, 2 s, 4 s… apart: a jittery clock (steps every second, or
  // during each attempt) with a refusal answered at once made an attempt per step, hundreds in the 5 min.
  let gapMs = 0;
  let throttled = 0;
  for (let toldClock = false; ; ) {
    // Timers run on the monotonic clock: a step (NTP) shows as the wall clock moving away from it.
    const started = now();
    const offset = started - monotonic();
    // Retrying a 429 here (off a terminal), not also within each call: it would triple a throttled fleet's calls.
    const own = { ...settings, signer: withOwnSecrets(settings.signer) };
    const source = createCredentialSource({ ...seams, name: section, settings: own, certificateWarning, retryThrottled: waitMs === 0 });
    let failed: { error: unknown } | undefined;
    let pauseMs: number | undefined;
    try {
      const credentials = await source.get();
      await writeProfileCredentials(path, section, credentials);
      log(`wrote profile [${section}] to ${path}; valid until ${formatExpiration(credentials.expiration)}`);
      return;
    } catch (error) {
      const fault = clockFault(error, started);
      if (error instanceof ServiceError && error.code === "THROTTLED") {
        pauseMs = retryDelay(++throttled, random, undefined, { retryAfterMs: error.retryAfterMs, throttled: true });
        if (monotonic() + pauseMs >= until) failed = { error };
        else if (throttled === 1) log(`${section}: ${error.message}; trying again within ${roughDuration(waitMs)}`);
      } else if (fault === undefined || monotonic() >= until) failed = { error };
      else if (!toldClock) {
        toldClock = true;
        const clock = `the system clock to be set (NTP): it said ${utc(new Date(started))}, ${fault}`;
        log(`${section}: ${(error as Error).message}; waiting up to ${roughDuration(waitMs)} for ${clock}`);
      }
    } finally {
      await source.close();
    }
    if (failed) {
      // After the close: a token session or the TPM's one connection is not held through the wait.
      const jitter = isTransient(failed.error) ? Math.floor(unit(random()) * (run.restartJitterMs ?? RESTART_JITTER_MS)) : 0;
      if (jitter > 0) await new Promise<void>((resolve) => setTimer(resolve, jitter));
      throw failed.error;
    }
    if (pauseMs !== undefined) {
      await new Promise<void>((resolve) => setTimer(resolve, pauseMs));
      continue;
    }
    const notBefore = monotonic() + gapMs;
    gapMs = Math.max(CLOCK_POLL_MS, gapMs * 2);
    while (monotonic() < notBefore || Math.abs(now() - monotonic() - offset) <= CLOCK_STEP_MS) {
      const left = until - monotonic();
      if (left <= 0) break;
      await new Promise<void>((resolve) => setTimer(resolve, Math.min(CLOCK_POLL_MS, left)));
    }
  }
}

/** Keeps one section of a credentials file filled with fresh credentials until SIGTERM or SIGINT. */
export async function runUpdate(run: UpdateRun): Promise<void> {
  const { path, section, log } = run;
  if (run.once) return updateOnce(run);
  checkReadinessReporting();

  // systemd (Type=notify): ready once the file holds credentials, so that units After= this one find them.
  const ready = readinessGate(["written"], () => reportReady(`profile [${section}] written to ${path}`, log));
  const updater = credentialsFileUpdater({ path, profile: section, log, onWritten: () => ready("written") });
  const newSource = (settings: CredentialSettings) =>
    loggingSource({ name: section, settings }, log, {
      certificateWarning: run.certificateWarning,
      onRefreshed: (_name, credentials) => updater.offer(credentials),
      written: updater.written,
    });
  let source!: CredentialSource;
  let fingerprint = "";
  // Signals from the first step (runDaemon): a SIGHUP while the source opens reloads it once updating.
  await runDaemon(log, {
    startUp: async () => {
      const settings = await run.settings();
      fingerprint = sourceFingerprint(settings);
      source = newSource(settings);
      const end = async (error: unknown) => {
        await Promise.all([updater.stop(), source.close()]);
        throw error;
      };
      await source.open().catch(async (error: unknown) => {
        if (run.failFast || !isTransient(error)) await end(error);
        log(`${section}: ${(error as Error).message}; will keep trying`);
      });
      if (run.failFast) await source.get().catch(end);
      source.start();
      log(`updating profile [${section}] in ${path}`);
    },
    // The agent's and serve's rule (keptOnReload): rebuilt, the source calls CreateSession at once.
    reload: async () => {
      const settings = await run.settings();
      const next = sourceFingerprint(settings);
      if (keptOnReload({ source, fingerprint }, next)) {
        wipeUnused(source, settings);
        return "configuration reloaded: kept 1, replaced 0";
      }
      const old = source;
      fingerprint = next;
      source = newSource(settings);
      await old.close();
      source.start();
      return "configuration reloaded: kept 0, replaced 1";
    },
    shutDown: async () => {
      await updater.stop();
      await source.close();
    },
  });
}
