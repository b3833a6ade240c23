import type { KeyObject } from "node:crypto";
import { InputError } from "../errors.js";
import { isFileInput } from "../io/input-file.js";
import { readSecret, type SecretSource } from "../secrets/secret-source.js";
import type { SignerOptions } from "../signers/options.js";
import type { Signer } from "../signers/signer.js";
import type { Certificate } from "../x509/certificate.js";

export type SignerFactory = (options: SignerOptions) => Promise<Signer>;

/**
 * Owns the signer of one long-running credential source, so that every refresh uses current identity
 * material without needless hardware round trips:
 * - file keys: a new signer per refresh, so a renewed key and certificate are both picked up;
 * - PKCS#11 / TPM keys: one signer kept open (token session, loaded TPM key), re-opened after a device
 *   error; a certificate (and intermediates) given as files are re-read on every refresh.
 * Terminal prompts happen once, in `open()`: the answer is kept so that re-opening never prompts again.
 */
export class SignerHolder {
  readonly #factory: SignerFactory;
  #options: SignerOptions;
  #prepared = false;
  #signer: Signer | undefined;
  /** A wrong PIN or TPM password: never tried again (the token would count it and lock). */
  #authFailure: unknown;

  constructor(options: SignerOptions, factory: SignerFactory) {
    this.#options = options;
    this.#factory = factory;
  }

  /** Asks for prompted secrets now (start-up, when a terminal is there) and opens the signer. */
  async open(): Promise<void> {
    await this.#signerNow();
  }

  /** The signer to use for one refresh; call `release(signer, error)` afterwards. */
  async acquire(): Promise<Signer> {
    const signer = await this.#signerNow();
    return signer.backend === "file" ? signer : this.#withFreshCertificates(signer);
  }

  /** Ends one refresh: file signers are dropped (re-read next time), hardware ones after a device error. */
  async release(error?: unknown): Promise<void> {
    const signer = this.#signer;
    if (!signer) return;
    const category = (error as { category?: string } | undefined)?.category;
    if (category === "auth") this.#authFailure = error;
    if (signer.backend === "file" || category === "device" || category === "auth") {
      this.#signer = undefined;
      await signer.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const signer = this.#signer;
    this.#signer = undefined;
    await signer?.close();
  }

  async #signerNow(): Promise<Signer> {
    if (this.#authFailure) throw this.#authFailure;
    if (this.#signer) return this.#signer;
    try {
      if (!this.#prepared) {
        this.#options = await answerPromptsOnce(this.#options);
        this.#prepared = true;
      }
      this.#signer = await this.#factory(this.#options);
      return this.#signer;
    } catch (error) {
      if ((error as { category?: string }).category === "auth") this.#authFailure = error;
      throw error;
    }
  }

  /** A view of a hardware signer whose certificate files are re-read at each call. */
  #withFreshCertificates(signer: Signer): Signer {
    const certPath = fileRef(this.#options.certificate);
    const chainPath = fileRef(this.#options.intermediates);
    if (!certPath && !chainPath) return signer;
    const readLeafFile = async () => (await import("../x509/read-certificates.js")).readCertificateFile(certPath!);
    return {
      keyType: signer.keyType,
      backend: signer.backend,
      publicKey: () => signer.publicKey(),
      sign: (message, digest) => signer.sign(message, digest),
      close: () => signer.close(),
      certificate: async () => {
        if (!certPath) return signer.certificate();
        const leaf = (await readLeafFile()).certificates[0];
        await checkMatchesKey(leaf, await signer.publicKey(), certPath);
        return leaf;
      },
      certificateChain: async () => {
        if (chainPath) return (await (await import("../x509/read-certificates.js")).readCertificateBundle(chainPath)).certificates.slice();
        const rest = (await readLeafFile()).certificates.slice(1);
        return rest.length > 0 ? rest : signer.certificateChain();
      },
    };
  }
}

/** A certificate file to re-read; `-` and `env:` inputs were read once by the factory. */
function fileRef(ref: string | undefined): string | undefined {
  return ref !== undefined && !ref.startsWith("pkcs11:") && isFileInput(ref) ? ref : undefined;
}

async function checkMatchesKey(leaf: Certificate, key: KeyObject | undefined, path: string): Promise<void> {
  const certKey = leaf.publicKey;
  if (!key || !certKey) return;
  const a = key.export({ type: "spki", format: "der" });
  const b = certKey.export({ type: "spki", format: "der" });
  if (!a.equals(b)) {
    throw new InputError("KEY_CERTIFICATE_MISMATCH", `the certificate in ${path} is not for the key in use`, {
      hint: "a renewed certificate must be issued for the same key; restart or reload after changing the key",
    });
  }
}

/** Replaces `prompt` sources by what the user typed, so that later re-opens never need a terminal. */
async function answerPromptsOnce(options: SignerOptions): Promise<SignerOptions> {
  const answer = async (source: SecretSource | undefined, what: string): Promise<SecretSource | undefined> => {
    if (source?.kind !== "prompt") return source;
    const secret = await readSecret(source, what);
    try {
      return { kind: "value", value: secret.reveal() };
    } finally {
      secret.wipe();
    }
  };
  const copy: SignerOptions = { ...options };
  const keyPassword = await answer(options.keyPassword, "key password");
  if (keyPassword) copy.keyPassword = keyPassword;
  if (options.pkcs11) {
    const pin = await answer(options.pkcs11.pin, "PKCS#11 PIN");
    const contextPin = await answer(options.pkcs11.contextPin, "context-specific PIN");
    copy.pkcs11 = { ...options.pkcs11, ...(pin ? { pin } : {}), ...(contextPin ? { contextPin } : {}) };
  }
  if (options.tpm) {
    const keyPw = await answer(options.tpm.keyPassword, "TPM key password");
    const parentPw = await answer(options.tpm.parentPassword, "TPM parent password");
    copy.tpm = { ...options.tpm, ...(keyPw ? { keyPassword: keyPw } : {}), ...(parentPw ? { parentPassword: parentPw } : {}) };
  }
  return copy;
}
