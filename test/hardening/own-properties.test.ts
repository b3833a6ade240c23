/**
 * Issue 20, defect 4: objects used as maps answered for names inherited from Object.prototype. A `pkcs11:`
 * URI attribute named `constructor` was stored under the name "function Object() { [native code] }", a
 * config field `toString` was accepted, `roles-anywhere-agent constructor` was an internal error (exit 1),
 * and `--pkcs8-password-env toString` passed a function as the password. Every table indexed by input now
 * answers for its own keys only (src/own-value.ts); each parser is tried with the inherited names.
 */
import { describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { main } from "../../src/cli/main.js";
import { parseConfig } from "../../src/config/parse-config.js";
import { attributeName } from "../../src/x509/names/attribute-names.js";
import { parseSubject } from "../../src/x509/names/parse-subject.js";
import { errorFromResponse } from "../../src/rolesanywhere/response.js";
import { readSecret } from "../../src/secrets/secret-source.js";
import { readInputFile } from "../../src/io/input-file.js";
import { pinFromSource } from "../../src/pkcs11/pin.js";
import { parsePkcs11Uri } from "../../src/pkcs11/uri.js";

const INHERITED = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf"];

async function cli(argv: string[]): Promise<{ code: number; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = "";
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await main(argv, { stdout, stderr, env: {} });
  return { code, err };
}

describe.each(INHERITED)("the name %s", (name) => {
  it("pkcs11: URI path attribute: unknown attribute (PKCS11_URI_INVALID)", () => {
    expect(() => parsePkcs11Uri(`pkcs11:${name}=x`)).toThrow(expect.objectContaining({ code: "PKCS11_URI_INVALID", message: expect.stringContaining(`unknown attribute ${name}`) }));
    expect(() => parsePkcs11Uri(`pkcs11:token=a?${name}=x`)).toThrow(expect.objectContaining({ code: "PKCS11_URI_INVALID" }));
  });

  it("config profile field: unknown field (CONFIG_INVALID)", () => {
    const text = `{"profiles": {"p": {"${name}": "x"}}}`;
    expect(() => parseConfig(text, "/tmp/config.json", "/root")).toThrow(expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringContaining(`unknown field "${name}"`) }));
  });

  it("config: a profile may be called so (profiles are a Map), and top-level/agent keys are refused", () => {
    if (name !== "__proto__") expect(parseConfig(`{"profiles": {"${name}": {"region": "us-east-1"}}}`, "/tmp/c.json", "/root").profiles.has(name)).toBe(true);
    expect(() => parseConfig(`{"${name}": 1}`, "/tmp/c.json", "/root")).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
    expect(() => parseConfig(`{"agent": {"${name}": 1}}`, "/tmp/c.json", "/root")).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
  });

  it("CLI command name: unknown command, exit 2, one line (also after `help`)", async () => {
    for (const argv of [[name], ["help", name]]) {
      const r = await cli(argv);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`unknown command "${name}"`);
      expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    }
  });

  it("CLI flag: unknown flag, exit 2", async () => {
    const r = await cli(["sign-string", `--${name}`, "x"]);
    expect(r.code).toBe(2);
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
  });

  it("environment variable name of a secret: not set (PASSWORD_REQUIRED), never an inherited function", async () => {
    await expect(readSecret({ kind: "env", name }, "the password")).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
    await expect(pinFromSource({ kind: "env", name }, "the PIN", {}).read()).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
  });

  it("env:NAME input (certificate, key, intermediates): not set (INPUT_MISSING), never an inherited function", async () => {
    await expect(readInputFile(`env:${name}`, "certificate file")).rejects.toMatchObject({ code: "INPUT_MISSING" });
  });

  it("subject attribute type: unknown (USAGE); attribute OID table: no name", () => {
    expect(() => parseSubject(`/${name}=x`)).toThrow(expect.objectContaining({ code: "USAGE" }));
    expect(attributeName(name)).toBeUndefined();
  });

  it("service error code from CreateSession: mapped to SERVICE_ERROR, not to an inherited value", () => {
    const error = errorFromResponse(
      { status: 418, headers: { "x-amzn-errortype": name }, body: Buffer.from(`{"message":"m"}`) },
      { receivedAt: new Date(), endpoint: "https://rolesanywhere.example", region: "us-east-1" },
    );
    expect(error.code).toBe("SERVICE_ERROR");
  });
});

describe("CreateSession error body whose __type is an object with toString: false (found by the fuzzer)", () => {
  it("is an AgentError, not a TypeError from String()", () => {
    const error = errorFromResponse(
      { status: 403, headers: {}, body: Buffer.from(JSON.stringify({ __type: { __type: true, toString: false }, toString: { a: 1 } })) },
      { receivedAt: new Date(), endpoint: "https://rolesanywhere.example", region: "us-east-1" },
    );
    expect(error.code).toBe("ACCESS_DENIED");
  });
});
