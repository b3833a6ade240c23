/** The conditions a client sends the agent for its key: what decides which key signs, never the PIN (request-conditions.ts). */
import { describe, expect, it, vi } from "vitest";
import { requestConditions } from "../../src/agent/request-conditions.js";
import { Secret } from "../../src/secrets/secret.js";
import type { CredentialSettings } from "../../src/settings/credential-settings.js";
import { standInSettings } from "../helpers/stand-in.js";

const withKey = (privateKey: string): CredentialSettings => ({ ...standInSettings(undefined, privateKey), endpoint: {} });

describe("requestConditions of a PKCS#11 key", () => {
  it("wipes a pin-value it parsed (before: left in memory until collected)", () => {
    const made = vi.spyOn(Secret, "fromBytes"); // the parser's Secret of the pin-value
    try {
      expect(requestConditions(withKey("pkcs11:token=t;object=k?pin-value=123456"))?.["private-key"]).toBe("pkcs11:object=k;token=t");
      const pins = made.mock.results.map((r) => r.value as Secret);
      expect(pins).toHaveLength(1);
      expect(() => pins[0]!.use(() => undefined)).toThrow(/wiped/);
    } finally {
      made.mockRestore();
    }
  });

  it("leaves pin-source out: how the PIN is given does not change which key signs (before: a missed match)", () => {
    const plain = requestConditions(withKey("pkcs11:token=t;object=k"));
    expect(requestConditions(withKey("pkcs11:token=t;object=k?pin-source=file:/run/pin"))).toEqual(plain);
  });
});
