/** The conditions a client sends the agent for its key: what decides which key signs, never the PIN (request-conditions.ts). */
import { describe, expect, it, vi } from "vitest";
import type { Pkcs11Uri } from "../../src/pkcs11/uri.js";
import { requestConditions } from "../../src/agent/request-conditions.js";
import type { CredentialSettings } from "../../src/settings/credential-settings.js";
import { standInSettings } from "../helpers/stand-in.js";

// The real parser; what it returned is kept, to see whether the caller wiped the PIN it held.
const parsed = vi.hoisted(() => [] as Pkcs11Uri[]);
vi.mock("../../src/pkcs11/uri.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/pkcs11/uri.js")>();
  return { ...real, parsePkcs11Uri: (text: string) => parsed[parsed.push(real.parsePkcs11Uri(text)) - 1]! };
});

const withKey = (privateKey: string): CredentialSettings => ({ ...standInSettings(undefined, privateKey), endpoint: {} });

describe("requestConditions of a PKCS#11 key", () => {
  it("wipes a pin-value it parsed (before: left in memory until collected)", () => {
    parsed.length = 0;
    expect(requestConditions(withKey("pkcs11:token=t;object=k?pin-value=123456"))?.["private-key"]).toBe("pkcs11:object=k;token=t");
    const pin = parsed.map((uri) => uri.pin).find((p) => p?.kind === "value");
    expect(pin).toBeDefined();
    expect(() => pin?.kind === "value" && pin.value.use(() => undefined)).toThrow(/wiped/);
  });

  it("leaves pin-source out: how the PIN is given does not change which key signs (before: a missed match)", () => {
    const plain = requestConditions(withKey("pkcs11:token=t;object=k"));
    expect(requestConditions(withKey("pkcs11:token=t;object=k?pin-source=file:/run/pin"))).toEqual(plain);
  });
});
