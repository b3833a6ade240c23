/** Waiting for and checking what a long-running credential source hands out, for the fault tests. */
import { expect } from "vitest";
import type { CredentialSource } from "../../src/credentials/credential-source.js";
import type { Credentials } from "../../src/rolesanywhere/credentials.js";

/**
 * Polls `probe` every 25 ms until it returns a value, for 30 s at most: a recovery that reloads a TPM key took over
 * 5 s (the bound before) in CI under load.
 */
export async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() >= deadline) throw new Error(`timed out waiting for ${what} (30 s)`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Asserts that `c` are complete credentials still valid at `nowMs`, and returns them. */
export function expectUsable(c: Credentials, nowMs: number): Credentials {
  expect(c.accessKeyId).toMatch(/^ASIA/);
  expect(c.secretAccessKey).not.toBe("");
  expect(c.sessionToken).not.toBe("");
  expect(c.expiration.getTime()).toBeGreaterThan(nowMs);
  return c;
}

/** Keeps asking `src` until it hands out credentials other than `previous` (a refresh went through). */
export function untilNewCredentials(src: CredentialSource, previous: Credentials): Promise<Credentials> {
  let latest: Credentials | undefined;
  return until("recovered credentials", () => {
    void src.get().then(
      (c) => void (c.accessKeyId !== previous.accessKeyId && (latest = c)),
      () => undefined,
    );
    return latest;
  });
}
