/**
 * The fleet of test/credentials/fleet.test.ts (real CredentialSources and createSession's retry loop on a virtual
 * clock) through two hours in which the endpoint answers every CreateSession the same bad way, then recovers:
 * what each device asks meanwhile, and how soon all hold credentials again. Fixed seeds: the runs repeat exactly.
 */
import { describe, expect, it } from "vitest";
import { HOUR, MIN, simulate } from "../../bench/lib/fleet-simulation.js";
import type { HttpResponse } from "../../src/rolesanywhere/http-client.js";

const DEVICES = 200;
const FROM = 2 * HOUR;
const TO = 4 * HOUR;

const json = (status: number, type: string, headers: Record<string, string> = {}): HttpResponse => ({
  status, headers: { "x-amzn-errortype": type, ...headers }, body: Buffer.from(JSON.stringify({ message: type })),
});

/** CreateSession calls per device during the outage, and when the last device held credentials again after it. */
async function outage(answer: HttpResponse) {
  const recovered = new Map<number, number>();
  const result = await simulate({
    devices: DEVICES, ratePerSecond: 10, sessionSeconds: 3600, bootSpreadMs: 1000, watchMs: 5 * HOUR, seed: 3,
    fault: (t) => (t >= FROM && t < TO ? answer : undefined),
    onRefreshed: (device, t) => {
      if (t >= TO && !recovered.has(device)) recovered.set(device, t);
    },
  });
  const calls = result.offeredPerSecond.slice(FROM / 1000, TO / 1000).reduce((a, b) => a + b, 0);
  return { callsPerDevice: calls / DEVICES, recovered: recovered.size, lastRecoveredAfterMs: Math.max(...recovered.values()) - TO };
}

describe("a fleet through two hours of a failing endpoint", () => {
  it("refused by a trust anchor change (403 AccessDenied): a few calls an hour each, all recover within the hour", async () => {
    const r = await outage(json(403, "AccessDeniedException"));
    expect(r.callsPerDevice).toBeLessThan(12); // the ceiling doubles from 60 s to an hour
    expect(r.recovered).toBe(DEVICES); // nobody touched them
    expect(r.lastRecoveredAfterMs).toBeLessThan(HOUR);
  }, 60_000);

  it.each([
    ["a captive portal's HTML 403", { status: 403, headers: { "content-type": "text/html" }, body: Buffer.from("<html>Log in</html>") }],
    ["a captive portal's 302 to its login page", { status: 302, headers: { location: "http://portal.example/" }, body: Buffer.alloc(0) }],
    ["a proxy's 407", { status: 407, headers: { "proxy-authenticate": "Basic" }, body: Buffer.alloc(0) }],
  ])("blocked by %s: a call every few minutes each, all back within 5 minutes of the login", async (_, answer: HttpResponse) => {
    const r = await outage(answer);
    // The ceiling doubles from 1 s to 5 minutes: a call every 2.5 minutes on average, a few more as credentials lapse.
    expect(r.callsPerDevice).toBeLessThan(70);
    expect(r.callsPerDevice).toBeGreaterThan(40);
    expect(r.recovered).toBe(DEVICES);
    expect(r.lastRecoveredAfterMs).toBeLessThan(5 * MIN + 10_000); // before: up to an hour (the refusal's ceiling)
  }, 60_000);

  it("a 503 with an HTML body and no Retry-After: bounded back-off (≤ 3 calls per attempt, ≤ 60 s ceiling), back within a minute", async () => {
    const r = await outage({ status: 503, headers: { "content-type": "text/html" }, body: Buffer.from("<html>down</html>") });
    expect(r.callsPerDevice).toBeLessThan(3 * (2 * HOUR) / (25 * 1000)); // an attempt every 30 s on average
    expect(r.callsPerDevice).toBeGreaterThan(100); // and no device gives up
    expect(r.recovered).toBe(DEVICES);
    expect(r.lastRecoveredAfterMs).toBeLessThan(65_000);
  }, 60_000);

  it("throttled with a hostile Retry-After (10^12 s): the 5-minute ceiling is waited, neither ignored nor exceeded", async () => {
    const r = await outage(json(429, "ThrottlingException", { "retry-after": "1000000000000" }));
    expect(r.callsPerDevice).toBeLessThan(40); // one attempt per 5–6 minutes (before: 635, the header ignored)
    expect(r.recovered).toBe(DEVICES);
    expect(r.lastRecoveredAfterMs).toBeLessThan(6 * MIN + 30_000);
  }, 60_000);
});
