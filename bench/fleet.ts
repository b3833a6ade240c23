/**
 * Fleet simulation (issue 17): 10,000 devices boot in the same second after a site-wide power cut, each with
 * its own long-running CredentialSource (the refresh engine of the agent, `serve` and `update`), all sharing one
 * account's CreateSession quota of 10 requests per second. One process, a virtual clock and virtual timers: six
 * simulated hours take seconds. What is real and what is simulated: bench/lib/fleet-simulation.ts.
 *
 * Each figure is printed next to its target with PASS/FAIL (the exit code is 1 if one fails), and the same fleet
 * is run once more with the previous schedule (a fixed refresh 5 minutes before expiry) as the reference.
 * Settings through the environment: FLEET_DEVICES, FLEET_RATE, FLEET_SESSION_SECONDS, FLEET_SEED.
 *
 * Alone: `npm run bench -- fleet`.
 */
import { DEFAULT_REFRESH_POLICY } from "../src/credentials/refresh-policy.js";
import { DEFAULT_MAX_ATTEMPTS } from "../src/rolesanywhere/retry.js";
import { HOUR, refreshSpread, simulate } from "./lib/fleet-simulation.js";

function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not '${text}'`);
  return value;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

async function main(): Promise<number> {
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
  console.log(`  Each device: the refresh engine with its defaults (refresh at a random point of [${p.refreshWindowStart}, ${p.refreshWindowEnd}]·L, backoff ${p.retryBaseMs / 1000}–${p.retryMaxMs / 1000} s, ${p.throttledRetryMaxMs / 1000} s after a 429, with full jitter above Retry-After, retries within half of the time left) around createSession's own ${DEFAULT_MAX_ATTEMPTS} attempts, of which a 429 takes one (the engine retries it).`);
  console.log(`  Maths: the boot needs at least N/R = ${fmt(devices / ratePerSecond)} s; the steady state needs N/(${meanFraction}·L) = ${fmt(steadyRate, 2)} CreateSession/s (${fmt((100 * steadyRate) / ratePerSecond)} % of the quota).`);
  console.log(`  Sessions must last at least N/(R·${meanFraction}) + ${p.expiryMarginMs / 1000} s = ${fmt(devices / (ratePerSecond * meanFraction) + p.expiryMarginMs / 1000)} s for this fleet to keep up at all; 900 s sessions would need ${fmt(devices / (meanFraction * (900 - p.expiryMarginMs / 1000)), 1)}/s.`);
  console.log(`  After a synchronised boot the first refresh rounds overlap: a renewal model of these windows puts the busiest minute at ~1.28× the average; per-minute Poisson noise (±√n) adds the rest.`);
  console.log(`  The window starts at ${p.refreshWindowStart}·L = ${fmt(p.refreshWindowStart * lifetimeS)} s, after the boot's N/R = ${fmt(devices / ratePerSecond)} s: refreshes do not compete with devices still waiting for their first credentials. Seed ${seed}.`);

  const result = await simulate(base);
  const s = refreshSpread(result);
  const lapsedShare = result.lapsedDevices / devices;
  const checks = [
    { ok: Number.isFinite(result.allHoldAfterMs), line: `time until every device holds credentials: ${fmt(result.allHoldAfterMs / 1000)} s | floor N/R = ${fmt(devices / ratePerSecond)} s | ratio ${fmt(result.allHoldAfterMs / 1000 / (devices / ratePerSecond), 2)}× | target: all devices served` },
    { ok: true, line: `CreateSession calls per device: ${fmt(result.calls / devices, 1)} over ${fmt(result.simulatedMs / HOUR, 2)} simulated hours: ${fmt(result.callsUntilAllHold / devices, 1)} until all hold credentials (429s of the boot, one call per attempt of the engine), then ${fmt((result.calls - result.callsUntilAllHold) / devices / (base.watchMs / HOUR), 2)} per hour (refreshes alone: ${fmt(3600 / (meanFraction * lifetimeS), 2)}) | no target` },
    { ok: result.peakAdmittedPerSecond <= ratePerSecond, line: `peak request rate: ${fmt(result.peakOfferedPerSecond)}/s offered (every device's first attempt), ${fmt(result.peakOfferedAfterBootPerSecond)}/s once all hold credentials, ${fmt(result.peakAdmittedPerSecond)}/s admitted | quota ${ratePerSecond}/s | target: admitted ≤ quota` },
    { ok: result.lapsedDevices === 0, line: `devices whose credentials lapsed after the first fetch: ${fmt(100 * lapsedShare, 2)} % (${result.lapsedDevices}) | target 0` },
    { ok: s.ratio <= 1.5, line: `refresh spread over the ${base.watchMs / HOUR} h after all hold credentials: busiest minute ${fmt(s.max)} refreshes (minute ${s.maxMinute}), average ${fmt(s.average, 1)}/min (${fmt(s.average / 60, 2)}/s) | ratio ${fmt(s.ratio, 2)}× | target ≤ 1.5×` },
  ];
  for (const c of checks) console.log(`${verdict(c.ok)}  ${c.line}`);
  console.log(`wall time: ${fmt(result.wallMs / 1000, 1)} s for ${fmt(result.simulatedMs / HOUR, 2)} simulated hours (${fmt(result.calls)} CreateSession calls, ${fmt(result.refreshes)} refreshes)`);

  // The reference: the previous schedule, a fixed refresh 5 minutes before the credentials stop being served.
  const fixed = (lifetimeS - 300) / lifetimeS;
  const reference = await simulate({ ...base, policy: { refreshWindowStart: fixed, refreshWindowEnd: fixed } });
  const r = refreshSpread(reference);
  console.log(
    `reference, fixed refresh 5 min before expiry (the previous schedule), same fleet: busiest minute ${fmt(r.max)} refreshes vs average ${fmt(r.average, 1)}/min → ${fmt(r.ratio, 2)}×; ` +
      `lapsed ${fmt((100 * reference.lapsedDevices) / devices, 2)} %; ${fmt(reference.calls / devices, 1)} calls per device; wall ${fmt(reference.wallMs / 1000, 1)} s`,
  );
  // The same fleet as the daemons ran it before: a 429 also retried within createSession, the engine's ceiling 60 s.
  const inner = await simulate({ ...base, retryThrottled: true, policy: { throttledRetryMaxMs: p.retryMaxMs } });
  console.log(
    `reference, 429 also retried inside createSession (up to ${DEFAULT_MAX_ATTEMPTS} calls per attempt of the engine, ceiling ${p.retryMaxMs / 1000} s: the previous daemons), same fleet: ` +
      `all hold credentials after ${fmt(inner.allHoldAfterMs / 1000)} s; ${fmt(inner.callsUntilAllHold / devices, 1)} calls per device until then, ` +
      `${fmt(inner.calls / devices, 1)} in all; lapsed ${fmt((100 * inner.lapsedDevices) / devices, 2)} %; wall ${fmt(inner.wallMs / 1000, 1)} s`,
  );
  return checks.every((c) => c.ok) ? 0 : 1;
}

process.exitCode = await main().catch((e) => { console.error("fleet bench failed:", e); return 2; });
