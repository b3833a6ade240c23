/** The one type check of a library caller's options, and the own-property lookups every input-indexed table uses. */
import { describe, expect, it } from "vitest";
import { ENVIRONMENT, isText, ownCopy, ownValue, readOnce, VALID_DATE, wrongOption } from "../src/own-value.js";

describe("ownValue", () => {
  it("answers a table's own entries only: Object.prototype's names are unknown", () => {
    const table = { agent: 1, 5: "five" };
    expect(ownValue(table, "agent")).toBe(1);
    expect(ownValue(table as Record<number, unknown>, 5)).toBe("five");
    for (const key of ["__proto__", "constructor", "toString", "hasOwnProperty"]) expect(ownValue(table, key), key).toBeUndefined();
  });
});

describe("wrongOption", () => {
  it("the kinds: typeof names, [test, want] pairs, a valid Date, an environment of strings", () => {
    const kinds = { name: [isText, "a name"], at: VALID_DATE, env: ENVIRONMENT, n: "number" } as const;
    expect(wrongOption({ name: "x", at: new Date(0), env: { A: "1", B: undefined }, n: 1 }, kinds)).toBeUndefined();
    expect(wrongOption({ name: 5 }, kinds)).toBe("name must be a name");
    expect(wrongOption({ at: new Date("yesterday") }, kinds)).toBe("at must be a valid Date");
    expect(wrongOption({ at: 0 }, kinds)).toBe("at must be a valid Date");
    expect(wrongOption({ env: { A: 1 } }, kinds)).toBe("env must be an object of strings (like process.env)");
    expect(wrongOption({ env: process.env }, kinds)).toBeUndefined();
    expect(wrongOption({ n: "1" }, kinds)).toBe("n must be a number");
  });

  it("nested kinds: named a.b, required inside, and a later field still checked after a nested one passes", () => {
    const kinds = { tpm: { device: "string", noKeyPassword: "boolean" }, region: "string" } as const;
    expect(wrongOption({ tpm: { device: 5 } }, kinds)).toBe("tpm.device must be a string");
    expect(wrongOption({ tpm: { device: "d" }, region: 5 }, kinds)).toBe("region must be a string");
    expect(wrongOption({ tpm: {} }, kinds, { required: ["tpm.device"] })).toBe("tpm.device must be a string");
    expect(wrongOption({ tpm: {} }, kinds, { required: ["tpmx.device", "tpm_device", "device"] })).toBeUndefined();
    expect(wrongOption({}, kinds, { required: ["tpm"] })).toBe("tpm must be an object");
    const named = { what: "the settings", name: (f: string) => `--${f}` };
    expect(wrongOption({ tpm: { noKeyPassword: "yes" } }, kinds, named)).toBe("--tpm.noKeyPassword must be a boolean");
    expect(wrongOption([], kinds, named)).toBe("the settings must be an object");
    for (const options of ["tpm=x", 5, null, []]) expect(wrongOption(options, kinds), String(options)).toBe("the options must be an object");
  });

  it('"object": a plain object of any prototype-less or Object kind, never a Map or class instance', () => {
    expect(wrongOption({ o: Object.create(null) }, { o: "object" })).toBeUndefined();
    expect(wrongOption({ o: {} }, { o: "object" })).toBeUndefined();
    expect(wrongOption({ o: new Map() }, { o: "object" })).toBe("o must be a plain object ({ … }), not a Map or class instance");
    expect(wrongOption({ o: [] }, { o: "object" })).toBe("o must be an object");
  });

  it("checks the kinds' own fields only: a name Object.prototype was polluted with is no option (before: `polluted must be a number`)", () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto["polluted"] = "number";
    try {
      expect(wrongOption({ n: 1 }, { n: "number" })).toBeUndefined();
      expect(wrongOption({ n: "1" }, { n: "number" })).toBe("n must be a number");
      expect(wrongOption({ tpm: {} }, { tpm: { device: "string" } })).toBeUndefined();
    } finally {
      delete proto["polluted"];
    }
  });
});

describe("readOnce against a hostile caller's Proxy or class (before: a raw TypeError, or the value read again after its check)", () => {
  const kinds = { region: "string" } as const;
  const checked = (value: unknown) => wrongOption(readOnce(value), kinds);

  it("a revoked Proxy, a trap that throws or lists a key twice: refused as no plain object, not a TypeError", () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const twice = new Proxy({ region: "x" }, { ownKeys: () => ["region", "region"] });
    const throwing = new Proxy({}, { getPrototypeOf: () => { throw new Error("pin 1234"); } });
    expect(checked(revoked.proxy)).toBe("the options must be an object");
    for (const hostile of [twice, throwing]) {
      expect(() => readOnce(hostile)).not.toThrow();
      expect(checked(hostile)).toBe("the options must be a plain object ({ … }), not a Map or class instance");
    }
    // The SDK provider's copy of its options and their groups: the check that follows refuses the stand-in.
    expect(wrongOption({ pkcs11: ownCopy(twice) }, { pkcs11: "object" })).toBe("pkcs11 must be a plain object ({ … }), not a Map or class instance");
    expect(wrongOption(ownCopy(twice), { region: "string" })).toBe("the options must be a plain object ({ … }), not a Map or class instance");
    expect(wrongOption(revoked.proxy, kinds)).toBe("the options must be an object");
    expect(wrongOption({ o: revoked.proxy }, { o: "object" })).toBe("o must be an object");
  });

  it("a Proxy that says `Map` to readOnce and `Object` to the check is never read again: no value checked then changed", () => {
    let reads = 0;
    const lying = new Proxy({ region: "us-east-1" }, {
      getPrototypeOf: () => (reads++ === 0 ? Map.prototype : Object.prototype),
      get: (target, key) => (key === "region" && reads > 2 ? 5 : Reflect.get(target, key)),
    });
    const options = readOnce(lying);
    expect(wrongOption(options, kinds)).toBe("the options must be a plain object ({ … }), not a Map or class instance");
    expect(reads).toBe(1);
  });

  it("a class instance whose getter answers differently each read is refused, not checked then read again", () => {
    let n = 0;
    class Options { get region(): unknown { return n++ === 0 ? "us-east-1" : 5; } }
    expect(checked(new Options())).toBe("the options must be a plain object ({ … }), not a Map or class instance");
  });

  it("`__proto__` and `constructor` as own keys are copied as data; Symbol keys are not options", () => {
    const copy = readOnce(JSON.parse('{"__proto__": {"region": 5}, "constructor": 5, "region": "x"}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBeNull();
    expect(Object.keys(copy)).toEqual(["__proto__", "constructor", "region"]);
    expect(wrongOption(copy, kinds)).toBeUndefined();
    expect(Object.getOwnPropertySymbols(readOnce({ [Symbol("s")]: 1 }))).toEqual([]);
  });
});
