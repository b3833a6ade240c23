import { createHash, type KeyObject } from "node:crypto";
import { AuthError, DeviceError } from "../../errors.js";
import { ENVIRONMENT, isPlainObject } from "../../own-value.js";
import { CERTIFICATE, CERTIFICATES } from "../../x509/certificate.js";
import { readSecret, SECRET_SOURCE, terminalCanAsk } from "../../secrets/secret-source.js";
import { Secret } from "../../secrets/secret.js";
import { rememberRejected, secretDigest, wasRejected } from "../../secrets/rejected-secrets.js";
import { withExplanation } from "../../tpm/client/explain-error.js";
import type { Authorization, Entity } from "../../tpm/client/tpm.js";
import { policyUsesPassword } from "../../tpm/keys/policy.js";
import { hasAttribute } from "../../tpm/keys/public-area.js";
import { parseTss2KeyFile, type Tss2KeyFile } from "../../tpm/keys/tss2-key-file.js";
import { PASSWORD_SESSION } from "../../tpm/sessions/password-session.js";
import { runPolicy } from "../../tpm/sessions/policy-runner.js";
import { dropFailures } from "../../debug-log.js";
import { openTpmTransport } from "../../tpm/transport/open-transport.js";
import { TpmConnectionLost, type TpmTransport } from "../../tpm/transport/transport.js";
import type { HandleNamesOf } from "../../tpm/wire/commands.js";
import { hex32, TPMA_OBJECT, TPM_ALG } from "../../tpm/wire/constants.js";
import { OPTION_NAMES, optionName, refuseWrongOptions, type TpmSignerOptions } from "../options.js";
import type { Signer } from "../signer.js";
import { checkCertificateMatches, checkFilePolicy, checkSigningKey } from "./key-checks.js";
import { KeyLifecycle, type LoadedState } from "./key-lifecycle.js";
import { resolveKeyPassword } from "./key-password.js";
import { signHash, type RunOnKey } from "./signing/choose-scheme.js";
import { nodeHashName, signatureVerifies } from "../../encoding/signature-encoding.js";

/** Injection points for tests and benchmarks. */
interface TpmSignerSeams {
  /** Talk through this transport instead of opening `--tpm-device` (tests record the bytes through it). */
  readonly transport?: TpmTransport;
  /** Salted sessions with parameter encryption when a password is used (default true). */
  readonly parameterEncryption?: boolean;
}

/** A TPM signer, with the handle of its loaded key (diagnostics; 0 while it is not loaded). */
export type TpmSigner = Signer & { readonly handle: number };

/**
 * The TPM 2.0 back-end: a key in a TSS2 PRIVATE KEY file (loaded under its parent) or at a persistent handle,
 * used through our own TPM 2.0 client over /dev/tpmrm0, /dev/tpm0 or a simulator socket. The key is loaded once
 * (see KeyLifecycle), authorized through a salted HMAC session (or a policy session replaying the key file's
 * policy), flushed by close() and, failing that, when the process exits.
 */
export async function createTpmSigner(opts: TpmSignerOptions): Promise<Signer> {
  const isPersistent = (h: unknown) => Number.isInteger(h) && Math.floor((h as number) / 2 ** 24) === 0x81;
  const isKey = (k: unknown) => isPlainObject(k) && (k["kind"] === "handle" ? isPersistent(k["handle"])
    : k["kind"] === "tss2-pem" && typeof k["path"] === "string" && typeof k["pem"] === "string");
  refuseWrongOptions("createTpmSigner", opts, { // plain JavaScript; the passwords' sources before the TPM is reached
    key: [isKey, '{ kind: "tss2-pem", path, pem } or { kind: "handle", handle: 0x81… }'], device: "string",
    keyPassword: SECRET_SOURCE, parentPassword: SECRET_SOURCE,
    noKeyPassword: "boolean", ignoreEmptyAuth: "boolean", certificate: CERTIFICATE, intermediates: CERTIFICATES,
    debug: "function", env: ENVIRONMENT, prompt: "boolean", names: OPTION_NAMES,
  }, ["key"]);
  return openTpmSigner({ ...opts, debug: dropFailures(opts.debug) });
}

/** A TSS2 key file parsed once, by whoever read it: the factory judges its password by it, then opens the signer with it. */
export type ParsedTss2Key = { readonly kind: "file"; readonly file: Tss2KeyFile; readonly what: string };

export async function parseTss2Key(path: string, data: string | Buffer): Promise<ParsedTss2Key> {
  const what = `TPM key file ${path}`;
  return { kind: "file", file: await parseTss2KeyFile(data, what), what };
}

/** {@link createTpmSigner} with the test seams, a key file parsed already, and the loaded key's handle; not part of the library's API. */
export async function openTpmSigner(
  opts: Omit<TpmSignerOptions, "key"> & { key: TpmSignerOptions["key"] | ParsedTss2Key }, seams: TpmSignerSeams = {},
): Promise<TpmSigner> {
  const key = opts.key.kind === "tss2-pem" ? await parseTss2Key(opts.key.path, opts.key.pem) : opts.key;
  const [what, file] = key.kind === "handle" ? [`TPM key ${hex32(key.handle)}`, undefined] : [key.what, key.file];
  if (file) checkFilePolicy(file, what);
  let [keyPassword, parentPassword] = [Secret.fromUtf8(""), Secret.fromUtf8("")];
  let transport: TpmTransport | undefined;
  let keys: KeyLifecycle;
  const connect = async () => {
    transport ??= seams.transport ?? (await openTpmTransport(opts.device, opts.env, optionName(opts.names, "tpm.device")));
    await transport.ready?.();
    return transport;
  };
  // A prompt waits for the TPM: --wait-for-device tries again while it is down, asking nothing meanwhile. Without a
  // terminal the prompt's own error (it needs no device) comes first.
  const beforePrompt = async () => (terminalCanAsk() ? connect() : undefined);
  try {
    keyPassword = await resolveKeyPassword(opts, file, what, beforePrompt);
    if (opts.parentPassword?.kind === "prompt") await beforePrompt();
    if (opts.parentPassword) parentPassword = await readSecret(opts.parentPassword, "TPM parent password", process.env, opts.signal);
    transport = await connect();
    opts.debug?.(`TPM: using ${transport.description}`);
    const parameterEncryption = seams.parameterEncryption ?? true;
    const parentOption = optionName(opts.names, "tpm.parentPassword");
    const input = { source: key, keyPassword, parentPassword, parentOption, parameterEncryption, what, debug: opts.debug };
    // Loading a key file presents the parent's password: as for the key's, one the TPM rejected is not presented again,
    // for any key file under that parent (what it is presented to: that handle on this TPM).
    const parentSeen = secretDigest([transport.description, "parent", file ? hex32(file.parent) : ""], parentPassword);
    keys = await unlessRejected(parentSeen, "parent", what, parentOption, () => KeyLifecycle.load(transport!, input));
  } catch (e) {
    keyPassword.wipe();
    parentPassword.wipe();
    await transport?.close().catch(() => undefined);
    throw e;
  }
  let publicKey: KeyObject;
  try {
    publicKey = checkSigningKey(keys.loaded!.key, key.kind === "handle", what);
    if (opts.certificate) checkCertificateMatches(opts.certificate, publicKey, what, opts.names);
  } catch (e) {
    await keys.close();
    throw e;
  }

  const spki = publicKey.export({ type: "spki", format: "der" });
  const seen = secretDigest([transport!.description, "key", spki], keyPassword);
  const policy = file?.policy ?? [];
  const authorization = async (loaded: LoadedState): Promise<Authorization> => {
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
  };
  const option = optionName(opts.names, "tpm.keyPassword");
  const op = { kind: "sign", keyHasEmptyAuthFlag: file?.emptyAuth ?? false, option } as const;
  const runOnKey = (loaded: LoadedState): RunOnKey => (command, params) =>
    withExplanation(loaded.tpm, op, what, async () => {
      const handles = { keyHandle: loaded.key.entity } as Record<HandleNamesOf<typeof command>, Entity>;
      return (await loaded.tpm.execute(command, handles, params, [await authorization(loaded)])).response;
    });

  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const duties: ExitDuties = {
    exit() {
      if (closed) return;
      closed = true;
      keys.flushSync();
    },
    beforeExit: () => void signer.close(),
  };
  const signer: TpmSigner = {
    backend: "tpm",
    keyType: keys.loaded!.key.public.public.type === TPM_ALG.RSA ? "RSA" : "EC",
    certificate: async () => opts.certificate,
    certificateChain: async () => opts.intermediates ?? [],
    publicKey: async () => publicKey,
    get handle() {
      return keys.loaded?.key.entity.handle ?? 0;
    },
    sign(message, digest = "SHA256") {
      const refused = closed; // asked before close(): made, and close() waits for it
      const run = queue.then(async () => {
        if (refused) throw new DeviceError("TPM_UNAVAILABLE", `${what}: the signer was already closed`);
        const hash = createHash(nodeHashName(digest)).update(message).digest();
        const sign = (loaded: LoadedState) => signHash(runOnKey(loaded), what, loaded.key.public.public, hash, digest);
        const signature = await unlessRejected(seen, "key", what, option, () => keys.use(sign));
        // Never sent unless it verifies (publicKey is the certificate's): an RSA signature made with a fault gives the
        // key's factors away (Boneh-DeMillo-Lipton), and a key without a password answers through a password session,
        // whose response has no HMAC to show an alteration on the way.
        if (signatureVerifies(publicKey, digest, message, signature)) return signature;
        const wrong = `the TPM's signature (${signature.length} bytes) does not verify with the key's public key`;
        throw new DeviceError("TPM_ERROR", `${what}: ${wrong}; it was not used`, {
          hint: "the TPM, or something between it and this process, returned a wrong signature: check both",
        });
      });
      queue = run.catch(() => undefined);
      return run;
    },
    async close() {
      if (closed) return;
      closed = true;
      forgetAtExit(duties);
      await queue;
      await keys.close();
    },
  };
  rememberAtExit(duties);
  return signer;
}

const MAY_HAVE_COUNTED = "a wrong password may have counted against the TPM's lockout: restart once the TPM answers";

/**
 * `present()`, which presents the `role`'s password, unless the TPM already rejected that password in this process
 * (rejected-secrets.ts); a rejection now is remembered.
 */
async function unlessRejected<T>(
  seen: string, role: "key" | "parent", what: string, option: string, present: () => Promise<T>,
): Promise<T> {
  // Another signer of this process presenting the same password (two roles, one key): its answer comes first.
  while (presenting.has(seen)) await presenting.get(seen)!.catch(() => undefined);
  const rejection = wasRejected(seen);
  if (rejection === "unanswered") {
    throw new DeviceError("TPM_ERROR", `${what}: the TPM did not answer when this ${role} password was presented; it was not presented again`, {
      hint: MAY_HAVE_COUNTED,
    });
  }
  if (rejection) {
    const again = `the TPM already rejected this ${role} password; it was not presented again`;
    throw new AuthError("TPM_AUTH_FAILED", `${what}: ${again}`, {
      hint: `fix ${option}; if the TPM was given this password since, restart (a reload refuses it too)`,
    });
  }
  const attempt = present().catch((e: unknown) => {
    if (e instanceof AuthError && e.code === "TPM_AUTH_FAILED") rememberRejected(seen);
    // Not TPM_UNAVAILABLE, which --wait-for-device waits out by presenting the password again.
    if (e instanceof TpmConnectionLost && e.presentedPassword) {
      rememberRejected(seen, "unanswered");
      throw new TpmConnectionLost("TPM_ERROR", `${what}: ${e.message}, after the ${role} password was presented; it is not presented again`, {
        hint: MAY_HAVE_COUNTED,
        cause: e,
      });
    }
    throw e;
  });
  presenting.set(seen, attempt);
  return attempt.finally(() => presenting.delete(seen));
}

/** The presentations in flight, by password digest: one at a time, so a wrong one costs one dictionary-attack try. */
const presenting = new Map<string, Promise<unknown>>();

/** What an open signer does when the process ends: flush synchronously at exit, close when the event loop empties. */
interface ExitDuties {
  exit(): void;
  beforeExit(): void;
}

/** The open signers' duties, behind one pair of process hooks: an agent may hold a signer per profile. */
const atExit = new Set<ExitDuties>();
const onProcessExit = () => atExit.forEach((d) => d.exit());
const onProcessBeforeExit = () => atExit.forEach((d) => d.beforeExit());

function rememberAtExit(duties: ExitDuties): void {
  if (atExit.size === 0) process.on("exit", onProcessExit).on("beforeExit", onProcessBeforeExit);
  atExit.add(duties);
}

function forgetAtExit(duties: ExitDuties): void {
  if (!atExit.delete(duties) || atExit.size > 0) return;
  process.off("exit", onProcessExit).off("beforeExit", onProcessBeforeExit);
}
