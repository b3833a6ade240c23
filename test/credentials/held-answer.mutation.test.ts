/**
 * A prompted PIN or password held as bytes (heldAnswer): wiped as soon as it is refused, not only at close (a mutation
 * dropping the refusal's wipe went unnoticed: a daemon whose PIN was refused kept it in memory for its life, the
 * source failed but never closed); and the "held" kind only as heldAnswer made it, never forged from JavaScript.
 */
import { describe, expect, it, vi } from "vitest";
import { holdSigner } from "../../src/credentials/signer-holder.js";
import { AuthError } from "../../src/errors.js";
import { heldAnswer, isSecretSource, readSecret } from "../../src/secrets/secret-source.js";
import { Secret } from "../../src/secrets/secret.js";
import type { SignerOptions } from "../../src/signers/options.js";

describe("a prompted PIN refused by the token", () => {
  it("is zero at once, before the holder closes; the refusal stands without asking again", async () => {
    const typed = Buffer.from("12345678");
    const promptOnTerminal = vi.fn(async () => Secret.fromBytes(typed));
    vi.doMock("../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal }));
    try {
      const options: SignerOptions = { privateKey: "pkcs11:token=t;object=k", pkcs11: { pin: { kind: "prompt", prompt: "PIN: " } } };
      const refused = new AuthError("PIN_INCORRECT", "the token refused the PIN (CKR_PIN_INCORRECT)");
      const factory = vi.fn(async (opened: SignerOptions) => {
        const pin = await readSecret(opened.pkcs11!.pin!, "PKCS#11 PIN");
        expect(pin.use((bytes) => bytes.toString())).toBe("12345678");
        pin.wipe();
        throw refused;
      });
      const holder = holdSigner(options, factory, () => {});
      await expect(holder.open()).rejects.toBe(refused);
      expect(typed.every((byte) => byte === 0)).toBe(true); // not kept until a close that may never come
      await expect(holder.acquire()).rejects.toBe(refused);
      expect(factory).toHaveBeenCalledTimes(1);
      expect(promptOnTerminal).toHaveBeenCalledTimes(1);
      await holder.close();
    } finally {
      vi.doUnmock("../../src/secrets/terminal-prompt.js");
    }
  });
});

describe("the held kind", () => {
  it("is a source only as heldAnswer made it: { kind: \"held\" } from JavaScript is refused as a malformed source", async () => {
    const forged = { kind: "held" };
    expect(isSecretSource(forged)).toBe(false);
    await expect(readSecret(forged as never, "PKCS#11 PIN")).rejects.toMatchObject({ code: "USAGE" });
    const held = heldAnswer(Secret.fromUtf8("1234"));
    expect(isSecretSource(held)).toBe(true);
    expect(JSON.stringify(held)).not.toContain("1234");
  });

  it("each read is a copy: wiping it leaves the held answer for the next open; the wiped answer is never presented", async () => {
    const answer = Secret.fromUtf8("1234");
    const held = heldAnswer(answer);
    const first = await readSecret(held, "PIN");
    first.wipe();
    expect((await readSecret(held, "PIN")).use((b) => b.toString())).toBe("1234");
    answer.wipe();
    await expect(readSecret(held, "PIN")).rejects.toThrow(/wiped/); // never presented as zeros
  });
});
