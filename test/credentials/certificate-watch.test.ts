import { describe, expect, it } from "vitest";
import { certificateStatusJson, watchCertificate } from "../../src/credentials/certificate-watch.js";

const DAY = 86_400_000;

/** Timers driven by hand: `advance(ms)` fires what falls due. */
function manualClock(start: number) {
  let now = start;
  let pending: { at: number; fn: () => void; id: number }[] = [];
  let next = 1;
  return {
    now: () => now,
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        const id = next++;
        pending.push({ at: now + ms, fn, id });
        return id;
      },
      clearTimeout: (id: unknown) => {
        pending = pending.filter((p) => p.id !== id);
      },
    },
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        pending = pending.filter((p) => p !== due);
        now = due.at;
        due.fn();
      }
      now = end;
    },
    pendingCount: () => pending.length,
    /** The wall clock steps (NTP); timers run on the monotonic clock and keep their delays. */
    step(ms: number) {
      now += ms;
      for (const p of pending) p.at += ms;
    },
  };
}

describe("certificate watch", () => {
  const start = Date.parse("2026-12-01T00:00:00Z");
  const cert = (daysLeft: number) => ({ subject: "CN=gw", notBefore: new Date(start - 100 * DAY), notAfter: new Date(start + daysLeft * DAY) });

  it("warns at first use within the window, then daily from its timer, and says expired in its status", () => {
    const clock = manualClock(start);
    const lines: string[] = [];
    const watch = watchCertificate({ windowMs: 14 * DAY, warn: (l) => lines.push(l), now: clock.now, timers: clock.timers });
    watch.observe(cert(3));
    expect(lines).toEqual([expect.stringMatching(/^warning: the certificate \(CN=gw\) expires in 3 d /)]);
    expect(watch.status()?.state).toBe("expiring");
    // Refreshes every hour do not repeat it within the day…
    for (let h = 1; h < 24; h++) {
      clock.advance(3600_000 - 1);
      watch.observe(cert(3));
    }
    expect(lines).toHaveLength(1);
    // …the daily timer does, even with no refresh at all.
    clock.advance(DAY);
    clock.advance(DAY);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/expires in 1 d /);
    clock.advance(2 * DAY);
    expect(watch.status()?.state).toBe("expired");
    expect(certificateStatusJson(watch.status())).toEqual({ subject: "CN=gw", notBefore: "2026-08-23T00:00:00Z", notAfter: "2026-12-04T00:00:00Z", state: "expired" });
    watch.stop();
    expect(clock.pendingCount()).toBe(0);
  });

  it("says nothing outside the window; a renewed certificate starts over", () => {
    const clock = manualClock(start);
    const lines: string[] = [];
    const watch = watchCertificate({ windowMs: 14 * DAY, warn: (l) => lines.push(l), now: clock.now, timers: clock.timers });
    watch.observe(cert(30));
    expect(lines).toEqual([]);
    expect(watch.status()?.state).toBe("valid");
    clock.advance(16 * DAY); // 14 days left: the daily timer notices
    expect(lines).toHaveLength(1);
    watch.observe(cert(16 + 30)); // renewed (another expiry): warned again only when it, too, comes close
    expect(lines).toHaveLength(1);
    expect(watch.status()?.state).toBe("valid");
    watch.observe(cert(16 + 12));
    expect(lines).toHaveLength(2);
    watch.stop();
  });

  it("the daily warning comes daily when the wall clock steps back between two (NTP), not a day later", () => {
    // Before: the timer fired a day later on the monotonic clock, less than a day later on the stepped wall clock,
    // and said nothing: with no refresh in between the next warning came after two days.
    const clock = manualClock(start);
    const lines: string[] = [];
    const watch = watchCertificate({ windowMs: 14 * DAY, warn: (l) => lines.push(l), now: clock.now, timers: clock.timers });
    watch.observe(cert(5));
    clock.step(-2_000);
    clock.advance(DAY);
    expect(lines).toHaveLength(2);
    // Forward: a refresh a day after the last warning on the wall clock warns, and the timer counts its day from it.
    clock.step(3 * 3600_000);
    watch.observe(cert(5));
    expect(lines).toHaveLength(2);
    clock.advance(22 * 3600_000);
    watch.observe(cert(5));
    expect(lines).toHaveLength(3);
    clock.advance(23 * 3600_000);
    expect(lines).toHaveLength(3);
    clock.advance(3600_000);
    expect(lines).toHaveLength(4);
    watch.stop();
  });

  it("without a timer (one-shot use), nothing is scheduled", () => {
    const clock = manualClock(start);
    const watch = watchCertificate({ windowMs: DAY, warn: () => {}, now: clock.now, timers: clock.timers, timer: false });
    watch.observe(cert(0.5));
    expect(clock.pendingCount()).toBe(0);
    expect(certificateStatusJson(undefined)).toBeNull();
  });
});
