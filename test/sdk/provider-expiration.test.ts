/**
 * The expiration fromRolesAnywhere reports to the AWS SDK (which asks again 5 minutes before it): no later than the
 * planned refresh, or the call once that is past, plus those 5 minutes, never later than the real expiry. The
 * credential source is a stand-in whose plan and credentials the test sets; the wall clock is faked.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CredentialSource } from "../../src/credentials/credential-source.js";
import { ARNS } from "../local-endpoint/support.js";

const MIN = 60_000;
const T0 = Date.UTC(2030, 0, 1, 12);
const plan = { refreshAt: T0, expiresAt: T0 };
vi.mock("../../src/credentials/credential-source.js", () => ({
  createCredentialSource: (): Partial<CredentialSource> => ({
    get: async () => ({ accessKeyId: "ASIA1", secretAccessKey: "s", sessionToken: "t", expiration: new Date(plan.expiresAt) }),
    status: () => ({ state: "fresh", expiration: new Date(plan.expiresAt), refreshAt: new Date(plan.refreshAt),
      consecutiveFailures: 0, lastError: undefined, nextAttemptAt: undefined }),
    close: async () => {},
  }),
}));
const { fromRolesAnywhere } = await import("../../src/sdk/index.js");

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"], now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("fromRolesAnywhere's reported expiration", () => {
  const provider = () => fromRolesAnywhere({ certificate: "/c.pem", privateKey: "/k.pem", ...ARNS, env: {} });
  it.each([
    ["a refresh planned in 34 minutes: the SDK comes back then", 34 * MIN, 60 * MIN, 39 * MIN],
    ["a refresh already due (a failing endpoint, a clock that jumped past it): at the SDK's next call", -MIN, 60 * MIN, 5 * MIN],
    ["credentials with less than 5 minutes left: their real expiry", 2 * MIN, 4 * MIN, 4 * MIN],
    ["a refresh due but credentials expiring sooner than 5 minutes from now: their real expiry", -MIN, 3 * MIN, 3 * MIN],
  ])("%s", async (_, refreshIn, expiresIn, reported) => {
    plan.refreshAt = T0 + refreshIn;
    plan.expiresAt = T0 + expiresIn;
    const p = provider();
    expect((await p()).expiration!.getTime() - T0).toBe(reported);
    vi.setSystemTime(T0 + 24 * 60 * MIN); // the clock stepped a day forward: the SDK is told to ask at once
    expect((await p()).expiration!.getTime() - Date.now()).toBeLessThanOrEqual(5 * MIN);
    await p.close();
  });
});
