import { dropFailures } from "../debug-log.js";
import { DeviceError, InputError, UsageError, isAgentError } from "../errors.js";
import { isPkcs11Uri } from "../pkcs11/uri.js";
import { warnIfExposed } from "../os/exposed-file.js";
import { readInputFile, STDIN_INPUT, type InputBytes } from "../io/input-file.js";
import { ENVIRONMENT, wrongOption, type Kind, type Kinds } from "../own-value.js";
import { readSecretInput, SECRET_SOURCE as SECRET } from "../secrets/secret-source.js";
import { classifyDer, holdsPrivateKey } from "../x509/der-kind.js";
import { looksLikePem } from "../encoding/pem.js";
import {
  chainOf,
  noCertificateError,
  parseCertificateBytes,
  readCertificateBundle,
  readCertificateInput,
  warnIfKeyInCertificate,
  type CertificateFile,
} from "../x509/read-certificates.js";
import { createFileSigner, createPkcs12Signer } from "./file/file-signer.js";
import { wipedOnError } from "./file/pbe.js";
import { isTpmHandleRef, noKeyHint, OPTION_NAMES, optionName, type ReadAlready, type SignerOptions } from "./options.js";
import type { Signer } from "./signer.js";
import { containsTss2Key } from "../tpm/keys/tss2-detect.js";
import type { openTpmSigner } from "./tpm/tpm-signer.js";

const REF: Kind = [(ref) => typeof ref === "string" && ref !== "", "a non-empty string (a path, pkcs11: URI, handle:)"];
/** {@link SignerOptions}' types, for callers in plain JavaScript. */
const OPTION_KINDS: Kinds = {
  certificate: REF, privateKey: REF, intermediates: "string", keyPassword: SECRET, env: ENVIRONMENT,
  pkcs11: { library: "string", pin: SECRET, reusePin: "boolean", contextPin: SECRET },
  tpm: {
    device: "string", keyPassword: SECRET, parentPassword: SECRET, noKeyPassword: "boolean", ignoreEmptyAuth: "boolean",
  },
  debug: "function", waitForDeviceMs: "number", onDeviceWait: "function", signOffThread: "boolean", prompt: "boolean",
  names: OPTION_NAMES,
};

/**
 * Chooses and builds the back-end for `--certificate` / `--private-key`, following aws_signing_helper's
 * GetSigner rules with its gaps closed:
 * - `--private-key` absent: the certificate reference also locates the key (combined PEM, PKCS#12, one
 *   pkcs11: URI for both);
 * - `--certificate` absent: certificates in the key file (combined PEM, TSS2 key + certificate) are used;
 * - `pkcs11:` keys go to the PKCS#11 back-end, `handle:` and TSS2 key files to the TPM back-end, both with
 *   any certificate read from a file (hybrid);
 * - `--intermediates` replaces whatever chain the certificate file (or PKCS#12 file) carried.
 * File keys use node:crypto only; the PKCS#11 and TPM modules are imported only when chosen.
 * `signal` ends a `waitForDeviceMs` wait, and a prompt on the terminal (a `prompt` source, or a secret not given with
 * `prompt: true`), rejecting with its reason; a device call in progress finishes first.
 */
export function createSigner(given: SignerOptions, signal?: AbortSignal): Promise<Signer> {
  return createSignerWith(given, {}, signal);
}

/** {@link createSigner} with the files doctor read and judged (not the library's: index.ts exports createSigner only). */
export async function createSignerWith(given: SignerOptions, readAlready: ReadAlready, signal?: AbortSignal): Promise<Signer> {
  const wrong = wrongOption(given, OPTION_KINDS);
  if (wrong) throw new UsageError("USAGE", wrong, { hint: "see SignerOptions in the type definitions" });
  const options = { ...given, debug: dropFailures(given.debug), onDeviceWait: dropFailures(given.onDeviceWait) };
  // Only the token or TPM is tried again: the files are read once (standard input cannot be read twice).
  const device: OpenDevice = async (open) => {
    if (!options.waitForDeviceMs) return open();
    const { waitForDevice } = await import("./wait-for-device.js");
    return waitForDevice(open, { timeoutMs: options.waitForDeviceMs, onWait: options.onDeviceWait, signal });
  };
  return withTypedSignErrors(await openSigner(options, readAlready, signal, device));
}

type OpenDevice = (open: () => Promise<Signer>) => Promise<Signer>;

/**
 * Makes every error of `signer.sign()` an AgentError: what still escapes the back-ends (a library's own exception,
 * a bug) becomes a device or key error naming the back-end rather than an "internal error" exit 1.
 */
export function withTypedSignErrors(signer: Signer): Signer {
  const sign = signer.sign.bind(signer);
  signer.sign = async (message, digest) => {
    try {
      return await sign(message, digest);
    } catch (error) {
      if (isAgentError(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      if (signer.backend === "file") {
        throw new InputError("PRIVATE_KEY_INVALID", `signing with the private key file failed: ${reason}`, { cause: error });
      }
      throw new DeviceError(signer.backend === "tpm" ? "TPM_ERROR" : "PKCS11_ERROR", `signing with the ${signer.backend === "tpm" ? "TPM" : "PKCS#11"} key failed: ${reason}`, { cause: error });
    }
  };
  return signer;
}

async function openSigner(options: SignerOptions, readAlready: ReadAlready, signal: AbortSignal | undefined, device: OpenDevice): Promise<Signer> {
  const { certificate: certRef, keyPassword, signOffThread, prompt, names } = options;
  const keyRef = options.privateKey ?? certRef;
  // The key's file (the certificate's, without --private-key) with its ACL, read from its descriptor: the warning's.
  const read = async (ref: string, what: string): Promise<InputBytes> =>
    (ref === keyRef && readAlready.keyFile) || (ref === certRef && readAlready.certificateFile) || (ref === keyRef ? readSecretInput : ref === certRef ? readCertificateInput : readInputFile)(ref, what);
  const [cert, key, chain] = (["certificate", "privateKey", "intermediates"] as const).map((o) => optionName(names, o));
  if (keyRef === undefined) throw new UsageError("USAGE", "no private key given", { hint: noKeyHint(names) });
  const fromStdin = [options.certificate, options.privateKey, options.intermediates].filter((ref) => ref === STDIN_INPUT);
  if (fromStdin.length > 1) {
    throw new UsageError("USAGE", `only one of ${cert}, ${key} and ${chain} can be - (standard input)`, {
      hint: "pass the others as files or env:NAME",
    });
  }
  const debug = options.debug;
  const notAlone = (path: string, brings: string) => new UsageError("USAGE", `${path} is a PKCS#12 file, which brings its own ${brings}`, {
    hint: `pass the PKCS#12 file alone, as ${cert} or ${key}`,
  });
  const intermediates = readAlready.intermediatesFile ?? (options.intermediates ? await readCertificateBundle(options.intermediates, chain) : undefined);
  const fileOptions = { keyPassword, intermediates, debug, signOffThread, prompt, names, signal };

  let certificateFile: CertificateFile | undefined;
  let certificateInput: InputBytes | undefined;
  if (certRef !== undefined && !isPkcs11Uri(certRef)) {
    certificateInput = await read(certRef, "certificate file");
    const { bytes, stamp } = certificateInput;
    const [leaf, ...chain] = wipedOnError(bytes, () => { // it may hold a key
      const certificates = parseCertificateBytes(bytes, certRef, true);
      if (certificates.length > 0 || (options.privateKey === undefined && isPkcs12(bytes))) return certificates;
      throw isPkcs12(bytes) ? notAlone(certRef, "key") : noCertificateError(certRef, bytes, cert);
    });
    if (leaf === undefined) {
      debug?.(`${certRef}: PKCS#12 file`);
      return createPkcs12Signer({ path: certRef, bytes, file: certificateInput, ...fileOptions });
    }
    certificateFile = { path: certRef, stamp, certificates: [leaf, ...chain] };
    // Not the key file: a key in it is another's, and the certificates are copies. The key file's own warning tells
    // the one read as the key.
    if (keyRef !== certRef) {
      try {
        warnIfKeyInCertificate(certificateInput, certRef);
      } finally {
        bytes.fill(0);
      }
    }
  }
  const deviceOptions = () => {
    const chain = chainOf(certificateFile, intermediates);
    const certificate = certificateFile?.certificates[0];
    const { env } = options;
    return { certificate, intermediates: chain.length > 0 ? chain : undefined, debug, env, prompt, names, signal, askedPin: options.askedPin };
  };
  const tpmSigner = async (key: Parameters<typeof openTpmSigner>[0]["key"]) => {
    const { openTpmSigner } = await import("./tpm/tpm-signer.js");
    return device(() => openTpmSigner({ ...options.tpm, key, ...deviceOptions() }));
  };

  if (isPkcs11Uri(keyRef)) {
    const { createPkcs11Signer } = await import("./pkcs11/index.js");
    const certificateUri = certRef !== undefined && isPkcs11Uri(certRef) ? certRef : undefined;
    return device(() => createPkcs11Signer({ ...options.pkcs11, keyUri: keyRef, certificateUri, ...deviceOptions() }));
  }

  if (isTpmHandleRef(keyRef)) return tpmSigner({ kind: "handle", handle: parseTpmHandle(keyRef) });

  // With no --private-key the certificate's input is read once for both (standard input cannot be read twice).
  const keyFile = keyRef === certRef && certificateInput ? certificateInput : await read(keyRef, "private key file");
  if (certificateFile === undefined && certRef === undefined) {
    const [leaf, ...chain] = looksLikePem(keyFile.bytes) ? wipedOnError(keyFile.bytes, () => parseCertificateBytes(keyFile.bytes, keyRef, true)) : [];
    if (leaf !== undefined) certificateFile = { path: keyRef, stamp: keyFile.stamp, certificates: [leaf, ...chain] };
  }

  if (containsTss2Key(keyFile.bytes)) {
    // Parsed once, here: the warning and the signer judge the same contents (the file's refusal is the one line).
    const [{ parseTss2Key }, { passwordLess }] = await Promise.all([import("./tpm/tpm-signer.js"), import("./tpm/key-password.js")]);
    const key = await (readAlready.keyFile?.tss2Key ?? parseTss2Key(keyRef, keyFile.bytes)); // doctor's parse, if it judged it
    if (passwordLess(key.file, options.tpm?.ignoreEmptyAuth)) warnIfExposed(keyFile, keyRef, "password-less TPM key file");
    return tpmSigner(key);
  }

  if (options.privateKey === undefined && !holdsPrivateKey(keyFile.bytes, keyRef)) {
    const hint = noKeyHint(names, false);
    throw new UsageError("USAGE", `no private key given: ${keyRef} holds no private key`, { hint });
  }

  if (options.privateKey !== undefined && isPkcs12(keyFile.bytes)) {
    if (certRef !== undefined) throw notAlone(keyRef, "certificate");
    return createPkcs12Signer({ path: keyRef, bytes: keyFile.bytes, file: keyFile, ...fileOptions });
  }

  // Encrypted too: a copy's password can be guessed offline. Not a file that holds no key: the parser's refusal is the one line.
  if (parsesAsPrivateKey(keyFile.bytes, keyRef)) warnIfExposed(keyFile, keyRef, "private key file");
  return createFileSigner({ keyPath: keyRef, keyFile, certificate: certificateFile, ...fileOptions });
}

/** {@link holdsPrivateKey}; false for PEM text it cannot decode (the key parser's error says what is wrong). */
function parsesAsPrivateKey(bytes: Buffer, path: string): boolean {
  try {
    return holdsPrivateKey(bytes, path);
  } catch {
    return false;
  }
}

export function isPkcs12(bytes: Buffer): boolean {
  return !looksLikePem(bytes) && classifyDer(bytes) === "PKCS12";
}

/**
 * A persistent TPM handle (0x81000000-0x81ffffff, as `tpm2_getcap handles-persistent` lists them) from
 * `handle:0x81000101` or, as the Go helper reads it, `handle:81000101` (hex either way); ten digits are decimal
 * (`handle:2164261121`). `anyRange`: any 32-bit handle, for a caller that checks the range itself (keygen);
 * `name`: how the mistake is named (the flag and value the user gave).
 */
export function parseTpmHandle(ref: string, options: { anyRange?: boolean; name?: string } = {}): number {
  if (typeof ref !== "string") throw new UsageError("USAGE", "parseTpmHandle: the handle must be a string (handle:0x81…)");
  const text = ref.replace(/^handle:/, "").trim();
  const hex = /^(?:0x)?([0-9a-f]{1,8})$/i.exec(text);
  const value = hex ? Number.parseInt(hex[1]!, 16) : /^\d{10}$/.test(text) ? Number(text) : NaN;
  if (value <= 0xffffffff && (options.anyRange || (value >= 0x81000000 && value <= 0x81ffffff))) return value;
  const what = Number.isNaN(value) ? "is not a TPM handle" : "is outside the persistent TPM handles, 0x81000000-0x81ffffff";
  throw new InputError("TPM_KEY_INVALID", `${options.name ?? ref} ${what}`, {
    hint: "write it in hex, e.g. handle:0x81000101; tpm2_getcap handles-persistent lists the persistent handles",
  });
}
