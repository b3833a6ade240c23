/**
 * sourceFingerprint (src/credentials/source-registry.ts) over values held as bytes: each of the five secret fields
 * counts, framed by its length, and no settings text or PIN is in the result.
 */
import { expect, it } from "vitest";
import { sourceFingerprint } from "../../src/credentials/source-registry.js";
import { heldValue } from "../../src/secrets/secret-source.js";
import type { CredentialSettings } from "../../src/settings/credential-settings.js";
import { standInSettings } from "../helpers/stand-in.js";

type Held = [string?, string?, string?, string?, string?];
const withHeld = ([keyPassword, pin, contextPin, tpmKey, parent]: Held): CredentialSettings => {
  const base = standInSettings(undefined, "pkcs11:token=t;object=k");
  const v = (s?: string) => (s === undefined ? undefined : heldValue(s));
  return {
    ...base,
    signer: {
      ...base.signer, keyPassword: v(keyPassword), pkcs11: { pin: v(pin), contextPin: v(contextPin) },
      tpm: { keyPassword: v(tpmKey), parentPassword: v(parent) },
    },
  };
};

it("a changed value in any of the five secret fields is another fingerprint (a reload rebuilds the source)", () => {
  const all: Held = ["kp-1", "pin-1", "ctx-1", "tk-1", "pp-1"];
  const before = sourceFingerprint(withHeld(all));
  expect(sourceFingerprint(withHeld(all))).toBe(before);
  for (let i = 0; i < 5; i++) {
    const changed = [...all] as Held;
    changed[i] = changed[i]!.replace("1", "2");
    expect(sourceFingerprint(withHeld(changed)), `field ${i}`).not.toBe(before);
  }
});

it("two held values are framed by their lengths: no value can pass for the boundary between two", () => {
  expect(sourceFingerprint(withHeld([undefined, "12", "3"]))).not.toBe(sourceFingerprint(withHeld([undefined, "1", "23"])));
  // Without the length, a value holding the frame's own text ("held:") moved the boundary unseen.
  expect(sourceFingerprint(withHeld([undefined, "a", "held:b"]))).not.toBe(sourceFingerprint(withHeld([undefined, "aheld:", "b"])));
});

it("is a digest alone: no settings text, no PIN", () => {
  const fingerprint = sourceFingerprint(withHeld(["kp-secret", "pin-secret"]));
  expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
});
