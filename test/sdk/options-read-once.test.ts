/**
 * The SDK provider's options come from code that may be careless or hostile: each option is read once (the value
 * checked is the value used), and only the object's own properties are options (neither an inherited one nor one a
 * polluted Object.prototype adds).
 */
import { describe, expect, it, vi } from "vitest";
import { AgentError } from "../../src/errors.js";
import { Secret } from "../../src/secrets/secret.js";
import { fromRolesAnywhere, type RolesAnywhereProviderOptions } from "../../src/sdk/index.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { ARNS } from "../local-endpoint/support.js";
import { thrown } from "../helpers/agent-error.js";

const base = { ...ARNS, certificate: "/nonexistent/c.pem", privateKey: "/nonexistent/k.pem" };

describe("the SDK provider's options, read once", () => {
  it("reads every option and nested option at most once (a getter, a Proxy)", () => {
    const reads = new Map<string, number>();
    const counted = <T extends object>(target: T, prefix = ""): T =>
      new Proxy(target, {
        get(t, key, receiver) {
          const name = `${prefix}${String(key)}`;
          reads.set(name, (reads.get(name) ?? 0) + 1);
          return Reflect.get(t, key, receiver);
        },
      });
    const options = counted({
      ...base,
      keyPassword: counted({ kind: "env", name: "KEY_PW" }, "keyPassword."),
      pkcs11: counted({ pin: "2468", reusePin: true }, "pkcs11."),
      tpm: counted({ device: "tcp:127.0.0.1:2321", noKeyPassword: true }, "tpm."),
      env: {}, debug: () => {}, onRefresh: () => {},
    });
    void fromRolesAnywhere(options as RolesAnywhereProviderOptions).close();
    // Before: pkcs11 read 6 times, tpm 7, env and debug twice, onRefresh twice.
    expect([...reads].filter(([, n]) => n > 1)).toEqual([]);
  });

  it("uses the environment it checked: one that turns into numbers after its check is not read again", () => {
    let reads = 0;
    const options = { ...base, get env() { return reads++ === 0 ? { AWS_REGION: "us-east-1" } : { AWS_MAX_ATTEMPTS: 5 }; } };
    const settings = credentialSettingsFromOptions(options as never);
    expect(settings.endpoint.env).toEqual({ AWS_REGION: "us-east-1" }); // before: { AWS_MAX_ATTEMPTS: 5 }, never checked
  });

  it("holds a password given as { kind: \"value\" } as bytes, whatever a getter on its kind says on a second read", () => {
    let reads = 0;
    const keyPassword = { get kind() { return reads++ === 0 ? "file" : "value"; }, value: "k3y-pw", path: "/nonexistent/pw" };
    const { signer } = credentialSettingsFromOptions({ ...base, keyPassword } as never);
    // Before: { kind: "value", value: "k3y-pw", path } kept as text for the provider's life, the checks seeing a file.
    expect(JSON.stringify(signer)).not.toContain("k3y-pw");
  });

  it("wipes the PIN it held when a later option's getter throws (the caller's error is thrown as is)", () => {
    const made = vi.spyOn(Secret, "fromUtf8");
    try {
      const boom = new Error("the caller's getter");
      const options = { ...base, keyPassword: "k3y-pw", get roleArn(): string { throw boom; } };
      expect(thrown(() => credentialSettingsFromOptions(options as never))).toBe(boom);
      const wiped = (secret: Secret) => { try { secret.use(() => 0); return false; } catch { return true; } };
      // Before: the key password's bytes made (1), then left as they were when roleArn's getter threw.
      expect(made.mock.results.map((r) => wiped(r.value as Secret))).toEqual(made.mock.results.map(() => true));
    } finally {
      made.mockRestore();
    }
  });
});

describe("the SDK provider's options from hostile code (round 41)", () => {
  it("a caller's env is read once, when the options are: a getter or Proxy there is not read again at a refresh", () => {
    let reads = 0;
    const env = new Proxy({ AWS_MAX_ATTEMPTS: "2" } as Record<string, unknown>, {
      get: (t, key) => (typeof key === "string" && key.startsWith("AWS_") ? (reads++ === 0 ? t[key] : 5) : Reflect.get(t, key)),
    });
    const settings = credentialSettingsFromOptions({ ...base, env: env as NodeJS.ProcessEnv });
    const held = settings.endpoint.env!;
    // Before: held was the caller's Proxy itself, whose next read (createSession's, at each refresh) gave the number 5.
    expect([held === env, held["AWS_MAX_ATTEMPTS"], held["AWS_MAX_ATTEMPTS"], reads]).toEqual([false, "2", "2", 1]);
    env["AWS_REGION"] = "eu-west-1"; // nor is a later change to the caller's object seen
    expect(held["AWS_REGION"]).toBeUndefined();
    expect(credentialSettingsFromOptions({ ...base, env: process.env }).endpoint.env).toBe(process.env); // Node's own: live
  });

  it("a Proxy whose ownKeys trap gives a name twice, or a number: USAGE (round 43: was the engine's TypeError), before any option is read or held", () => {
    const made = vi.spyOn(Secret, "fromUtf8");
    try {
      for (const extra of ["roleArn", 5]) {
        let reads = 0;
        const options = new Proxy({ ...base, keyPassword: "k3y-pw" }, {
          ownKeys: (t) => [...Reflect.ownKeys(t), extra as string],
          get: (t, key) => (reads++, Reflect.get(t, key)),
        });
        expect(thrown(() => credentialSettingsFromOptions(options as never))).toMatchObject({
          code: "USAGE", message: "the options must be a plain object ({ … }), not a Map or class instance",
        });
        expect(reads).toBe(0);
      }
      expect(made).not.toHaveBeenCalled();
    } finally {
      made.mockRestore();
    }
  });

  it("a getter inside a secret source (pkcs11.pin's value) that throws: the key password held before it is wiped, the caller's error thrown as is", () => {
    const made = vi.spyOn(Secret, "fromUtf8");
    try {
      const boom = new Error("the caller's pin getter");
      const pin = { kind: "value", get value(): string { throw boom; } };
      expect(thrown(() => credentialSettingsFromOptions({ ...base, keyPassword: "k3y-pw", pkcs11: { pin } } as never))).toBe(boom);
      expect(made).toHaveBeenCalledTimes(1);
      expect(() => (made.mock.results[0]!.value as Secret).use(() => 0)).toThrow("secret used after it was wiped");
    } finally {
      made.mockRestore();
    }
  });

  it("pkcs11 or tpm as an array or a function (with the right names on it): refused as not an object, nothing taken from it", () => {
    const fn = Object.assign(() => 0, { library: "/tmp/evil.so", device: "tcp:attacker.example:2321" });
    for (const [group, value] of [["pkcs11", [fn]], ["pkcs11", fn], ["tpm", fn], ["tpm", ["/dev/tpmrm0"]]] as const) {
      expect(thrown(() => credentialSettingsFromOptions({ ...base, [group]: value } as never))).toMatchObject({ code: "USAGE", message: `${group} must be an object` });
    }
  });

  it("many unknown options: the first is named, each option read once", () => {
    let reads = 0;
    const many: Record<string, unknown> = { ...base };
    for (let i = 0; i < 10_000; i++) Object.defineProperty(many, `k${i}`, { get: () => (reads++, i), enumerable: true });
    expect(thrown(() => credentialSettingsFromOptions(many as never)).message).toBe('unknown option "k0"');
    expect(reads).toBe(10_000);
  });
});

describe("the SDK provider's options, own properties only", () => {
  it("refuses an options object made with a prototype (its inherited privateKey was used as the key)", () => {
    const options = Object.assign(Object.create({ privateKey: "/inherited/key.pem" }) as object, ARNS);
    const error = thrown(() => credentialSettingsFromOptions(options as never));
    expect(error).toBeInstanceOf(AgentError);
    expect([error.code, error.message]).toEqual(["USAGE", "the options must be a plain object ({ … }), not a Map or class instance"]);
  });

  it("takes no option from a polluted Object.prototype (an endpoint, no TLS check, a CA bundle, a PKCS#11 module)", () => {
    const polluted: [string, unknown][] = [["endpoint", "https://attacker.example"], ["verifyTls", false], ["caBundle", "/tmp/evil-ca.pem"], ["library", "/tmp/evil.so"], ["device", "tcp:attacker.example:2321"]];
    const taken = polluted.map(([name, value]) => {
      // Non-enumerable, as Object.defineProperty makes it: no for…in sees it, a plain read does.
      Object.defineProperty(Object.prototype, name, { value, configurable: true, writable: true });
      try {
        const { endpoint, signer } = credentialSettingsFromOptions({ ...base, pkcs11: {}, tpm: {} });
        return [name, [endpoint, signer.pkcs11 ?? {}, signer.tpm ?? {}].some((o) => Object.hasOwn(o, name))];
      } catch (error) {
        return [name, (error as Error).message];
      } finally {
        delete (Object.prototype as Record<string, unknown>)[name];
      }
    });
    // Before: pkcs11.library and tpm.device taken (the module loaded, the TPM reached); verifyTls a TypeError ("boolean
    // false is not iterable"), endpoint and caBundle read as the option o.h.t (a string destructured as a name pair).
    expect(taken).toEqual(polluted.map(([name]) => [name, false]));
  });

  it("still takes frozen objects, a null prototype and options from another realm's Object", () => {
    const frozen = Object.freeze({ ...base, pkcs11: Object.freeze({ reusePin: true }) });
    expect(credentialSettingsFromOptions(frozen).signer.pkcs11?.reusePin).toBe(true);
    const bare = Object.assign(Object.create(null) as object, base, { durationSeconds: 900 });
    expect(credentialSettingsFromOptions(bare as never).session.durationSeconds).toBe(900);
    expect(credentialSettingsFromOptions({ ...base, [Symbol("x")]: 1 } as never).session.durationSeconds).toBe(3600);
  });
});
