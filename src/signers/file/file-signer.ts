import { InputError, UsageError } from "../../errors.js";
import { warnIfExposed } from "../../os/exposed-file.js";
import { sameStamp, stampOf, type FileStamp, type InputBytes } from "../../io/input-file.js";
import { readSecretInput } from "../../secrets/secret-source.js";
import { chainOf, readCertificateBundle, readCertificateFileBeside, type CertificateFile } from "../../x509/read-certificates.js";
import { optionName, type DebugLog, type PromptSignal, type SignerOptions } from "../options.js";
import type { Signer } from "../signer.js";
import { loadKeyFile, type LoadedKeyFile } from "./key-material.js";
import { readPkcs12 } from "./pkcs12.js";
import { certificateSpki, keyMatchesCertificate, spkiFingerprint, type SigningKey } from "./signing-key.js";

export interface FileSignerOptions
  extends Pick<SignerOptions, "keyPassword" | "debug" | "signOffThread" | "prompt" | "names">, PromptSignal {
  /** Private-key file (PEM or DER; may also hold the certificate). */
  keyPath: string;
  /** The key file's contents when the caller has already read them (saves a read on the hot path). */
  keyFile?: { bytes: Buffer; stamp: FileStamp };
  /** The certificate file, already read by the caller; absent for sign-string without one. */
  certificate?: CertificateFile;
  /** `--intermediates`: replaces the chain that follows the leaf in the certificate file (or PKCS#12 file). */
  intermediates?: CertificateFile;
}

/** `file`: its mode and owner, to warn when others can read it. */
type Pkcs12SignerOptions = Omit<FileSignerOptions, "keyPath" | "keyFile" | "certificate"> & { path: string; bytes: Buffer; file?: InputBytes };

/**
 * A signer whose key lives in a file. The key is read and decrypted once; the certificate, chain and key
 * files are checked (stat only) whenever the certificate is asked for (but right after they were read), and
 * re-read when they changed, so a renewed certificate is used without a restart. The key and certificate must
 * match, at construction and after every reload, before any request is signed.
 */
export async function createFileSigner(options: FileSignerOptions): Promise<Signer> {
  const { keyPath, debug } = options;
  const first = await loadKeyFile(keyPath, options, options.keyFile);
  let state = await checkState({ key: first, certificate: options.certificate, intermediates: options.intermediates }, keyPath, debug);
  let refreshing: Promise<SignerState> | undefined;

  const reloadChangedFiles = async (): Promise<SignerState> => {
    const current = state;
    let key = current.key;
    if (!sameStamp(key.stamp, await stampOf(keyPath, "private key file"))) {
      const wouldPrompt = options.keyPassword === undefined || options.keyPassword.kind === "prompt";
      if (key.encrypted && wouldPrompt) {
        debug?.(`${keyPath} changed, but re-reading an encrypted key would need a prompt: keeping the key in memory`);
      } else {
        debug?.(`${keyPath} changed: reloading the key`);
        // A prompt now would hold every request until someone answers it: a key that became encrypted is refused.
        const read = await readSecretInput(keyPath, "private key file"); // its ACL from this descriptor
        key = await loadKeyFile(keyPath, options, read, wouldPrompt ? () => refusePrompt(options) : undefined);
        warnIfExposed(read, keyPath, "private key file"); // as the factory's first read: a file holding no key is refused instead
      }
    }
    const [certName, chainName] = (["certificate", "intermediates"] as const).map((o) => optionName(options.names, o));
    const certificate = await reloadIfChanged(current.certificate, (path, option) => readCertificateFileBeside(path, option ?? "--certificate", keyPath), certName);
    const intermediates = await reloadIfChanged(current.intermediates, readCertificateBundle, chainName);
    if (key === current.key && certificate === current.certificate && intermediates === current.intermediates) {
      return current;
    }
    // A half-finished rotation (new certificate, old key) fails here and is retried on the next call.
    state = await checkState({ key, certificate, intermediates }, keyPath, debug);
    return state;
  };
  // One refresh at a time; concurrent callers share it.
  const refresh = () =>
    (refreshing ??= reloadChangedFiles().finally(() => {
      refreshing = undefined;
    }));
  // The files were just read, their fstat the baseline: the first certificate() and certificateChain() (a
  // CreateSession asks for both) within a second (hrtime: `performance` loads perf_hooks) skip a stat by name.
  const readAt = process.hrtime.bigint();
  const unchecked = new Set(["certificate", "chain"]);
  const current = async (use: string) =>
    unchecked.delete(use) && process.hrtime.bigint() - readAt < 1_000_000_000n ? state : refresh();
  return fileKeySigner("the file signer", () => state.key.key, options.signOffThread, {
    certificate: async () => (await current("certificate")).certificate?.certificates[0],
    certificateChain: async () => {
      const { certificate, intermediates } = await current("chain");
      return chainOf(certificate, intermediates);
    },
  });
}

/**
 * A signer for a PKCS#12 file, read once: the key and the certificate it belongs to, with the leaf's issuers
 * in the file as the chain (the leaf is not repeated).
 */
export async function createPkcs12Signer(options: Pkcs12SignerOptions): Promise<Signer> {
  const { key, certificate, chain } = await readPkcs12(options.bytes, options.path, options);
  if (options.file) warnIfExposed(options.file, options.path, "PKCS#12 file"); // encrypted too, as a key file (factory.ts)
  const intermediates = options.intermediates?.certificates ?? chain;
  return fileKeySigner("the PKCS#12 signer", () => key, options.signOffThread, {
    certificate: async () => certificate,
    certificateChain: async () => intermediates.slice(),
  });
}

/** The Signer both file back-ends are: `key()` is the key in use now, refused after close(). */
function fileKeySigner(
  name: string,
  key: () => SigningKey,
  signOffThread: boolean | undefined,
  certificates: Pick<Signer, "certificate" | "certificateChain">,
): Signer {
  let closed = false;
  const open = (): SigningKey => {
    if (closed) throw new UsageError("USAGE", `${name} was used after close()`, { hint: "create a new signer" });
    return key();
  };
  const whileOpen = <T>(read: () => Promise<T>) => async () => {
    open();
    return read();
  };
  return {
    backend: "file",
    get keyType() {
      return key().keyType;
    },
    certificate: whileOpen(certificates.certificate),
    certificateChain: whileOpen(certificates.certificateChain),
    publicKey: async () => open().publicKey,
    sign: async (message, digest = "SHA256") => {
      const signing = open();
      return signOffThread && signing.signOffThread ? signing.signOffThread(message, digest) : signing.sign(message, digest);
    },
    close: async () => {
      closed = true;
    },
  };
}

async function refusePrompt({ keyPath, names, prompt }: FileSignerOptions): Promise<never> {
  const what = `${keyPath} was replaced by an encrypted key, whose password a running signer does not ask for`;
  const restart = prompt === false ? "" : ", or restart to be asked for it";
  const hint = `give it with ${optionName(names, "keyPassword")}${restart}`;
  throw new InputError("PASSWORD_REQUIRED", what, { hint });
}

interface SignerState {
  key: LoadedKeyFile;
  certificate: CertificateFile | undefined;
  intermediates: CertificateFile | undefined;
}

async function reloadIfChanged(
  file: CertificateFile | undefined,
  read: (path: string, option?: string) => Promise<CertificateFile>,
  option: string | undefined,
): Promise<CertificateFile | undefined> {
  if (file === undefined) return undefined;
  const stamp = await stampOf(file.path, "certificate file");
  return sameStamp(stamp, file.stamp) ? file : read(file.path, option);
}

/** Checks that the key belongs to the leaf certificate (when there is one), then logs what the signer uses. */
async function checkState(state: SignerState, keyPath: string, debug: DebugLog | undefined): Promise<SignerState> {
  const { key } = state.key;
  const file = state.certificate;
  if (file === undefined) {
    debug?.(`file signer: ${key.description} key ${keyPath}, no certificate`);
    return state;
  }
  const [leaf, ...rest] = file.certificates;
  if (!(await keyMatchesCertificate(key, leaf))) {
    const match = (await Promise.all(rest.map((other) => keyMatchesCertificate(key, other)))).indexOf(true);
    const hint =
      match >= 0
        ? `certificate #${match + 2} in ${file.path} matches the key: put the leaf certificate first`
        : "use the certificate that was issued for this key, or the key it was issued for";
    const [keyFp, certFp] = [spkiFingerprint(key.spki), spkiFingerprint(await certificateSpki(leaf))];
    throw new InputError(
      "KEY_CERTIFICATE_MISMATCH",
      `private key ${keyPath} (${key.description}, public key sha256:${keyFp}) does not match certificate ${file.path} ` +
        `(serial ${leaf.serialDecimal}, public key sha256:${certFp})`,
      { hint },
    );
  }
  const chain = state.intermediates ?? { path: file.path, certificates: rest };
  debug?.(
    `file signer: ${key.description} key ${keyPath}, certificate serial ${leaf.serialDecimal} ` +
      `from ${file.path}, ${chain.certificates.length} chain certificate(s)${state.intermediates ? ` from ${chain.path}` : ""}`,
  );
  return state;
}
