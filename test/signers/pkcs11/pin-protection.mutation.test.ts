/**
 * A PIN in memory from the start (a value, the environment) switches the process's protection on (no core file, no
 * inspector: the hook bin.ts sets) before a PKCS#11 module is loaded, whose crash would dump it: each case here kills a
 * mutant that switched it on later, at C_Login, or never. The module is a stand-in whose load crashes.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { pkcs11Class } from "../../../src/pkcs11/binding.js";
import { beforeFirstSecretRead } from "../../../src/secrets/secret-source.js";

let calls: string[] = [];

class CrashingModule {
  load(): void {
    calls.push("load");
    throw new Error("the module crashed while loading");
  }
  close(): void {}
}

vi.mock("../../../src/pkcs11/addon-status.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../../src/pkcs11/addon-status.js")>();
  return { ...real, requirePkcs11js: () => ({ PKCS11: pkcs11Class({ PKCS11: CrashingModule }) }) };
});
const { runMain } = await import("../../helpers/run-main.js");
const { createPkcs11Signer } = await import("../../../src/index.js");

/** The module calls made before the protection hook ran; undefined if it never ran. */
function watchProtection(): () => string[] | undefined {
  calls = [];
  let before: string[] | undefined;
  beforeFirstSecretRead(() => (before = [...calls]));
  return () => before;
}

afterEach(() => beforeFirstSecretRead(() => {}));

describe("protection before the module is loaded", () => {
  it.each([
    ["pin", { pin: { kind: "value", value: "1234" } }],
    ["contextPin", { contextPin: { kind: "value", value: "5678" } }],
  ] as const)("createPkcs11Signer with a %s given as a value", async (_, secret) => {
    const protectedAt = watchProtection();
    await expect(createPkcs11Signer({ keyUri: "pkcs11:token=fake;object=device", library: "/fake/module.so", ...secret })).rejects.toThrow();
    expect(calls).toEqual(["load"]);
    expect(protectedAt()).toEqual([]);
  });

  it("a pin-value in the key's URI: protected when the URI is parsed", async () => {
    const protectedAt = watchProtection();
    await expect(createPkcs11Signer({ keyUri: "pkcs11:token=fake;object=device?pin-value=1234", library: "/fake/module.so" })).rejects.toThrow();
    expect(calls).toEqual(["load"]);
    expect(protectedAt()).toEqual([]);
  });

  it.each([
    ["no PIN", {}],
    ["a PIN file, not read yet", { pin: { kind: "file", path: "/nonexistent/pin" }, contextPin: { kind: "file", path: "/nonexistent/pin" } }],
  ] as const)("with %s nothing is in memory yet: the hook waits for a read (here none: the module crashed)", async (_, secret) => {
    const protectedAt = watchProtection();
    await expect(createPkcs11Signer({ keyUri: "pkcs11:token=fake;object=device", library: "/fake/module.so", ...secret })).rejects.toThrow();
    expect(calls).toEqual(["load"]);
    expect(protectedAt()).toBeUndefined();
  });

  it("doctor with only a context PIN from the environment (the token-presence rows, which log in to nothing)", async () => {
    const protectedAt = watchProtection();
    const env = { CI: "true", XDG_RUNTIME_DIR: "/nonexistent", RAA_CONTEXT_PIN: "5678" };
    const argv = ["doctor", "--certificate", "pkcs11:token=fake;object=device", "--pkcs11-lib", "/fake/module.so"];
    const { stdout } = await runMain([...argv, "--pkcs11-context-pin-env", "RAA_CONTEXT_PIN"], env);
    expect(stdout).toMatch(/PKCS#11 module/);
    expect(calls).toEqual(["load"]);
    expect(protectedAt()).toEqual([]);
  });
});
