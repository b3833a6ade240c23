/**
 * examples/iot-gateway-boot.sh, as ten thousand gateways run it after a power cut: its retries of `update --once`
 * must be jittered, or every gateway throttled in the same second retries in the same second again, round after
 * round. Run with a stand-in `roles-anywhere-agent` (throttled, exit 7, a few times) and a `sleep` that only notes
 * how long it was asked to wait.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = join(import.meta.dirname, "../../examples/iot-gateway-boot.sh");
const dir = mkdtempSync(join(tmpdir(), "fleet-boot-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tool(name: string, body: string): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}
// Throttled (exit 7) on the first 6 runs of `update --once`, then served; the background refresher exits at once.
tool("roles-anywhere-agent", `case "$*" in *--once*) n=$(cat "${dir}/calls" 2>/dev/null || echo 0); n=$((n + 1));
  echo "$n" > "${dir}/calls"; [ -t 2 ] && echo tty >> "${dir}/calls-on-tty"; [ "$n" -gt 6 ] && exit 0; exit 7;; esac; exit 0`);
tool("sleep", `echo "$1" >> "${dir}/sleeps"`);

/** The waits of one boot, in seconds. */
function boot(): number[] {
  rmSync(join(dir, "calls"), { force: true });
  rmSync(join(dir, "sleeps"), { force: true });
  execFileSync("sh", [SCRIPT], {
    env: { PATH: `${dir}:${process.env["PATH"]}`, AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials") },
    stdio: "ignore",
  });
  return readFileSync(join(dir, "sleeps"), "utf8").trim().split("\n").map(Number);
}

describe("examples/iot-gateway-boot.sh in a fleet", () => {
  it("retries a throttled update --once after random waits under a doubling ceiling, not in step with its neighbours", () => {
    const boots = Array.from({ length: 8 }, boot);
    for (const waits of boots) {
      expect(waits).toHaveLength(6);
      waits.forEach((wait, i) => {
        expect(wait).toBeGreaterThanOrEqual(1);
        expect(wait).toBeLessThanOrEqual(Math.min(2 ** (i + 1), 30)); // the ceiling: 2, 4, 8, 16, 30, 30 s
      });
    }
    // Before: 2, 4, 8, 16, 30, 30 on every gateway, so all that booted together came back together.
    expect(new Set(boots.map((waits) => waits.join())).size).toBeGreaterThan(4);
  });

  it("leaves the wait for a clock wrong at boot to update --once: its stderr is not the boot console's terminal", () => {
    // update --once waits for NTP only off a terminal; the script had its own, weaker wait (year < 2024) instead.
    rmSync(join(dir, "calls"), { force: true });
    execFileSync("script", ["-qec", `sh ${SCRIPT}`, "/dev/null"], {
      env: { PATH: `${dir}:${process.env["PATH"]}`, AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials") },
      stdio: "ignore",
    });
    expect(readFileSync(join(dir, "calls"), "utf8").trim()).toBe("7");
    expect(() => readFileSync(join(dir, "calls-on-tty"))).toThrow(/ENOENT/);
    expect(readFileSync(SCRIPT, "utf8")).not.toMatch(/date \+%Y/);
  });
});
