/**
 * SourceRegistry.apply when building one source throws: every source is built before any is closed, so nothing
 * changes (the daemon logs "reload failed, keeping the previous configuration"), and the PINs the new specs hold as
 * bytes, which no source owns, are wiped. A source whose start() throws is closed and not registered, nor is the one
 * it replaced (closed already): its role is unknown until the next reload, and the result says why.
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

const spec = (name: string, pin = `pin-${name}`): SourceSpec => {
  const settings = standInSettings();
  return { name, settings: { ...settings, signer: { ...settings.signer, pkcs11: { pin: heldValue(pin) } } } };
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
  it("changes nothing: the sources before it are not replaced, none is closed, the new specs' PINs are wiped", async () => {
    const closed: string[] = [];
    let refuse = "";
    const registry = new SourceRegistry((s) => {
      if (s.name === refuse) throw new Error(`cannot build ${s.name}`);
      const signer = { ...standInSigner(), close: async () => void closed.push(s.name) };
      return createCredentialSource({ ...s, createSigner: async () => signer, createSession: async () => { throw new Error("no network"); } });
    });
    const first = ["a", "b", "c"].map((n) => spec(n));
    await registry.apply(first);
    const running = registry.all();
    refuse = "b";
    const next = ["a", "b", "c"].map((n) => spec(n, `new-pin-${n}`)); // each changed: rebuilt
    await expect(registry.apply(next)).rejects.toThrow("cannot build b");
    expect(registry.all().map((source, i) => source === running[i])).toEqual([true, true, true]); // before: a replaced
    expect(closed).toEqual([]); // before: a's and b's signers closed
    expect(next.map(wiped)).toEqual([true, true, true]);
    expect(first.map(wiped)).toEqual([false, false, false]);
    await registry.closeAll();
    expect(first.map(wiped)).toEqual([true, true, true]);
  });

  it("wipes none of the PINs that a registered source shares with the new specs", async () => {
    const registry = new SourceRegistry((s) => {
      if (s.name === "b") throw new Error("cannot build b");
      return createCredentialSource({ ...s, createSigner: async () => standInSigner(), createSession: async () => { throw new Error("no network"); } });
    });
    const a = spec("a");
    await registry.apply([a]);
    const b = { ...spec("b"), settings: { ...spec("b").settings, signer: a.settings.signer } };
    await expect(registry.apply([a, b])).rejects.toThrow("cannot build b");
    expect(wiped(a)).toBe(false);
    await registry.closeAll();
  });
});

describe("SourceRegistry.apply, a source whose start() throws", () => {
  it("closes it (its signer, a real file signer here, is not left open) and registers neither it nor the one it replaced", async () => {
    const { dir, cleanup } = makeTempDir("raa-registry-start-");
    try {
      const ca = createCa(dir, { name: "CA" });
      const leaf = issueLeaf(ca, dir, { name: "device" });
      const other = issueLeaf(ca, dir, { name: "renewed" });
      let open = 0;
      const countingSigner = async (options: SignerOptions) => {
        const signer = await createSigner(options);
        open++;
        return { ...signer, close: async () => { open--; await signer.close(); } } as Signer;
      };
      let timers = true;
      const registry = new SourceRegistry((s) => createCredentialSource({
        ...s, createSigner: countingSigner, createSession: async () => { throw new Error("no network"); },
        timers: { setTimeout: () => { if (!timers) throw new Error("no timer"); return 0; }, clearTimeout: () => {} },
      }));
      await registry.apply([{ name: "a", settings: standInSettings(leaf.certPath, leaf.keyPath) }]);
      expect(registry.names()).toEqual(["a"]);
      timers = false;
      const result = await registry.apply([{ name: "a", settings: standInSettings(other.certPath, other.keyPath) }]);
      expect(registry.names()).toEqual([]); // before: the reload failed, and a's closed source stayed registered
      expect(result.failed).toHaveLength(1);
      expect(result.failed[0]).toMatchObject({ name: "a", error: { code: "INTERNAL" } });
      expect((result.failed[0]!.error as Error).message).toBe("could not start refreshing (no timer); not served until the next reload");
      expect(((result.failed[0]!.error as Error).cause as Error).message).toBe("no timer"); // for the log's detail
      expect(result.replaced).toEqual([]);
      expect(open).toBe(0);
    } finally {
      cleanup();
    }
  });
});
