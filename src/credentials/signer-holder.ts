import type { KeyObject } from "node:crypto";
import { isPkcs11Uri } from "../pkcs11/uri.js";
import { AgentError, InputError } from "../errors.js";
import { isFileInput } from "../io/input-file.js";
import { heldAnswer, heldSecret, readSecret, type SecretSource } from "../secrets/secret-source.js";
import type { Secret } from "../secrets/secret.js";
import { optionName, type SignerOptions } from "../signers/options.js";
import type { Signer } from "../signers/signer.js";
import type { Certificate } from "../x509/certificate.js";

/** `signal`: ends a device wait (`waitForDeviceMs`) or a prompt on the terminal when the holder is closed. */
export type SignerFactory = (options: SignerOptions, signal: AbortSignal) => Promise<Signer>;

/**
 * Owns the signer of one long-running credential source. File keys get a new signer per refresh (a renewed key
 * and certificate are picked up); PKCS#11 / TPM keys keep one signer open, re-opened after a device error, with
 * certificate files re-read on every refresh. Prompted secrets are asked once: re-opening never prompts again (nor
 * for a PIN the token, or a password the TPM key, asked for with none given: askedPin).
 * `observe` is shown every certificate a refresh signs with (no extra read of the certificate).
 */
export function holdSigner(given: SignerOptions, factory: SignerFactory, observe: (certificate: Certificate) => void) {
  let options = given;
  let current: Signer | undefined;
  /** A wrong PIN or TPM password: never tried again (the token would count it and lock), nor kept. */
  let authFailure: unknown;
  /** What this holder's prompts were answered, and the values given directly: wiped on close, or once one was refused. */
  const answers: Secret[] = heldSecrets(given);
  const wipeAnswers = () => answers.forEach((answer) => answer.wipe());
  const rejected = (error: unknown) => {
    authFailure = error;
    options.askedPin?.pin?.wipe();
    wipeAnswers();
  };

  /** Aborted by closing: a device wait or a prompt ends, and nothing opens any more. */
  const closing = new AbortController();
  const stopOpening = (reason: unknown) => closing.abort(reason);

  /** The signer being opened: `open()` and a refresh at once share it (a second one would never be closed). */
  let opening: Promise<Signer> | undefined;
  const signerNow = async (): Promise<Signer> => {
    closing.signal.throwIfAborted();
    if (authFailure) throw authFailure;
    if (current) return current;
    return (opening ??= openSigner().finally(() => (opening = undefined)));
  };
  const openSigner = async (): Promise<Signer> => {
    try {
      options = await answerPromptsOnce(options, closing.signal, answers); // asks nothing the second time: no `prompt` left
      const signer = await factory(options, closing.signal);
      if (closing.signal.aborted) { // opened as the holder closed (a device call finishes first): not kept
        await signer.close().catch(() => {});
        throw closing.signal.reason;
      }
      return (current = signer);
    } catch (error) {
      if ((error as { category?: string }).category === "auth") rejected(error);
      throw error;
    }
  };

  return {
    /** Asks for prompted secrets now (start-up, when a terminal is there) and opens the signer. */
    open: async (): Promise<void> => {
      await signerNow();
    },

    /** The signer to use for one refresh; call `release(error)` afterwards. */
    acquire: async (): Promise<Signer> => {
      const signer = await signerNow();
      const certPath = signer.backend === "file" ? undefined : fileRef(options.certificate);
      const chainPath = signer.backend === "file" ? undefined : fileRef(options.intermediates);
      const read = () => import("../x509/read-certificates.js");
      const named = (option: "certificate" | "intermediates") => optionName(options.names, option);
      const readLeafFile = async () => (await read()).readCertificateFile(certPath!, named("certificate"));
      return {
        keyType: signer.keyType,
        backend: signer.backend,
        publicKey: () => signer.publicKey(),
        sign: (message, digest) => signer.sign(message, digest),
        close: () => signer.close(),
        certificate: async () => {
          const leaf = certPath ? (await readLeafFile()).certificates[0] : await signer.certificate();
          if (certPath) checkMatchesKey(leaf!, await signer.publicKey(), certPath);
          if (leaf) observe(leaf);
          return leaf;
        },
        certificateChain: async () => {
          if (chainPath) {
            const { readCertificateBundle } = await read();
            return (await readCertificateBundle(chainPath, named("intermediates"))).certificates.slice();
          }
          const rest = certPath ? (await readLeafFile()).certificates.slice(1) : [];
          return rest.length > 0 ? rest : signer.certificateChain();
        },
      };
    },

    /** Ends one refresh: file signers are dropped (re-read next time), hardware ones after a device error. */
    release: async (error?: unknown): Promise<void> => {
      const signer = current;
      if (!signer) return;
      const category = (error as { category?: string } | undefined)?.category;
      if (category === "auth") rejected(error);
      if (signer.backend === "file" || category === "device" || category === "auth") {
        current = undefined;
        await signer.close().catch(() => {});
      }
    },

    /** Ends a device wait in progress with `reason` (before waiting for a refresh in flight); `close()` does too. */
    stopOpening,

    close: async (): Promise<void> => {
      stopOpening(new AgentError("AGENT_UNAVAILABLE", "the credential source was closed"));
      await opening?.catch(() => {}); // the signer being opened is closed too
      const signer = current;
      current = undefined;
      try {
        await signer?.close();
      } finally {
        wipeAnswers();
        if (!given.askedPin) options.askedPin?.pin?.wipe(); // else the caller's (update --once)
      }
    },
  };
}

/** The secrets of `options` held as bytes (a value given directly, a prompt's answer), for their holder to wipe. */
export function heldSecrets({ keyPassword, pkcs11, tpm }: SignerOptions): Secret[] {
  return [keyPassword, pkcs11?.pin, pkcs11?.contextPin, pkcs11?.uriPin, tpm?.keyPassword, tpm?.parentPassword].flatMap((s) => heldSecret(s) ?? []);
}

/** `o` with a copy of each held secret, for one more holder (`update --once`'s next try) to own and wipe. */
export function withOwnSecrets(o: SignerOptions): SignerOptions {
  const own = (s: SecretSource | undefined) => (heldSecret(s) ? heldAnswer(heldSecret(s)!.clone(), s!.kind as "held" | "value") : s);
  const { pkcs11, tpm } = o;
  return { ...o, keyPassword: own(o.keyPassword),
    pkcs11: pkcs11 && { ...pkcs11, pin: own(pkcs11.pin), contextPin: own(pkcs11.contextPin), uriPin: own(pkcs11.uriPin) },
    tpm: tpm && { ...tpm, keyPassword: own(tpm.keyPassword), parentPassword: own(tpm.parentPassword) } };
}

/** A certificate file to re-read; `-` and `env:` inputs were read once by the factory. */
function fileRef(ref: string | undefined): string | undefined {
  return ref !== undefined && !isPkcs11Uri(ref) && isFileInput(ref) ? ref : undefined;
}

function checkMatchesKey(leaf: Certificate, key: KeyObject | undefined, path: string): void {
  if (!key || !leaf.publicKey || key.equals(leaf.publicKey)) return;
  throw new InputError("KEY_CERTIFICATE_MISMATCH", `the certificate in ${path} is not for the key in use`, {
    hint: "a renewed certificate must be issued for the same key; restart or reload after changing the key",
  });
}

/**
 * Replaces `prompt` sources by what the user typed, so that later re-opens never need a terminal (nor ask again:
 * `update --once` waiting for the clock opens a new source per try). A rejected one ends the run (authFailure).
 * `signal` (closing) ends a prompt's wait. The answers, kept as bytes, are added to `answers`: the caller wipes them.
 */
export async function answerPromptsOnce(
  options: SignerOptions, signal?: AbortSignal, answers: Secret[] = [],
): Promise<SignerOptions> {
  const answer = async (source: SecretSource | undefined, what: string): Promise<SecretSource | undefined> => {
    if (source?.kind !== "prompt") return source;
    const secret = await readSecret(source, what, process.env, signal);
    answers.push(secret);
    return heldAnswer(secret);
  };
  const { pkcs11, tpm } = options;
  const keyPassword = await answer(options.keyPassword, "key password");
  const pin = await answer(pkcs11?.pin, "PKCS#11 PIN");
  const contextPin = await answer(pkcs11?.contextPin, "context-specific PIN");
  const tpmKeyPassword = await answer(tpm?.keyPassword, "TPM key password");
  const parentPassword = await answer(tpm?.parentPassword, "TPM parent password");
  const tpmAnswered = tpm && { ...tpm, keyPassword: tpmKeyPassword, parentPassword };
  const askedPin = options.askedPin ?? {}; // filled by the first open that prompts for the user PIN or TPM key password
  return { ...options, keyPassword, askedPin, pkcs11: { ...pkcs11, pin, contextPin }, tpm: tpmAnswered };
}
