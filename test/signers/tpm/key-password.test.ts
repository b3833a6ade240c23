/** Which TPM key password is presented (resolveKeyPassword): none when the file or its policy says so, never an empty one. */
import { describe, expect, it, vi } from "vitest";
import { Secret } from "../../../src/secrets/secret.js";
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
    await expect(resolve({ keyPassword: pw }, file(true))).rejects.toMatchObject({
      code: "USAGE",
      message: "k: a TPM key password was given but the key file says the key has none (emptyAuth TRUE); it was not tried, so the TPM counted nothing",
    });
    expect(await resolve({ keyPassword: pw, ignoreEmptyAuth: true }, file(true))).toBe("s3cret");
  });

  it("no emptyAuth: the password given, none with noKeyPassword, else a prompt (here off: PASSWORD_REQUIRED)", async () => {
    expect(await resolve({ keyPassword: pw }, file(false))).toBe("s3cret");
    expect(await resolve({ keyPassword: pw })).toBe("s3cret");
    expect(await resolve({ noKeyPassword: true }, file(false))).toBe("");
    await expect(resolve({}, file(false))).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
    await expect(resolve({})).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
  });

  it("an empty password given, or one that cannot be read, is named as the TPM key password; the empty one not presented", async () => {
    process.env["RAA_TEST_EMPTY_TPM_PW"] = "";
    try {
      await expect(resolve({ keyPassword: { kind: "env", name: "RAA_TEST_EMPTY_TPM_PW" } })).rejects.toMatchObject({
        code: "PASSWORD_REQUIRED",
        hint: "give the password there: an empty one would only count as a failed try (dictionary-attack lockout)",
      });
    } finally {
      delete process.env["RAA_TEST_EMPTY_TPM_PW"];
    }
    await expect(resolve({ keyPassword: { kind: "file", path: "/nonexistent/tpm-pw" } })).rejects.toThrow(/TPM key password/);
  });

  it("the Go helper's prompt, after beforePrompt (which a password given does not wait for); kept only with askedPin", async () => {
    const steps: string[] = [];
    const promptOnTerminal = vi.fn(async (text: string, what: string) => {
      steps.push(`${text} (${what})`);
      return Secret.fromUtf8("typed-pw");
    });
    vi.doMock("../../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal }));
    try {
      const beforePrompt = vi.fn(async () => steps.push("ready"));
      const given = await resolveKeyPassword({ key: handle, keyPassword: pw }, undefined, "k", beforePrompt);
      expect([given.reveal(), beforePrompt.mock.calls.length]).toEqual(["s3cret", 0]);
      const oneShot = await resolveKeyPassword({ key: handle }, undefined, "k", beforePrompt); // no askedPin: none kept
      expect([oneShot.reveal(), steps]).toEqual(["typed-pw", ["ready", "Please enter your TPM key password: (TPM key password)"]]);
      const askedPin: TpmSignerOptions["askedPin"] = {};
      await resolveKeyPassword({ key: handle, askedPin }, undefined, "k");
      expect(askedPin.pin?.description).toBe("the TPM key password typed");
      const prompted = await resolveKeyPassword({ key: handle, keyPassword: { kind: "prompt", prompt: "TPM: " } }, undefined, "k");
      expect(prompted.reveal()).toBe("typed-pw"); // no beforePrompt given: asked at once
    } finally {
      vi.doUnmock("../../../src/secrets/terminal-prompt.js");
    }
  });
});
