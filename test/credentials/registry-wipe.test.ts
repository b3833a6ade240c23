/**
 * SourceRegistry.apply when building one source throws: the specs it never reached (that one included) hold PINs
 * as bytes that no source owns, so they are wiped; the sources built before it own theirs until closed. A source
 * built and opened whose start() throws is closed.
 */
import { describe, expect, it } from "vitest";
import { createCredentialSource } from "../../src/credentials/credential-source.js";
import { SourceRegistry, type SourceSpec } from "../../src/credentials/source-registry.js";
import { heldSecret, heldValue } from "../../src/secrets/secret-source.js";
import { standInSettings, standInSigner } from "../helpers/stand-in.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { createSigner } from "../../src/signers/factory.js";
import type { SignerOptions } from "../../src/signers/options.js";
import type { Signer } from "../../src/signers/signer.js";

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

describe("SourceRegistry.apply, a source whose start() throws", () => {
  it("closes it: its signer (a real file signer here) is not left open", async () => {
    const { dir, cleanup } = makeTempDir("raa-registry-start-");
    try {
      const ca = createCa(dir, { name: "CA" });
      const leaf = issueLeaf(ca, dir, { name: "device" });
      let open = 0;
      const countingSigner = async (options: SignerOptions) => {
        const signer = await createSigner(options);
        open++;
        return { ...signer, close: async () => { open--; await signer.close(); } } as Signer;
      };
      const registry = new SourceRegistry((s) => createCredentialSource({
        ...s, createSigner: countingSigner, createSession: async () => { throw new Error("no network"); },
        timers: { setTimeout: () => { throw new Error("no timer"); }, clearTimeout: () => {} },
      }));
      await expect(registry.apply([{ name: "a", settings: standInSettings(leaf.certPath, leaf.keyPath) }])).rejects.toThrow("no timer");
      expect(registry.names()).toEqual([]);
      expect(open).toBe(0); // before: 1, the signer opened by open() and never closed
    } finally {
      cleanup();
    }
  });
});
