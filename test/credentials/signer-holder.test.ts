import { describe, expect, it, vi } from "vitest";
import { answerPromptsOnce, holdSigner } from "../../src/credentials/signer-holder.js";
import { AuthError } from "../../src/errors.js";
import { heldSecret, readSecret } from "../../src/secrets/secret-source.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { ARNS } from "../local-endpoint/support.js";
import { Secret } from "../../src/secrets/secret.js";
import type { SignerOptions } from "../../src/signers/options.js";
import type { Signer } from "../../src/signers/signer.js";
import type { Certificate } from "../../src/x509/certificate.js";
import { standInSigner } from "../helpers/stand-in.js";

// The holder alone (credential-source.test.ts runs it behind a cache, whose final error hid these mutants).
const TOKEN: SignerOptions = { privateKey: "pkcs11:token=t;object=k" };
const leaf = { subject: "leaf" } as unknown as Certificate;
const intermediate = { subject: "intermediate" } as unknown as Certificate;

function tokenSigner(): Signer & { close: ReturnType<typeof vi.fn> } {
  return { ...standInSigner(leaf), certificateChain: async () => [intermediate], close: vi.fn(async () => {}) };
}

describe("holdSigner", () => {
  it("a PIN refused while signing: signer closed, asked PIN wiped, the token never tried again", async () => {
    const signer = tokenSigner();
    const factory = vi.fn(async () => signer);
    const wipe = vi.fn();
    const options = { ...TOKEN, askedPin: { pin: { wipe } as never } };
    const holder = holdSigner(options, factory, () => {});
    await holder.acquire();
    const refused = new AuthError("PIN_INCORRECT", "the token rejected the PIN");
    await holder.release(refused);
    expect(signer.close).toHaveBeenCalledTimes(1);
    expect(wipe).toHaveBeenCalled();
    // Another try would count against the token's retry limit (and lock it): the same error, no new open.
    await expect(holder.acquire()).rejects.toBe(refused);
    await expect(holder.open()).rejects.toBe(refused);
    expect(factory).toHaveBeenCalledTimes(1);
  });

  it("keeps a token's signer across refreshes, and tells the certificate watch each leaf it signs with", async () => {
    const signer = tokenSigner();
    const factory = vi.fn(async () => signer);
    const observe = vi.fn();
    const holder = holdSigner(TOKEN, factory, observe);
    const first = await holder.acquire();
    expect(await first.certificate()).toBe(leaf);
    expect(observe).toHaveBeenCalledWith(leaf);
    // No certificate file: the chain is the token's (dropped, CreateSession lacked the intermediates).
    expect(await first.certificateChain()).toEqual([intermediate]);
    await holder.release();
    await holder.acquire();
    expect([factory.mock.calls.length, signer.close.mock.calls.length]).toEqual([1, 0]);
  });

  it("close() waits for a signer still being opened, and closes it (it outlived the source)", async () => {
    const signer = tokenSigner();
    let opened!: (s: Signer) => void;
    const holder = holdSigner(TOKEN, () => new Promise<Signer>((r) => (opened = r)), () => {});
    const open = holder.open().catch((error: unknown) => error);
    await vi.waitFor(() => expect(opened).toBeDefined());
    let closed = false;
    const closing = holder.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    opened(signer);
    await closing;
    expect(signer.close).toHaveBeenCalledTimes(1);
    expect(await open).toMatchObject({ code: "AGENT_UNAVAILABLE" });
  });
});

describe("answerPromptsOnce", () => {
  it("keeps the caller's askedPin: the PIN the first open asked is reused by the next source", async () => {
    const askedPin = {};
    const answered = await answerPromptsOnce({ ...TOKEN, askedPin });
    expect(answered.askedPin).toBe(askedPin);
  });
});

describe("holdSigner, an open that fails", () => {
  it("for a device (the token not there yet) is tried again at the next acquire, the answers kept; only a refusal is final", async () => {
    const wipe = vi.fn();
    let attempts = 0;
    const factory = vi.fn(async () => {
      if (++attempts === 1) throw Object.assign(new Error("no token"), { category: "device" });
      return tokenSigner();
    });
    const holder = holdSigner({ ...TOKEN, askedPin: { pin: { wipe } as never } }, factory, () => {});
    await expect(holder.open()).rejects.toThrow("no token");
    await holder.acquire(); // not authFailure: a failed open is a refusal only when the token or TPM says so
    expect([factory.mock.calls.length, wipe.mock.calls.length]).toEqual([2, 0]);
    await holder.close();
  });

  it("closed: an acquire after it opens nothing (no device touched), it is told the source was closed", async () => {
    const factory = vi.fn(async () => tokenSigner());
    const holder = holdSigner(TOKEN, factory, () => {});
    await holder.close();
    await expect(holder.acquire()).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE" });
    expect(factory).not.toHaveBeenCalled();
  });
});

describe("answerPromptsOnce, a TPM key's prompts", () => {
  it("answers the key and parent passwords by name and keeps the TPM options' other fields", async () => {
    const promptOnTerminal = vi.fn(async (_prompt: string, what: string) => Secret.fromUtf8(`typed ${what}`));
    vi.doMock("../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal }));
    try {
      const prompt = { kind: "prompt" as const, prompt: "P: " };
      const answers: Secret[] = [];
      const answered = await answerPromptsOnce({ privateKey: "handle:0x81000010", tpm: { keyPassword: prompt, parentPassword: prompt, ignoreEmptyAuth: true } }, undefined, answers);
      expect(answered.tpm?.ignoreEmptyAuth).toBe(true);
      const text = (source: SignerOptions["keyPassword"]) => heldSecret(source)!.use((b) => b.toString());
      expect([text(answered.tpm?.keyPassword), text(answered.tpm?.parentPassword)]).toEqual(["typed TPM key password", "typed TPM parent password"]);
      expect(answers).toHaveLength(2);
      answers.forEach((answer) => answer.wipe());
    } finally {
      vi.doUnmock("../../src/secrets/terminal-prompt.js");
    }
  });
});

describe("a prompted password or PIN", () => {
  it("is held as bytes, never a { kind: \"value\" } string, until the holder closes: then they are zero", async () => {
    const typed = { "key password": Buffer.from("k3y-pw"), "PKCS#11 PIN": Buffer.from("12345678") };
    const promptOnTerminal = vi.fn(async (_prompt: string, what: keyof typeof typed) => Secret.fromBytes(typed[what]));
    vi.doMock("../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal }));
    try {
      const prompt = (text: string) => ({ kind: "prompt" as const, prompt: text });
      const options = { ...TOKEN, keyPassword: prompt("Key password: "), pkcs11: { pin: prompt("PIN: ") } };
      const seen: string[] = [];
      const factory = vi.fn(async (opened: SignerOptions) => {
        // Before: { kind: "value", value: "12345678" }, a JS string kept for the daemon's life.
        for (const source of [opened.keyPassword!, opened.pkcs11!.pin!]) {
          expect(JSON.stringify(source)).not.toMatch(/k3y-pw|12345678/);
          expect(source.kind).not.toBe("value");
          const secret = await readSecret(source, "test");
          seen.push(secret.use((bytes) => bytes.toString()));
          secret.wipe(); // a copy: the holder's stays for the next open
        }
        opened.askedPin!.pin ??= { description: "a prompt", read: async () => Secret.fromUtf8(""), wipe: askedWipe };
        return tokenSigner();
      });
      const askedWipe = vi.fn(); // a user PIN the token asked for (open-signer.ts): this holder's own askedPin
      const holder = holdSigner(options, factory, () => {});
      await holder.open();
      await holder.release({ category: "device" });
      await holder.acquire(); // re-opened after a device error: nothing asked again, the same answers read
      expect(seen).toEqual(["k3y-pw", "12345678", "k3y-pw", "12345678"]);
      expect(promptOnTerminal).toHaveBeenCalledTimes(2);
      expect(Object.values(typed).map((b) => b.toString())).toEqual(["k3y-pw", "12345678"]);
      await holder.close();
      expect(Object.values(typed).every((b) => b.every((byte) => byte === 0))).toBe(true);
      expect(askedWipe).toHaveBeenCalled();
    } finally {
      vi.doUnmock("../../src/secrets/terminal-prompt.js");
    }
  });
});

describe("a TPM key password typed when none was given (the Go helper's prompt)", () => {
  const TPM_KEY: SignerOptions = { privateKey: "handle:0x81000010" };
  /** The holder's factory with the TPM back-end's password step (key-password.ts); what it resolved, as text. */
  const opening = async (seen: string[], asked: SignerOptions["askedPin"][] = []) => {
    const { resolveKeyPassword } = await import("../../src/signers/tpm/key-password.js");
    return vi.fn(async (opened: SignerOptions) => {
      asked.push(opened.askedPin); // the holder's own (a daemon's source), none given
      const password = await resolveKeyPassword({ ...opened.tpm, key: { kind: "handle", handle: 0x81000010 }, askedPin: opened.askedPin }, undefined, "TPM key");
      seen.push(password.use((b) => b.toString()));
      password.wipe(); // the signer's copy, wiped at its close
      return { ...standInSigner(), backend: "tpm" } as Signer;
    });
  };
  const typed = () => vi.fn(async () => Secret.fromUtf8("typed-pw"));

  it("is asked once: a re-open after a device error presents the typed one; the holder's close wipes it", async () => {
    const promptOnTerminal = typed();
    vi.doMock("../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal }));
    try {
      const seen: string[] = [];
      const asked: SignerOptions["askedPin"][] = [];
      const holder = holdSigner(TPM_KEY, await opening(seen, asked), () => {});
      await holder.open();
      await holder.release({ category: "device" });
      await holder.acquire();
      expect(seen).toEqual(["typed-pw", "typed-pw"]);
      expect(promptOnTerminal).toHaveBeenCalledTimes(1); // before: 2, asked again at the re-open
      expect(asked[1]).toBe(asked[0]);
      await holder.close();
      await expect(asked[0]!.pin!.read()).rejects.toThrow("wiped");
    } finally {
      vi.doUnmock("../../src/secrets/terminal-prompt.js");
    }
  });

  it("rejected by the TPM: never presented again, nor asked for again; the kept copy is wiped", async () => {
    const promptOnTerminal = typed();
    vi.doMock("../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal }));
    try {
      const seen: string[] = [];
      const asked: SignerOptions["askedPin"][] = [];
      const factory = await opening(seen, asked);
      const holder = holdSigner(TPM_KEY, factory, () => {});
      await holder.acquire();
      const refused = new AuthError("TPM_AUTH_FAILED", "the TPM rejected the key password");
      await holder.release(refused);
      await expect(asked[0]!.pin!.read()).rejects.toThrow("wiped");
      await holder.release({ category: "device" });
      await expect(holder.acquire()).rejects.toBe(refused);
      expect(factory).toHaveBeenCalledTimes(1);
      expect(promptOnTerminal).toHaveBeenCalledTimes(1);
    } finally {
      vi.doUnmock("../../src/secrets/terminal-prompt.js");
    }
  });
});

describe("a PIN or password given directly (a flag, the SDK provider's options)", () => {
  const given = () => credentialSettingsFromOptions({ ...ARNS, ...TOKEN, keyPassword: "k3y-pw", pkcs11: { pin: "12345678" } }).signer;
  const bytesOf = (o: SignerOptions) => [o.keyPassword, o.pkcs11?.pin].map((s) => heldSecret(s)!.use((b) => b));
  const zero = (buffers: Buffer[]) => buffers.every((b) => b.length > 0 && b.every((byte) => byte === 0));

  it("is held as bytes from the moment it is parsed, read at each open, and zero once the holder closes", async () => {
    const options = given();
    // Before: { kind: "value", value: "12345678" }, a JS string kept for the daemon's life (and in its reload fingerprint).
    expect(JSON.stringify(options)).not.toMatch(/k3y-pw|12345678/);
    const bytes = bytesOf(options);
    const seen: string[] = [];
    const holder = holdSigner(options, async (opened) => {
      for (const source of [opened.keyPassword!, opened.pkcs11!.pin!]) {
        const secret = await readSecret(source, "test");
        seen.push(secret.use((b) => b.toString()));
        secret.wipe(); // a copy: the holder's stays for the next open
      }
      return tokenSigner();
    }, () => {});
    await holder.open();
    await holder.release({ category: "device" });
    await holder.acquire();
    expect(seen).toEqual(["k3y-pw", "12345678", "k3y-pw", "12345678"]);
    expect(zero(bytes)).toBe(false);
    await holder.close();
    expect(zero(bytes)).toBe(true);
  });

  it("is zero once the token refused it (never tried again)", async () => {
    const options = given();
    const bytes = bytesOf(options);
    const holder = holdSigner(options, async () => tokenSigner(), () => {});
    await holder.acquire();
    await holder.release(new AuthError("PIN_INCORRECT", "the token rejected the PIN"));
    expect(zero(bytes)).toBe(true);
  });
});

describe("a pkcs11: URI's pin-value (a flag, a config profile, the SDK provider's options)", () => {
  const uri = "pkcs11:token=t;object=k?module-path=/usr/lib/x.so&pin-value=Pin%2F5678";
  const settings = () => credentialSettingsFromOptions({ ...ARNS, privateKey: uri, certificate: uri });
  /** Every string reachable from `value` that holds the PIN, as given or percent-encoded. */
  const stringsHolding = (value: unknown, seen = new Set<unknown>()): string[] => {
    if (typeof value === "string") return /Pin(%2F|\/)5678/i.test(value) ? [value] : [];
    if (typeof value !== "object" || value === null || seen.has(value)) return [];
    seen.add(value);
    return Object.values(value).flatMap((v) => stringsHolding(v, seen));
  };

  it("is no string of the settings: held as bytes, read at each open, zero once the holder closes", async () => {
    const { signer } = settings();
    expect(stringsHolding(settings())).toEqual([]); // before: 2, the certificate's and the private key's text
    expect(signer.privateKey).toBe("pkcs11:object=k;token=t?module-path=/usr/lib/x.so"); // the rest of the URI kept
    expect(signer.certificate).toBe(signer.privateKey);
    const bytes = heldSecret(signer.pkcs11?.uriPin)!.use((b) => b);
    const seen: string[] = [];
    const holder = holdSigner(signer, async (opened) => {
      const secret = await readSecret(opened.pkcs11!.uriPin!, "test");
      seen.push(secret.use((b) => b.toString()));
      secret.wipe();
      return tokenSigner();
    }, () => {});
    await holder.open();
    await holder.release({ category: "device" });
    await holder.acquire();
    expect(seen).toEqual(["Pin/5678", "Pin/5678"]);
    await holder.close();
    expect(bytes.length > 0 && bytes.every((b) => b === 0)).toBe(true);
  });

  it("the key's pin-value wins over the certificate's; the certificate's is taken when the key's URI has none", () => {
    const pinOf = (o: SignerOptions) => heldSecret(o.pkcs11?.uriPin)?.use((b) => b.toString());
    const key = "pkcs11:token=t;object=k";
    const made = vi.spyOn(Secret, "fromBytes");
    const both = credentialSettingsFromOptions({ ...ARNS, privateKey: `${key}?pin-value=1111`, certificate: `${key}?pin-value=2222` }).signer;
    const unused = made.mock.results.map((r) => r.value as Secret).filter((pin) => { try { return pin.use((b) => b.toString()) !== "1111"; } catch { return false; } });
    made.mockRestore();
    expect(pinOf(both)).toBe("1111");
    expect(unused).toEqual([]); // the certificate's, not used: wiped at once
    const certOnly = credentialSettingsFromOptions({ ...ARNS, privateKey: `${key}?pin-source=/p`, certificate: `${key}?pin-value=2222` }).signer;
    expect(pinOf(certOnly)).toBe("2222"); // the signer still uses the key's pin-source first (hostile-module.test.ts)
    expect(certOnly.privateKey).toBe(`${key}?pin-source=/p`);
  });
});
