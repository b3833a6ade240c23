/** Which TPM key password is presented (resolveKeyPassword): none when the file or its policy says so, never an empty one. */
import { describe, expect, it } from "vitest";
import { resolveKeyPassword } from "../../../src/signers/tpm/key-password.js";
import type { Tss2KeyFile } from "../../../src/tpm/keys/tss2-key-file.js";
import type { TpmSignerOptions } from "../../../src/signers/options.js";

const handle = { kind: "handle", handle: 0x81000001 } as const;
const pw = { kind: "value", value: "s3cret" } as const;
const file = (emptyAuth: boolean, policy: Tss2KeyFile["policy"] = []) => ({ emptyAuth, policy }) as unknown as Tss2KeyFile;
const pcrOnly = [{ command: "PolicyPCR", pcrs: [], pcrDigest: Buffer.alloc(32) }] as unknown as Tss2KeyFile["policy"];
const withAuthValue = [...pcrOnly, { command: "PolicyAuthValue" }] as Tss2KeyFile["policy"];
const resolve = (opts: Omit<TpmSignerOptions, "key">, f?: Tss2KeyFile) =>
  resolveKeyPassword({ key: handle, prompt: false, ...opts }, f, "k").then((s) => s.reveal());

describe("resolveKeyPassword", () => {
  it("a policy without PolicyAuthValue/PolicyPassword needs none: empty, and a password given for it is refused", async () => {
    expect(await resolve({}, file(false, pcrOnly))).toBe("");
    await expect(resolve({ keyPassword: pw }, file(false, pcrOnly))).rejects.toMatchObject({
      code: "USAGE", message: "k: a TPM key password was given but the key's policy does not use one",
    });
  });

  it("a policy with PolicyAuthValue takes the password given", async () => {
    expect(await resolve({ keyPassword: pw }, file(false, withAuthValue))).toBe("s3cret");
    await expect(resolve({}, file(false, withAuthValue))).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
  });

  it("emptyAuth: none without a password; one given is refused unless the flag is said to be inverted", async () => {
    expect(await resolve({}, file(true))).toBe("");
    await expect(resolve({ keyPassword: pw }, file(true))).rejects.toMatchObject({ code: "USAGE" });
    expect(await resolve({ keyPassword: pw, ignoreEmptyAuth: true }, file(true))).toBe("s3cret");
  });

  it("no emptyAuth: the password given, none with noKeyPassword, else a prompt (here off: PASSWORD_REQUIRED)", async () => {
    expect(await resolve({ keyPassword: pw }, file(false))).toBe("s3cret");
    expect(await resolve({ keyPassword: pw })).toBe("s3cret");
    expect(await resolve({ noKeyPassword: true }, file(false))).toBe("");
    await expect(resolve({}, file(false))).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
    await expect(resolve({})).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
  });
});
