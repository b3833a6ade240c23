/**
 * credentialSettingsFromOptions failing after a PIN or password option was taken as held bytes: no provider will own
 * them, so they are wiped before the error is thrown.
 */
import { describe, expect, it, vi } from "vitest";
import { Secret } from "../../src/secrets/secret.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { ARNS } from "../local-endpoint/support.js";

describe("credentialSettingsFromOptions, an option refused after a held secret", () => {
  it("wipes the PIN and passwords it held (a valid pkcs11.pin, then a wrong tpm.parentPassword or duration)", () => {
    const made = vi.spyOn(Secret, "fromUtf8");
    try {
      const options = { ...ARNS, privateKey: "pkcs11:token=t;object=k", pkcs11: { pin: "2468" } };
      expect(() => credentialSettingsFromOptions({ ...options, tpm: { parentPassword: { kind: "value", value: 1 } } } as never))
        .toThrow(expect.objectContaining({ code: "USAGE" }));
      expect(() => credentialSettingsFromOptions({ ...options, tpm: { keyPassword: "pw" }, durationSeconds: -1 } as never)).toThrow();
      const secrets = made.mock.results.map((r) => r.value as Secret);
      const wiped = (secret: Secret) => { try { secret.use(() => 0); return false; } catch { return true; } };
      expect(secrets).toHaveLength(3);
      expect(secrets.map(wiped)).toEqual([true, true, true]);
    } finally {
      made.mockRestore();
    }
  });
});
