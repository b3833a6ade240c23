import { createHash, type KeyObject } from "node:crypto";
import { DeviceError, InputError, UsageError } from "../../errors.js";
import { readSecret } from "../../secrets/secret-source.js";
import { Secret } from "../../secrets/secret.js";
import type { Certificate } from "../../x509/certificate.js";
import type { TpmSignerOptions } from "../options.js";
import type { DigestAlgorithm, Signer } from "../signer.js";
import { Tpm, type Authorization } from "../../tpm/client/tpm.js";
import { TpmResponseError } from "../../tpm/client/tpm-error.js";
import { loadTpmKey, type KeySource, type LoadedKey } from "../../tpm/keys/load-key.js";
import { flushOrphans, loadedHandles } from "../../tpm/client/orphans.js";
import type { PolicyStatement } from "../../tpm/keys/policy.js";
import { computePolicyDigest } from "../../tpm/keys/policy.js";
import { describeKey, hasAttribute, objectName, publicKeyOf, type PublicArea } from "../../tpm/keys/public-area.js";
import { parseTss2KeyFile, type Tss2KeyFile } from "../../tpm/keys/tss2-key-file.js";
import { reloadReason } from "./reload-rule.js";
import { withExplanation } from "../../tpm/client/run-explained.js";
import { PasswordSession } from "../../tpm/sessions/password-session.js";
import { runPolicy } from "../../tpm/sessions/policy-runner.js";
import { ecdsaSignatureToDer } from "./signing/ecdsa-der.js";
import { emsaPkcs1v15 } from "./signing/pkcs1.js";
import { openTpmTransport } from "../../tpm/transport/open-transport.js";
import { TpmConnectionLost, type TpmTransport } from "../../tpm/transport/transport.js";
import { ReadClock, RSA_Decrypt, Sign } from "../../tpm/wire/commands.js";
import { curveInfo, hashInfo, hex32, TPMA_OBJECT, TPM_ALG, TPM_RH, TPM_ST } from "../../tpm/wire/constants.js";
import { RC } from "../../tpm/wire/response-code.js";
import type { TpmtPublicEcc, TpmtPublicRsa } from "../../tpm/wire/structures.js";

/** Go helper's prompt text, kept for drop-in familiarity. */
export const TPM_KEY_PASSWORD_PROMPT = "Please enter your TPM key password:";

/** Injection points for tests and benchmarks. */
export interface TpmSignerSeams {
  /** Talk through this transport instead of opening `--tpm-device` (tests record the bytes through it). */
  readonly transport?: TpmTransport;
  /** Salted sessions with parameter encryption when a password is used (default true). */
  readonly parameterEncryption?: boolean;
}

const NODE_HASH: Readonly<Record<DigestAlgorithm, string>> = { SHA256: "sha256", SHA384: "sha384", SHA512: "sha512" };
const NULL_TICKET = { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) };

function usesPassword(statements: readonly PolicyStatement[]): boolean {
  return statements.some((s) => s.command === "PolicyAuthValue" || s.command === "PolicyPassword");
}

async function resolveKeyPassword(opts: TpmSignerOptions, file: Tss2KeyFile | undefined, what: string): Promise<Secret> {
  if (file) {
    if (file.policy.length > 0 && !usesPassword(file.policy)) {
      if (opts.keyPassword) throw new UsageError("USAGE", `${what}: a TPM key password was given but the key's policy does not use one`);
      return Secret.fromUtf8("");
    }
    // An explicit password wins over emptyAuth TRUE: tpm2_encodeobject before tpm2-tools 5.7 (Debian 12 ships
    // 5.4) writes the flag inverted, so files of password-protected keys claim to need none.
    if (file.emptyAuth && !opts.keyPassword) return Secret.fromUtf8("");
  }
  if (opts.keyPassword) return readSecret(opts.keyPassword, "TPM key password");
  if (opts.noKeyPassword) return Secret.fromUtf8("");
  return readSecret({ kind: "prompt", prompt: TPM_KEY_PASSWORD_PROMPT }, "TPM key password");
}

/** Hash whose size matches an ECC curve (capped at SHA-512), as the Go helper declares it to the TPM. */
function eccHashFor(curveSize: number): number {
  return curveSize <= 32 ? TPM_ALG.SHA256 : curveSize <= 48 ? TPM_ALG.SHA384 : TPM_ALG.SHA512;
}

/** Left-most bytes when longer (what ECDSA uses anyway), zero-padded on the left when shorter (same integer). */
function fitDigest(digest: Buffer, size: number): Buffer {
  if (digest.length >= size) return digest.subarray(0, size);
  return Buffer.concat([Buffer.alloc(size - digest.length), digest]);
}

/** Which TPM power cycle objects were created in: (resetCount, restartCount) of TPM2_ReadClock. */
type BootId = string;

/** The key as currently loaded, with what is needed to know whether its handles are still ours. */
interface LoadedState {
  readonly tpm: Tpm;
  readonly key: LoadedKey;
  /** The transport's epoch at load time: a different one means the connection was lost since. */
  readonly epoch: number;
  readonly bootId: BootId | undefined;
}

/**
 * A key held by a TPM 2.0: loaded once, authorized through a salted HMAC session (or a policy session
 * replaying the key file's policy), flushed by close() and, failing that, when the process exits.
 * When the TPM loses the key (connection lost, simulator restarted, objects flushed) the key is loaded
 * again once and the signature retried, following `reloadReason`: never after an authorization failure.
 */
export class TpmSigner implements Signer {
  readonly backend = "tpm" as const;
  readonly keyType: "RSA" | "EC";
  readonly #transport: TpmTransport;
  readonly #source: KeySource;
  readonly #keyPassword: Secret;
  readonly #parentPassword: Secret;
  readonly #parameterEncryption: boolean;
  readonly #policy: readonly PolicyStatement[];
  readonly #emptyAuthFlag: boolean;
  readonly #certificate: Certificate | undefined;
  readonly #chain: Certificate[];
  readonly #publicKey: KeyObject;
  readonly #publicArea: PublicArea;
  readonly #what: string;
  readonly #debug: ((line: string) => void) | undefined;
  readonly #passwordSession = new PasswordSession();
  #loaded: LoadedState | undefined;
  /** A signature succeeded: the key's authorization is right, so resending after a lost connection is safe. */
  #authorizationProven = false;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #onExit = () => this.#flushSync();
  readonly #onBeforeExit = () => void this.close();

  private constructor(init: {
    transport: TpmTransport;
    source: KeySource;
    loaded: LoadedState;
    keyPassword: Secret;
    parentPassword: Secret;
    parameterEncryption: boolean;
    policy: readonly PolicyStatement[];
    emptyAuthFlag: boolean;
    certificate: Certificate | undefined;
    chain: Certificate[];
    publicKey: KeyObject;
    what: string;
    debug: ((line: string) => void) | undefined;
  }) {
    this.#transport = init.transport;
    this.#source = init.source;
    this.#loaded = init.loaded;
    this.#publicArea = init.loaded.key.public;
    this.#keyPassword = init.keyPassword;
    this.#parentPassword = init.parentPassword;
    this.#parameterEncryption = init.parameterEncryption;
    this.#policy = init.policy;
    this.#emptyAuthFlag = init.emptyAuthFlag;
    this.#certificate = init.certificate;
    this.#chain = init.chain;
    this.#publicKey = init.publicKey;
    this.#what = init.what;
    this.#debug = init.debug;
    this.keyType = init.loaded.key.public.public.type === TPM_ALG.RSA ? "RSA" : "EC";
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
      const policy = file?.policy ?? [];
      const source: KeySource = file ? { kind: "file", file } : { kind: "handle", handle: (opts.key as { handle: number }).handle };
      const parameterEncryption = seams.parameterEncryption ?? true;
      const loaded = await loadState(transport, { source, keyPassword, parentPassword, parameterEncryption, policy, what, debug });
      const { tpm, key } = loaded;
      const pub = key.public.public;
      let publicKey: KeyObject;
      try {
        publicKey = publicKeyOf(pub, what);
        if (!hasAttribute(pub, TPMA_OBJECT.sign) && !(pub.type === TPM_ALG.RSA && hasAttribute(pub, TPMA_OBJECT.decrypt))) {
          throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: this ${describeKey(pub)} TPM key has neither the sign nor the decrypt attribute`);
        }
        if (hasAttribute(pub, TPMA_OBJECT.restricted)) {
          throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: restricted TPM keys (attestation or storage keys) cannot sign arbitrary data`);
        }
        if (!key.policySession && !hasAttribute(pub, TPMA_OBJECT.userWithAuth)) {
          throw new InputError("TPM_KEY_INVALID", `${what}: the key can only be used with a policy session, but no policy for it is known`, {
            hint: opts.key.kind === "handle" ? "use the key's TSS2 file, which carries its policy" : "the key file has no policy statements",
          });
        }
        if (opts.certificate) checkCertificateMatches(opts.certificate, publicKey, what);
      } catch (e) {
        await releaseKey(tpm, key);
        throw e;
      }
      return new TpmSigner({
        transport,
        source,
        loaded,
        keyPassword,
        parentPassword,
        parameterEncryption,
        policy,
        emptyAuthFlag: file?.emptyAuth ?? false,
        certificate: opts.certificate,
        chain: opts.intermediates ?? [],
        publicKey,
        what,
        debug,
      });
    } catch (e) {
      keyPassword.wipe();
      parentPassword.wipe();
      await transport?.close().catch(() => undefined);
      throw e;
    }
  }

  async certificate(): Promise<Certificate | undefined> {
    return this.#certificate;
  }

  async certificateChain(): Promise<Certificate[]> {
    return this.#chain;
  }

  async publicKey(): Promise<KeyObject | undefined> {
    return this.#publicKey;
  }

  /** The TPM object handle of the loaded key (diagnostics); 0 while it is not loaded. */
  get handle(): number {
    return this.#loaded?.key.entity.handle ?? 0;
  }

  sign(message: Uint8Array, digest: DigestAlgorithm = "SHA256"): Promise<Buffer> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new DeviceError("TPM_UNAVAILABLE", `${this.#what}: the signer was already closed`);
      const hash = createHash(NODE_HASH[digest]).update(message).digest();
      return this.#signWithReload(hash, digest);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #signWithReload(hash: Buffer, digest: DigestAlgorithm): Promise<Buffer> {
    // Handles from a lost connection may name nothing, or another client's objects: never send them.
    if (this.#loaded && this.#loaded.epoch !== (this.#transport.epoch ?? 0)) await this.#drop("the connection to the TPM was lost since the key was loaded");
    const justLoaded = !this.#loaded;
    const loaded = this.#loaded ?? (await this.#reload());
    try {
      return await this.#signOnce(loaded, hash, digest);
    } catch (e) {
      const reason = justLoaded ? undefined : reloadReason(e, this.#authorizationProven);
      if (!reason) throw e;
      this.#debug?.(`TPM: ${reason}; loading the key again and retrying once`);
      await this.#drop(reason);
      return this.#signOnce(await this.#reload(), hash, digest);
    }
  }

  async #signOnce(loaded: LoadedState, hash: Buffer, digest: DigestAlgorithm): Promise<Buffer> {
    const pub = loaded.key.public.public;
    const signature =
      pub.type === TPM_ALG.ECC ? await this.#signEcdsa(loaded, pub, hash) : await this.#signRsa(loaded, pub as TpmtPublicRsa, hash, digest);
    this.#authorizationProven = true;
    return signature;
  }

  /** Loads the key again on the same transport (which reconnects) and checks it is still the same key. */
  async #reload(): Promise<LoadedState> {
    const loaded = await loadState(this.#transport, {
      source: this.#source,
      keyPassword: this.#keyPassword,
      parentPassword: this.#parentPassword,
      parameterEncryption: this.#parameterEncryption,
      policy: this.#policy,
      what: this.#what,
      debug: this.#debug,
    });
    if (!loaded.key.entity.name.equals(objectName(this.#publicArea))) {
      await releaseKey(loaded.tpm, loaded.key);
      throw new InputError("TPM_KEY_INVALID", `${this.#what}: the TPM now holds a different key there than when the signer was opened`, {
        hint: "the persistent key was replaced; restart or reload to use the new one",
      });
    }
    this.#loaded = loaded;
    this.#debug?.(`TPM: key loaded again as ${hex32(loaded.key.entity.handle)}`);
    return loaded;
  }

  /** Forgets the loaded key, flushing its objects if they still exist on the same TPM power cycle. */
  async #drop(reason: string): Promise<void> {
    const old = this.#loaded;
    this.#loaded = undefined;
    if (!old) return;
    if (await this.#stillOurs(old)) await releaseKey(old.tpm, old.key);
    else forgetSessions(old.key);
    this.#debug?.(`TPM: dropped the loaded key (${reason})`);
  }

  /** Whether `old`'s handles still name our objects: same connection, or a new one to a TPM that did not restart. */
  async #stillOurs(old: LoadedState): Promise<boolean> {
    if (old.epoch === (this.#transport.epoch ?? 0)) return true;
    if (old.bootId === undefined) return false;
    try {
      return (await readBootId(new Tpm(this.#transport))) === old.bootId;
    } catch {
      return false; // unreachable TPM: nothing to flush now
    }
  }

  async #authorization(loaded: LoadedState): Promise<Authorization> {
    const { policySession, hmacSession } = loaded.key;
    if (policySession) {
      await runPolicy(loaded.tpm, policySession, this.#policy, this.#what);
      const pub = loaded.key.public.public;
      return {
        session: policySession,
        authValue: usesPassword(this.#policy) ? this.#keyPassword : undefined,
        authValueInEncryptionKey: hasAttribute(pub, TPMA_OBJECT.userWithAuth) || !hasAttribute(pub, TPMA_OBJECT.adminWithPolicy),
      };
    }
    return { session: hmacSession ?? this.#passwordSession, authValue: this.#keyPassword };
  }

  #signStep<T>(loaded: LoadedState, fn: (auth: Authorization) => Promise<T>): Promise<T> {
    return withExplanation(loaded.tpm, { kind: "sign", keyHasEmptyAuthFlag: this.#emptyAuthFlag }, this.#what, async () => fn(await this.#authorization(loaded)));
  }

  async #signEcdsa(loaded: LoadedState, pub: TpmtPublicEcc, hash: Buffer): Promise<Buffer> {
    const curve = curveInfo(pub.parameters.curveID);
    if (!curve) throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${this.#what}: unsupported ECC curve 0x${pub.parameters.curveID.toString(16)}`);
    const keyScheme = pub.parameters.scheme;
    if (keyScheme.scheme !== TPM_ALG.NULL && keyScheme.scheme !== TPM_ALG.ECDSA) {
      throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${this.#what}: the key is fixed to a signature scheme other than ECDSA (0x${keyScheme.scheme.toString(16)})`);
    }
    const hashAlg = keyScheme.scheme === TPM_ALG.ECDSA ? keyScheme.hashAlg : eccHashFor(curve.size);
    const size = hashInfo(hashAlg).size;
    if (hash.length > size && size < curve.size) {
      throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${this.#what}: the key only signs ECDSA with ${hashInfo(hashAlg).name.toUpperCase()}; use that digest`);
    }
    const { response } = await this.#signStep(loaded, (auth) =>
      loaded.tpm.execute(Sign, { keyHandle: loaded.key.entity }, { digest: fitDigest(hash, size), inScheme: { scheme: TPM_ALG.ECDSA, hashAlg }, validation: NULL_TICKET }, [auth]),
    );
    const sig = response.signature;
    if (sig.sigAlg !== TPM_ALG.ECDSA) throw new InputError("TPM_KEY_INVALID", `${this.#what}: the TPM returned a non-ECDSA signature`);
    return ecdsaSignatureToDer(sig.signatureR, sig.signatureS);
  }

  async #signRsa(loaded: LoadedState, pub: TpmtPublicRsa, hash: Buffer, digest: DigestAlgorithm): Promise<Buffer> {
    const hashAlg = { SHA256: TPM_ALG.SHA256, SHA384: TPM_ALG.SHA384, SHA512: TPM_ALG.SHA512 }[digest];
    const scheme = pub.parameters.scheme;
    const modulusBytes = pub.parameters.keyBits / 8;
    const canSign =
      hasAttribute(pub, TPMA_OBJECT.sign) && (scheme.scheme === TPM_ALG.NULL || (scheme.scheme === TPM_ALG.RSASSA && scheme.hashAlg === hashAlg));
    // Raw RSA decryption of a PKCS#1 v1.5 block is the same signature: for decrypt-only keys, or hashes the TPM lacks.
    const canDecrypt = hasAttribute(pub, TPMA_OBJECT.decrypt) && scheme.scheme === TPM_ALG.NULL;
    if (canSign) {
      try {
        const { response } = await this.#signStep(loaded, (auth) =>
          loaded.tpm.execute(Sign, { keyHandle: loaded.key.entity }, { digest: hash, inScheme: { scheme: TPM_ALG.RSASSA, hashAlg }, validation: NULL_TICKET }, [auth]),
        );
        const sig = response.signature;
        if (sig.sigAlg !== TPM_ALG.RSASSA) throw new InputError("TPM_KEY_INVALID", `${this.#what}: the TPM returned a non-RSASSA signature`);
        return fitDigest(sig.sig, modulusBytes);
      } catch (e) {
        // A TPM without this hash for RSASSA (SHA-512 is often missing) can still do the raw decryption;
        // only a parameter error says so (a handle error means the key is gone).
        const hashUnsupported =
          e instanceof TpmResponseError && e.decoded.handle === undefined && (e.is(RC.HASH) || e.is(RC.SCHEME) || e.is(RC.VALUE));
        if (!(canDecrypt && hashUnsupported)) throw e;
      }
    }
    if (!canDecrypt) {
      throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${this.#what}: this RSA key cannot make an RSASSA-${digest} signature (its scheme is fixed to 0x${scheme.scheme.toString(16)})`);
    }
    const block = emsaPkcs1v15(hash, digest, modulusBytes);
    const { response } = await this.#signStep(loaded, (auth) =>
      loaded.tpm.execute(RSA_Decrypt, { keyHandle: loaded.key.entity }, { cipherText: block, inScheme: { scheme: TPM_ALG.NULL }, label: Buffer.alloc(0) }, [auth]),
    );
    return fitDigest(response.message, modulusBytes);
  }

  #flushSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    const loaded = this.#loaded;
    // After a lost connection the handles may not be ours; the TPM either restarted or keeps them until flushed by close().
    if (loaded && loaded.epoch === (this.#transport.epoch ?? 0)) for (const h of handlesToFlush(loaded.key)) loaded.tpm.flushSync(h);
    this.#keyPassword.wipe();
    this.#parentPassword.wipe();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    process.off("exit", this.#onExit);
    process.off("beforeExit", this.#onBeforeExit);
    await this.#queue;
    try {
      await this.#drop("the signer was closed");
    } finally {
      this.#keyPassword.wipe();
      this.#parentPassword.wipe();
      await this.#transport.close().catch(() => undefined);
    }
  }
}

interface LoadInput {
  readonly source: KeySource;
  readonly keyPassword: Secret;
  readonly parentPassword: Secret;
  readonly parameterEncryption: boolean;
  readonly policy: readonly PolicyStatement[];
  readonly what: string;
  readonly debug: ((line: string) => void) | undefined;
}

/**
 * Loads the key (with its sessions) on a fresh client over `transport` and notes the TPM's power cycle.
 * Over a connection that can break (a simulator socket), what is loaded beforehand is noted too, so that
 * an object whose creation answer was lost can be found and flushed.
 */
async function loadState(transport: TpmTransport, input: LoadInput): Promise<LoadedState> {
  const debug = input.debug;
  const tpm = new Tpm(transport, debug ? { trace: (l) => debug(`TPM: ${l}`) } : {});
  const bootId = await readBootId(tpm);
  const before = transport.epoch !== undefined && bootId !== undefined ? await loadedHandles(tpm) : undefined;
  let key: LoadedKey;
  try {
    key = await loadTpmKey({
      tpm,
      source: input.source,
      keyPassword: input.keyPassword,
      parentPassword: input.parentPassword,
      parameterEncryption: input.parameterEncryption,
      usesPolicy: input.policy.length > 0,
      policyUsesPassword: usesPassword(input.policy),
      what: input.what,
      debug,
    });
  } catch (e) {
    if (e instanceof TpmConnectionLost && before) await flushLeftovers(transport, bootId!, before, debug);
    throw e;
  }
  return { tpm, key, epoch: transport.epoch ?? 0, bootId };
}

/** After a connection broke while loading: flushes what appeared since `before`, if the TPM did not restart. */
async function flushLeftovers(transport: TpmTransport, bootId: BootId, before: ReadonlySet<number>, debug: ((line: string) => void) | undefined): Promise<void> {
  try {
    const tpm = new Tpm(transport);
    if ((await readBootId(tpm)) !== bootId) return;
    const flushed = await flushOrphans(tpm, before);
    if (flushed > 0) debug?.(`TPM: flushed ${flushed} object(s) or session(s) whose creation answer was lost with the connection`);
  } catch {
    /* the TPM is unreachable: nothing can be flushed now */
  }
}

/** The TPM's power cycle, or undefined when ReadClock is refused (its objects are then never flushed after a lost connection). */
async function readBootId(tpm: Tpm): Promise<BootId | undefined> {
  try {
    const { response } = await tpm.execute(ReadClock, {}, {});
    return `${response.resetCount}/${response.restartCount}`;
  } catch (e) {
    if (e instanceof TpmResponseError) return undefined;
    throw e;
  }
}

/** Local cleanup only: the sessions' keys are wiped; the TPM side is gone or not ours to flush. */
function forgetSessions(key: LoadedKey): void {
  key.policySession?.dispose();
  key.hmacSession?.dispose();
}

function handlesToFlush(key: LoadedKey): number[] {
  const handles: number[] = [];
  if (key.policySession && !key.policySession.closed) handles.push(key.policySession.handle);
  if (key.hmacSession && !key.hmacSession.closed) handles.push(key.hmacSession.handle);
  if (key.transient) handles.push(key.entity.handle);
  return handles;
}

async function releaseKey(tpm: Tpm, key: LoadedKey): Promise<void> {
  for (const h of handlesToFlush(key)) await tpm.flush(h).catch(() => undefined);
  key.policySession?.dispose();
  key.hmacSession?.dispose();
}

/** The file's policy must produce the key's authPolicy; checked up front for a clear message. */
function checkFilePolicy(file: Tss2KeyFile, what: string): void {
  if (file.policy.length === 0) return;
  const pub = file.public.public;
  const digest = computePolicyDigest(file.policy, hashInfo(pub.nameAlg).name);
  if (!digest.equals(pub.authPolicy)) {
    throw new InputError("TPM_KEY_INVALID", `${what}: the policy statements in the file do not produce the key's authPolicy`, {
      hint: "the file's policy section is damaged or belongs to another key",
    });
  }
}

function checkCertificateMatches(certificate: Certificate, tpmKey: KeyObject, what: string): void {
  const certKey = certificate.publicKey;
  const spki = (k: KeyObject) => k.export({ type: "spki", format: "der" });
  if (!certKey || !spki(certKey).equals(spki(tpmKey))) {
    throw new InputError("KEY_CERTIFICATE_MISMATCH", `the certificate (${certificate.subject}) does not belong to ${what}`, {
      hint: "check that --certificate and --private-key name the same key pair",
    });
  }
}
