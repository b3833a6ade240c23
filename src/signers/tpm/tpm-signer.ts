import { createHash, type KeyObject } from "node:crypto";
import { DeviceError } from "../../errors.js";
import { readSecret } from "../../secrets/secret-source.js";
import { Secret } from "../../secrets/secret.js";
import { withExplanation } from "../../tpm/client/explain-error.js";
import type { Authorization, Entity } from "../../tpm/client/tpm.js";
import type { KeySource } from "../../tpm/keys/load-key.js";
import { policyUsesPassword, type PolicyStatement } from "../../tpm/keys/policy.js";
import { hasAttribute } from "../../tpm/keys/public-area.js";
import { parseTss2KeyFile } from "../../tpm/keys/tss2-key-file.js";
import { PASSWORD_SESSION } from "../../tpm/sessions/password-session.js";
import { runPolicy } from "../../tpm/sessions/policy-runner.js";
import { openTpmTransport } from "../../tpm/transport/open-transport.js";
import type { TpmTransport } from "../../tpm/transport/transport.js";
import type { HandleNamesOf } from "../../tpm/wire/commands.js";
import { hex32, TPMA_OBJECT, TPM_ALG } from "../../tpm/wire/constants.js";
import type { Certificate } from "../../x509/certificate.js";
import type { TpmSignerOptions } from "../options.js";
import type { DigestAlgorithm, Signer } from "../signer.js";
import { checkCertificateMatches, checkFilePolicy, checkSigningKey } from "./key-checks.js";
import { KeyLifecycle, type LoadedState } from "./key-lifecycle.js";
import { resolveKeyPassword } from "./key-password.js";
import { signHash, type TpmSigningKey } from "./signing/choose-scheme.js";
import { NODE_HASH_NAME } from "../../encoding/signature-encoding.js";

/** Injection points for tests and benchmarks. */
export interface TpmSignerSeams {
  /** Talk through this transport instead of opening `--tpm-device` (tests record the bytes through it). */
  readonly transport?: TpmTransport;
  /** Salted sessions with parameter encryption when a password is used (default true). */
  readonly parameterEncryption?: boolean;
}

interface TpmSignerInit {
  readonly keys: KeyLifecycle;
  readonly keyType: "RSA" | "EC";
  readonly keyPassword: Secret;
  readonly policy: readonly PolicyStatement[];
  readonly emptyAuthFlag: boolean;
  readonly certificate: Certificate | undefined;
  readonly chain: Certificate[];
  readonly publicKey: KeyObject;
  readonly what: string;
}

/**
 * The TPM 2.0 back-end: a key in a TSS2 PRIVATE KEY file (loaded under its parent) or at a persistent handle,
 * used through our own TPM 2.0 client over /dev/tpmrm0, /dev/tpm0 or a simulator socket.
 */
export function createTpmSigner(opts: TpmSignerOptions): Promise<Signer> {
  return TpmSigner.open(opts);
}

/**
 * A key held by a TPM 2.0: loaded once (see KeyLifecycle), authorized through a salted HMAC session (or a
 * policy session replaying the key file's policy), flushed by close() and, failing that, when the process exits.
 */
export class TpmSigner implements Signer {
  readonly backend = "tpm" as const;
  readonly keyType: "RSA" | "EC";
  readonly #init: TpmSignerInit;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #onExit = () => this.#flushSync();
  readonly #onBeforeExit = () => void this.close();

  private constructor(init: TpmSignerInit) {
    this.#init = init;
    this.keyType = init.keyType;
    process.on("exit", this.#onExit);
    process.on("beforeExit", this.#onBeforeExit);
  }

  static async open(opts: TpmSignerOptions, seams: TpmSignerSeams = {}): Promise<TpmSigner> {
    const what = opts.key.kind === "handle" ? `TPM key ${hex32(opts.key.handle)}` : `TPM key file ${opts.key.path}`;
    const debug = opts.debug;
    const file = opts.key.kind === "tss2-pem" ? await parseTss2KeyFile(opts.key.pem, what) : undefined;
    if (file) checkFilePolicy(file, what);
    const keyPassword = await resolveKeyPassword(opts, file, what);
    const parentPassword = opts.parentPassword ? await readSecret(opts.parentPassword, "TPM parent password") : Secret.fromUtf8("");
    let transport: TpmTransport | undefined;
    try {
      transport = seams.transport ?? (await openTpmTransport(opts.device, opts.env ?? process.env));
      debug?.(`TPM: using ${transport.description}`);
      const source: KeySource = file ? { kind: "file", file } : { kind: "handle", handle: (opts.key as { handle: number }).handle };
      const parameterEncryption = seams.parameterEncryption ?? true;
      const keys = await KeyLifecycle.load(transport, { source, keyPassword, parentPassword, parameterEncryption, what, debug });
      const key = keys.loaded!.key;
      let publicKey: KeyObject;
      try {
        publicKey = checkSigningKey(key, source.kind === "handle", what);
        if (opts.certificate) checkCertificateMatches(opts.certificate, publicKey, what);
      } catch (e) {
        await keys.release();
        throw e;
      }
      return new TpmSigner({
        keys,
        keyType: key.public.public.type === TPM_ALG.RSA ? "RSA" : "EC",
        keyPassword,
        policy: file?.policy ?? [],
        emptyAuthFlag: file?.emptyAuth ?? false,
        certificate: opts.certificate,
        chain: opts.intermediates ?? [],
        publicKey,
        what,
      });
    } catch (e) {
      keyPassword.wipe();
      parentPassword.wipe();
      await transport?.close().catch(() => undefined);
      throw e;
    }
  }

  async certificate(): Promise<Certificate | undefined> {
    return this.#init.certificate;
  }

  async certificateChain(): Promise<Certificate[]> {
    return this.#init.chain;
  }

  async publicKey(): Promise<KeyObject | undefined> {
    return this.#init.publicKey;
  }

  /** The TPM object handle of the loaded key (diagnostics); 0 while it is not loaded. */
  get handle(): number {
    return this.#init.keys.loaded?.key.entity.handle ?? 0;
  }

  sign(message: Uint8Array, digest: DigestAlgorithm = "SHA256"): Promise<Buffer> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new DeviceError("TPM_UNAVAILABLE", `${this.#init.what}: the signer was already closed`);
      const hash = createHash(NODE_HASH_NAME[digest]).update(message).digest();
      return this.#init.keys.use((loaded) => signHash(this.#signingKey(loaded), loaded.key.public.public, hash, digest));
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #signingKey(loaded: LoadedState): TpmSigningKey {
    const { what, emptyAuthFlag } = this.#init;
    return {
      what,
      run: (command, params) =>
        withExplanation(loaded.tpm, { kind: "sign", keyHasEmptyAuthFlag: emptyAuthFlag }, what, async () => {
          const auth = await this.#authorization(loaded);
          const handles = { keyHandle: loaded.key.entity } as Record<HandleNamesOf<typeof command>, Entity>;
          return (await loaded.tpm.execute(command, handles, params, [auth])).response;
        }),
    };
  }

  async #authorization(loaded: LoadedState): Promise<Authorization> {
    const { policy, keyPassword, what } = this.#init;
    const { session } = loaded.key;
    if (session?.kind === "policy") {
      await runPolicy(loaded.tpm, session, policy, what);
      const pub = loaded.key.public.public;
      return {
        session,
        authValue: policyUsesPassword(policy) ? keyPassword : undefined,
        authValueInEncryptionKey: hasAttribute(pub, TPMA_OBJECT.userWithAuth) || !hasAttribute(pub, TPMA_OBJECT.adminWithPolicy),
      };
    }
    return { session: session ?? PASSWORD_SESSION, authValue: keyPassword };
  }

  #flushSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#init.keys.flushSync();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    process.off("exit", this.#onExit);
    process.off("beforeExit", this.#onBeforeExit);
    await this.#queue;
    await this.#init.keys.close();
  }
}
