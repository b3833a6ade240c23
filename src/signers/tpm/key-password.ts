import { InputError, UsageError } from "../../errors.js";
import { describeSecretSource, promptFor, readSecret } from "../../secrets/secret-source.js";
import { Secret } from "../../secrets/secret.js";
import { policyUsesPassword } from "../../tpm/keys/policy.js";
import type { Tss2KeyFile } from "../../tpm/keys/tss2-key-file.js";
import { optionName, type TpmSignerOptions } from "../options.js";

/**
 * Whether a TSS2 key file's key needs no password (emptyAuth, or a policy that asks none): it is anyone's who can read
 * the file and open the TPM, so warned about when others can read it (factory.ts, doctor). One with a password is
 * useless without its TPM, which locks out guessing (any other key file is warned about, encrypted or not).
 */
export function passwordLess(file: Tss2KeyFile, ignoreEmptyAuth = false): boolean {
  return (file.emptyAuth && !ignoreEmptyAuth) || (file.policy.length > 0 && !policyUsesPassword(file.policy));
}

/** The key's password: none when its policy or file says so, else the one given, else a prompt (after `beforePrompt`). */
export async function resolveKeyPassword(
  opts: Omit<TpmSignerOptions, "key"> & { readonly key?: unknown }, file: Tss2KeyFile | undefined, what: string, beforePrompt?: () => Promise<unknown>,
): Promise<Secret> {
  if (file && file.policy.length > 0 && !policyUsesPassword(file.policy)) {
    if (opts.keyPassword) throw new UsageError("USAGE", `${what}: a TPM key password was given but the key's policy does not use one`);
    return Secret.fromUtf8("");
  }
  if (file?.emptyAuth && !opts.keyPassword) return Secret.fromUtf8("");
  // A password the key does not have would cost a dictionary-attack strike at the first signature. The Go
  // helper refuses it too. tpm2_encodeobject before tpm2-tools 5.7 (Debian 12 ships 5.4) writes the flag
  // inverted, so files of password-protected keys claim to need none: --tpm-ignore-empty-auth says so.
  if (file?.emptyAuth && !opts.ignoreEmptyAuth) {
    const name = (option: "tpm.keyPassword" | "tpm.ignoreEmptyAuth") => optionName(opts.names, option);
    const hint = `drop ${name("tpm.keyPassword")}; if the key does have a password (files written by ` +
      `tpm2_encodeobject before tpm2-tools 5.7 carry this flag inverted), add ${name("tpm.ignoreEmptyAuth")}`;
    throw new UsageError("USAGE", `${what}: a TPM key password was given but the key file says the key has none ` +
      "(emptyAuth TRUE); it was not tried, so the TPM counted nothing", { hint });
  }
  if (opts.keyPassword) {
    if (opts.keyPassword.kind === "prompt") await beforePrompt?.();
    const password = await readSecret(opts.keyPassword, "TPM key password", process.env, opts.signal);
    if (!password.isEmpty) return password;
    // An empty file or variable (one newline only) is never the password meant: presented, it costs a DA strike.
    const from = describeSecretSource(opts.keyPassword);
    const message = `the TPM key password from ${from} is empty; it was not presented to the TPM`;
    throw new InputError("PASSWORD_REQUIRED", message, {
      hint: "give the password there: an empty one would only count as a failed try (dictionary-attack lockout)",
    });
  }
  if (opts.noKeyPassword) return Secret.fromUtf8("");
  // The Go helper's prompt, kept for drop-in familiarity; typed once for a holder's re-opens (askedPin), which it
  // wipes when the TPM rejects it: a rejected password is never presented again, nor asked for again.
  const asked = opts.askedPin;
  if (asked?.pin) return asked.pin.read();
  const prompt = promptFor("Please enter your TPM key password:", "TPM key password", opts.prompt, "tpm.keyPassword");
  await beforePrompt?.();
  const typed = await readSecret(prompt, "TPM key password", process.env, opts.signal);
  const kept = asked && typed.clone();
  if (kept) asked.pin = { description: "the TPM key password typed", read: async () => kept.clone(), wipe: () => kept.wipe() };
  return typed;
}
