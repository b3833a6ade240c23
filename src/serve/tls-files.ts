import { createPrivateKey, X509Certificate } from "node:crypto";
import { createServer } from "node:https";
import type { RequestListener } from "node:http";
import { oneLine } from "../daemon/signals.js";
import { InputError } from "../errors.js";
import { warnIfExposed } from "../os/exposed-file.js";
import { readSecretInput } from "../secrets/secret-source.js";
import { readInputFile, sameStamp, stampOf, type FileStamp } from "../io/input-file.js";
import { repeatWithoutOverlap } from "../daemon/repeat.js";
import { SERVER_OPTIONS } from "./connection-caps.js";

/** The serving certificate (PEM, leaf first, intermediates after it) and its private key, as files. */
export interface TlsFilePaths {
  readonly certificate: string;
  readonly key: string;
}

/**
 * Reads and checks the pair: the certificate parses, the key parses, and the key belongs to the certificate
 * (a half-finished rotation — new certificate, old key — fails here instead of at the first handshake). `use` gets
 * the pair; the key's bytes are wiped once it returns, or once the pair is refused (the TLS context keeps its own copy).
 */
async function loadTlsFiles<T>(paths: TlsFilePaths, use: (cert: Buffer, key: Buffer) => T) {
  const cert = await readInputFile(paths.certificate, "TLS certificate file");
  const key = await readSecretInput(paths.key, "TLS private key file"); // its ACL from that descriptor, for the warning
  try {
    warnIfExposed(key, paths.key, "TLS private key file");
    const { validTo } = checkPair(paths, cert.bytes, key.bytes);
    return { validTo, stamps: [cert.stamp, key.stamp], used: use(cert.bytes, key.bytes) };
  } finally {
    key.bytes.fill(0);
  }
}

function checkPair(paths: TlsFilePaths, cert: Buffer, key: Buffer) {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (cause) {
    throw new InputError("CERTIFICATE_INVALID", `TLS certificate file ${paths.certificate} holds no PEM or DER certificate`, { cause });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (cause) {
    throw new InputError("PRIVATE_KEY_INVALID", `TLS private key file ${paths.key} holds no unencrypted PEM or DER private key`, { cause });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new InputError("KEY_CERTIFICATE_MISMATCH", `TLS private key ${paths.key} does not belong to the certificate in ${paths.certificate}`, {
      hint: "give the key and the certificate of the same pair (tls.key and tls.crt of one Secret)",
    });
  }
  return { validTo: leaf.validTo };
}

/**
 * An HTTPS server whose certificate follows its files: they are stat'ed every `intervalMs` and, when either
 * changed, read and checked again; new connections then get the new certificate. A cert-manager Secret volume
 * swaps both files at once (a `..data` symbolic link), seen as new inodes. A pair that fails the checks is
 * logged once and the previous certificate kept until the files change again.
 */
export async function startTlsServer(paths: TlsFilePaths, handler: RequestListener, log: (line: string) => void, intervalMs = 5_000) {
  const options = { ...SERVER_OPTIONS, handshakeTimeout: SERVER_OPTIONS.headersTimeout /* Node's default: 120 s */, minVersion: "TLSv1.2" } as const;
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
