import { X509Certificate, type KeyObject } from "node:crypto";
import { createServer } from "node:https";
import type { RequestListener } from "node:http";
import type { Server, Socket } from "node:net";
import { oneLine } from "../daemon/signals.js";
import { InputError } from "../errors.js";
import { LEGACY_PEM_ENCRYPTION_HINT, pemBuffer } from "../encoding/pem.js";
import { warnIfExposed } from "../os/exposed-file.js";
import { readSecretInput, type SecretFileRead } from "../secrets/secret-source.js";
import { readInputFile, sameStamp, stampOf, type FileStamp, type InputBytes } from "../io/input-file.js";
import { loadKeyFile } from "../signers/file/key-material.js";
import { SUPPORTED_KEYS_HINT } from "../signers/file/signing-key.js";
import { repeatWithoutOverlap } from "../daemon/repeat.js";
import { SERVER_OPTIONS } from "./connection-caps.js";
import { readCertificateInput, warnIfKeyInCertificate } from "../x509/read-certificates.js";

/** The serving certificate (PEM, leaf first, intermediates after it) and its private key, as files. */
export interface TlsFilePaths {
  readonly certificate: string;
  readonly key: string;
}

/** Reads the pair's files and hands them to {@link useTlsPair}, warning first about a key file others can read. */
async function loadTlsFiles<T>(paths: TlsFilePaths, use: (cert: Buffer, key: Buffer) => T) {
  const { cert, key } = await readTlsFiles(paths);
  return { ...(await useTlsPair(paths, cert.bytes, key, use)), stamps: [cert.stamp, key.stamp] };
}

/**
 * The pair's files as read for {@link useTlsPair} (serve's and local-endpoint's one rule): the key as a secret file, its
 * ACL from the descriptor its bytes came from, with the RAA_EXPOSED_FILE warning when others can read or change it; the
 * certificate file with that warning too when it holds a private key others can read.
 */
export async function readTlsFiles(paths: TlsFilePaths): Promise<{ cert: InputBytes; key: InputBytes }> {
  const cert = await readCertificateInput(paths.certificate, "TLS certificate file");
  let key: SecretFileRead | undefined;
  try {
    key = await readSecretInput(paths.key, "TLS private key file");
    warnIfExposed(key, paths.key, "TLS private key file");
    if (paths.certificate !== paths.key) warnIfKeyInCertificate(cert, paths.certificate, "TLS certificate file"); // the same file: told as the key's
  } catch (error) {
    key?.bytes.fill(0);
    cert.bytes.fill(0); // it may hold the key too (`cat key crt`)
    throw error;
  }
  return { cert, key };
}

/**
 * Checks a TLS pair (`names` name its parts in messages): the certificate parses, the key is read by the file signer's
 * reader (the same rules and messages as a --private-key file, on every Node), and the key belongs to the certificate
 * (a half-finished rotation — new certificate, old key — fails here instead of at the first handshake). `use` gets the
 * certificate and the key as PKCS#8 version 1 PEM (what every Node's TLS reads); `key.bytes`, `cert` (which may hold
 * the key too), and every copy of the key made here, are wiped once it returns, or once the pair is refused (the TLS
 * context keeps its own copy).
 */
export async function useTlsPair<T>(names: TlsFilePaths, cert: Buffer, key: InputBytes, use: (cert: Buffer, key: Buffer) => T) {
  let der: Buffer | undefined;
  let pem: Buffer | undefined;
  try {
    const leaf = certificateOf(names.certificate, cert);
    const privateKey = await privateKeyOf(names.key, key);
    if (!leaf.checkPrivateKey(privateKey)) {
      throw new InputError("KEY_CERTIFICATE_MISMATCH", `TLS private key ${names.key} does not belong to the certificate in ${names.certificate}`, {
        hint: "give the key and the certificate of the same pair (tls.key and tls.crt of one Secret)",
      });
    }
    der = privateKey.export({ type: "pkcs8", format: "der" });
    pem = pemBuffer("PRIVATE KEY", der);
    return { validTo: leaf.validTo, used: usedBy(names, use, cert, pem) };
  } finally {
    key.bytes.fill(0);
    cert.fill(0); // a certificate file may hold the key too (`cat key crt`): Node's TLS keeps this Buffer as the server's `cert`
    der?.fill(0);
    pem?.fill(0);
  }
}

/** What `use` made of the pair; what Node's TLS refuses after the checks (a chain's other blocks) is an input error. */
function usedBy<T>(names: TlsFilePaths, use: (cert: Buffer, key: Buffer) => T, cert: Buffer, key: Buffer): T {
  try {
    return use(cert, key);
  } catch (cause) {
    throw new InputError("CERTIFICATE_INVALID", `TLS certificate file ${names.certificate} is not usable: ${(cause as Error).message}`, {
      hint: "give the certificate first, then its intermediate CA certificates, each a PEM CERTIFICATE block",
      cause,
    });
  }
}

function certificateOf(path: string, bytes: Buffer): X509Certificate {
  try {
    return new X509Certificate(bytes);
  } catch (cause) {
    throw new InputError("CERTIFICATE_INVALID", `TLS certificate file ${path} holds no PEM or DER certificate`, { cause });
  }
}

const TLS_KEYS = "a TLS key is an RSA or ECDSA key (P-256, P-384, P-521)";
const UNENCRYPTED_HINT = "a TLS key is read without a password: give it unencrypted (`openssl pkey -in KEY -out NEW`), readable by the serving user only";

/**
 * The signer's hint for a TLS key: what IAM Roles Anywhere accepts (alone, or before the formats it reads) is no answer
 * for one, nor an encrypted PKCS#8 (no password is asked for).
 */
function tlsKeyHint(hint: string | undefined): string | undefined {
  if (hint?.startsWith(SUPPORTED_KEYS_HINT)) return `${TLS_KEYS}${hint.slice(SUPPORTED_KEYS_HINT.length)}: give one and its certificate`;
  return hint === LEGACY_PEM_ENCRYPTION_HINT ? UNENCRYPTED_HINT : undefined;
}

/** The key by loadKeyFile, which wipes the file's bytes; an encrypted key is refused (no password is asked for). */
async function privateKeyOf(path: string, file: InputBytes): Promise<KeyObject> {
  const encrypted = () =>
    Promise.reject(new InputError("PASSWORD_REQUIRED", `${path} holds an encrypted private key and no password was given`, { hint: UNENCRYPTED_HINT }));
  const { key } = await loadKeyFile(path, {}, file, encrypted).catch((error: unknown) => {
    const hint = error instanceof InputError ? tlsKeyHint(error.hint) : undefined;
    if (hint !== undefined) throw new InputError((error as InputError).code, (error as InputError).message, { hint, cause: error });
    throw error;
  });
  if (key.privateKey === undefined) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `TLS private key file ${path} holds an ${key.description} key, which Node's TLS does not take`, {
      hint: "give an RSA or ECDSA key and its certificate",
    });
  }
  return key.privateKey;
}

/**
 * An HTTPS server whose certificate follows its files: they are stat'ed every `intervalMs` and, when either
 * changed, read and checked again; new connections then get the new certificate. A cert-manager Secret volume
 * swaps both files at once (a `..data` symbolic link), seen as new inodes. A pair that fails the checks is
 * logged once and the previous certificate kept until the files change again.
 */
export async function startTlsServer(paths: TlsFilePaths, handler: RequestListener, log: (line: string) => void, intervalMs = 5_000) {
  // pauseOnConnect: with takeHandshake, nothing is read of a connection until the caps keep it and begin its handshake.
  const options = { ...SERVER_OPTIONS, handshakeTimeout: SERVER_OPTIONS.headersTimeout /* Node's default: 120 s */, minVersion: "TLSv1.2", pauseOnConnect: true } as const;
  const first = await loadTlsFiles(paths, (cert, key) => createServer({ ...options, cert, key }, handler));
  const server = first.used;
  let inUse = first.stamps;
  let failedStamps: readonly FileStamp[] | undefined;
  const stampFiles = () => Promise.all([stampOf(paths.certificate, "TLS certificate file"), stampOf(paths.key, "TLS private key file")]);

  async function check(): Promise<void> {
    let stamps: FileStamp[];
    try {
      stamps = await stampFiles();
    } catch (error) {
      if (!failedStamps || failedStamps.length) log(`TLS certificate not reloaded, the previous one is kept: ${oneLine(error)}`);
      failedStamps = [];
      return;
    }
    if (stamps.every((s, i) => sameStamp(s, inUse[i]!))) {
      failedStamps = undefined; // back to the files in use: a later failure is news again
      return;
    }
    if (failedStamps?.length && stamps.every((s, i) => sameStamp(s, failedStamps![i]!))) return;
    try {
      const next = await loadTlsFiles(paths, (cert, key) => server.setSecureContext({ cert, key, minVersion: "TLSv1.2" }));
      inUse = next.stamps;
      failedStamps = undefined;
      log(`TLS certificate reloaded from ${paths.certificate} (valid until ${next.validTo})`);
    } catch (error) {
      // Swapped while read (between the stats, or between reading the certificate and the key): what failed may be
      // a torn pair, not the one on disk now, which the next check reads. Said and remembered only when it held still.
      const after = await stampFiles().catch(() => stamps);
      if (!after.every((s, i) => sameStamp(s, stamps[i]!))) return;
      failedStamps = stamps;
      log(`TLS certificate not reloaded, the previous one is kept: ${oneLine(error)}`);
    }
  }
  return { server, stop: repeatWithoutOverlap(check, intervalMs) };
}

/**
 * Takes Node's own "connection" listeners off a server just made (for a TLS server, they begin the handshake) and
 * returns what calls them, as the event would: the connection caps call it only for a connection they keep. Begun as
 * each connection came, the handshake's state (~50 KB once a replayed ClientHello is answered) was made for every
 * connection of a burst before the caps could close it: 4,000 loopback connections stopping mid-handshake took serve
 * from 58 to 164 MiB. Made with `pauseOnConnect`, a waiting connection's bytes stay in the kernel.
 */
export function takeHandshake(server: Server): (socket: Socket) => void {
  const listeners = server.listeners("connection") as ((socket: Socket) => void)[];
  for (const listener of listeners) server.removeListener("connection", listener);
  return (socket) => {
    for (const listener of listeners) listener.call(server, socket);
  };
}
