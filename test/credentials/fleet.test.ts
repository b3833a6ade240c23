/**
 * The refresh engine as a fleet (issue 17), in small: the simulation of `npm run bench -- fleet`
 * (bench/lib/fleet-simulation.ts: real CredentialSources, createSession's retry loop and the local endpoint's
 * rate limiter on a virtual clock) with 1,000 devices booting in the same second against a 1/s quota. Fixed seeds:
 * the runs repeat exactly. The 10,000-device figures are the benchmark's; this guards the properties.
 */
import { describe, expect, it } from "vitest";
import { HOUR, simulate, type FleetResult } from "../../bench/lib/fleet-simulation.js";

const FLEET = { devices: 1_000, ratePerSecond: 1, sessionSeconds: 3600, bootSpreadMs: 1000, watchMs: 3 * HOUR, seed: 17 };

/** The busiest five minutes of refreshes against the average five minutes (coarser than the bench's minutes: 1,000 devices are noisy). */
function busiestFiveMinutes(result: FleetResult): number {
  const bins: number[] = [];
  result.refreshesPerMinute.forEach((n, minute) => (bins[Math.floor(minute / 5)] = (bins[Math.floor(minute / 5)] ?? 0) + n));
  return Math.max(...bins) / (bins.reduce((a, b) => a + b, 0) / bins.length);
}

describe("a fleet booting together against one account's CreateSession quota", () => {
  it("all devices get credentials at about the quota's pace, none lapses, and their refreshes spread out", async () => {
    const result = await simulate(FLEET);
    expect(result.allHoldAfterMs).toBeLessThan(1.2 * (FLEET.devices / FLEET.ratePerSecond) * 1000);
    expect(result.lapsedDevices).toBe(0);
    expect(result.peakAdmittedPerSecond).toBeLessThanOrEqual(FLEET.ratePerSecond);
    expect(busiestFiveMinutes(result)).toBeLessThan(1.5);
    expect(result.refreshes).toBeGreaterThan(FLEET.devices * 2); // each device refreshed several times in 3 hours

    // The same fleet with a fixed refresh 5 minutes before expiry refreshes in one bunch, every hour.
    const fixed = (3590 - 300) / 3590;
    const reference = await simulate({ ...FLEET, policy: { refreshWindowStart: fixed, refreshWindowEnd: fixed } });
    expect(busiestFiveMinutes(reference)).toBeGreaterThan(2.5);
  }, 60_000);

  it("no device runs dry while only throttled, even when refreshes must compete with the boot at 80 % of the quota", async () => {
    // 2,200 s sessions: the steady state alone needs 1,000 / (0.575 × 2,190 s) = 0.79 CreateSession/s of the 1/s, and the
    // first refreshes (from 0.3 × 2,190 s = 657 s) fall while devices are still waiting for their first credentials.
    const result = await simulate({ ...FLEET, sessionSeconds: 2200, watchMs: 2 * HOUR, seed: 4 });
    expect(result.allHoldAfterMs).toBeLessThan(1.5 * (FLEET.devices / FLEET.ratePerSecond) * 1000);
    expect(result.lapsedDevices).toBe(0);
  }, 60_000);
});
