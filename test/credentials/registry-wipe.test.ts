/**
 * SourceRegistry.apply when building one source throws: the specs it never reached (that one included) hold PINs
 * as bytes that no source owns, so they are wiped; the sources built before it own theirs until closed.
 */
import { describe, expect, it } from "vitest";
import { createCredentialSource } from "../../src/credentials/credential-source.js";
import { SourceRegistry, type SourceSpec } from "../../src/credentials/source-registry.js";
import { heldSecret, heldValue } from "../../src/secrets/secret-source.js";
import { standInSettings, standInSigner } from "../helpers/stand-in.js";

const spec = (name: string): SourceSpec => {
  const settings = standInSettings();
  return { name, settings: { ...settings, signer: { ...settings.signer, pkcs11: { pin: heldValue(`pin-${name}`) } } } };
};
const wiped = (s: SourceSpec) => {
  try {
    heldSecret(s.settings.signer.pkcs11?.pin)!.use(() => 0);
    return false;
  } catch {
    return true;
  }
};

describe("SourceRegistry.apply, a source that cannot be built", () => {
  it("wipes the held PINs of that spec and of those after it; those built keep theirs until closed", async () => {
    const registry = new SourceRegistry((s) => {
      if (s.name === "b") throw new Error("cannot build b");
      return createCredentialSource({ ...s, createSigner: async () => standInSigner(), createSession: async () => { throw new Error("no network"); } });
    });
    const specs = ["a", "b", "c"].map(spec);
    await expect(registry.apply(specs)).rejects.toThrow("cannot build b");
    expect(specs.map(wiped)).toEqual([false, true, true]);
    await registry.closeAll();
    expect(specs.map(wiped)).toEqual([true, true, true]);
  });
});
