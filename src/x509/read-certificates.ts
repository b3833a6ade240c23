import { closeSync, constants, openSync, type Stats } from "node:fs";
import { InputError, UsageError } from "../errors.js";
import { readInputFile, type FileStamp, type InputBytes } from "../io/input-file.js";
import { Certificate, NotX509Error } from "./certificate.js";
import { decodePemBlocks, looksLikePem, namePemBlock, pemLabels, wipeKeyBlocks } from "../encoding/pem.js";
import { aclAsked, keyInsideFindings, keyInsideWarnings, secretFileAcl, warnOnce, type FileFacts, type KeyInside } from "../os/exposed-file.js";
import { readElement, unlessMalformed } from "../encoding/der.js";
import { classifyDer, holdsPrivateKey } from "./der-kind.js";

/** Certificates read from one file, with the stamp of the version that was read. */
export interface CertificateFile {
  readonly path: string;
  readonly stamp: FileStamp;
  /** In file order; never empty. */
  readonly certificates: readonly [Certificate, ...Certificate[]];
}

/**
 * Reads `--certificate`: every CERTIFICATE block of a PEM file (other blocks, such as a private key in a
 * combined file, are skipped), or a single DER certificate. The first is the leaf; the rest, if any, are
 * its chain. `option`: how a hint names the input (a library caller's own option name).
 */
export async function readCertificateFile(path: string, option = "--certificate"): Promise<CertificateFile> {
  return readCertificateFileBeside(path, option, undefined);
}

/**
 * {@link readCertificateFile}, with the RAA_EXPOSED_FILE warning about a private key in it that others can read
 * ({@link warnIfKeyInCertificate}) unless it is `keyPath`, the signer's key file (no --private-key), told as that.
 */
export async function readCertificateFileBeside(path: string, option: string, keyPath: string | undefined): Promise<CertificateFile> {
  if (typeof path !== "string") throw new UsageError("USAGE", "readCertificateFile: path must be a string");
  const file = await readCertificateInput(path, "certificate file");
  const { bytes, stamp } = file;
  try {
    const certificates = parseCertificateBytes(bytes, path, true);
    if (!isNonEmpty(certificates)) throw noCertificateError(path, bytes, option);
    if (path !== keyPath) warnIfKeyInCertificate(file, path);
    return { path, stamp, certificates };
  } finally {
    bytes.fill(0); // it may hold a key (the file given is one, or a combined file); the certificates are copies
  }
}

/**
 * A certificate file's bytes as readInputFile reads them, with the ACL of the file they came from where the
 * key-in-certificate check asks one (a private key in it, and a mode that leaves the ACL to tell: aclAsked). Read again
 * by name after the read, it was the ACL of whatever the path named then. The file is held open for it by a second
 * descriptor of the same open file (/proc/self/fd), so a certificate without a key has no ACL read, nor the helper loaded.
 */
export async function readCertificateInput(path: string, what: string): Promise<InputBytes & { acl?: FileFacts["acl"] }> {
  let held: { fd: number; stats: Stats } | undefined;
  try {
    const input = await readInputFile(path, what, (fd, stats) => {
      if (!stats.isFile() || !aclAsked(stats)) return;
      try {
        held = { fd: openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY), stats };
      } catch {
        // No /proc (a chroot): the ACL is asked by name, as before.
      }
    });
    const acl = held && holdsPemPrivateKey(input.bytes, path) ? secretFileAcl(held.fd, held.stats) : undefined;
    return Object.assign(input, { acl });
  } finally {
    if (held) closeSync(held.fd);
  }
}

/**
 * The one check of a certificate file for a private key others can read (`cat key.pem crt.pem > crt.pem`: certificates
 * are left readable by all, the key in it then with them), for every reader of one (this file's, the signer's beside a
 * separate --private-key, serve's and local-endpoint's TLS certificate): a RAA_EXPOSED_FILE warning, once while it
 * stays so (keyInsideWarnings' words). Any PEM block whose label ends in PRIVATE KEY (PKCS#8, encrypted too: a copy's
 * password can be guessed offline; RSA, EC, OpenSSH, TSS2). Not DER: a DER file is one object, and a key given as the
 * certificate holds none (refused as such). The key blocks decoded to read their labels are wiped here; `file.bytes` is
 * the caller's. Not for `-` or `env:` (no mode): no file others could read.
 */
export function warnIfKeyInCertificate(file: InputBytes, path: string, what = "certificate file"): void {
  warnOnce(`${what} holding a private key\n${path}`, keyInCertificateWarnings(file, path, what));
}

function keyInCertificateWarnings(file: InputBytes, path: string, what: string): string[] {
  return file.mode !== undefined && holdsPemPrivateKey(file.bytes, path) ? keyInsideWarnings(file, path, what) : [];
}

/** {@link warnIfKeyInCertificate}'s findings, for a command that tells them its own way (doctor's certificate file row). */
export function keyInCertificateFindings(file: InputBytes, path: string): KeyInside[] {
  return file.mode !== undefined && holdsPemPrivateKey(file.bytes, path) ? keyInsideFindings(file, path) : [];
}

function holdsPemPrivateKey(bytes: Buffer, path: string): boolean {
  try {
    // Most certificate files hold no such label: found without decoding every block (a cold start reads one).
    return bytes.includes("PRIVATE KEY-----") && looksLikePem(bytes) && holdsPrivateKey(bytes, path);
  } catch {
    return false; // refused by the certificates' parse of the same bytes (decodePemBlocks wipes the keys it decoded)
  }
}

/**
 * The most CA certificates sent in X-Amz-X509-Chain. Roles Anywhere documents no limit; Go's crypto/x509 (AWS's parser)
 * stops building a chain after 100 signature checks (verify.go, maxChainSignatureChecks), so no path through more
 * verifies there, while a real PKI has 1 to 3 intermediates.
 */
const MAX_CHAIN_CERTIFICATES = 100;

/**
 * Refuses a chain of `count` certificates above the cap, `name(i)` naming certificate i. Applied before a chain is sent
 * and, by {@link readCertificateBundle}, before any certificate of a longer file is parsed (30,094 took 12 s).
 */
export function assertChainLength(count: number, name: (index: number) => string): void {
  if (count <= MAX_CHAIN_CERTIFICATES) return;
  const message = `invalid certificate chain: ${count} certificates, more than the ${MAX_CHAIN_CERTIFICATES} sent at most`;
  throw new InputError("CHAIN_INVALID", `${message} (the ${MAX_CHAIN_CERTIFICATES + 1}st is ${name(MAX_CHAIN_CERTIFICATES)})`, {
    hint: "give only the CA certificates between the leaf and the trust anchor (AWS's verifier stops after 100 signature checks)",
  });
}

const blockName = (path: string, index: number) => `${path} (certificate #${index + 1})`;

/** The chain sent after the leaf: `--intermediates` replaces whatever followed the leaf in the certificate file. */
export const chainOf = (certificate: CertificateFile | undefined, intermediates: CertificateFile | undefined): Certificate[] =>
  (intermediates?.certificates ?? certificate?.certificates.slice(1) ?? []).slice();

export function noCertificateError(path: string, bytes: Buffer, option = "--certificate"): InputError {
  // OpenSSL reads a PKCS#12 file followed by other bytes: say so rather than "not a certificate".
  const first = looksLikePem(bytes) ? undefined : unlessMalformed(() => readElement(bytes).raw);
  if (first !== undefined && first.length < bytes.length && classifyDer(first) === "PKCS12") {
    const extra = `it is followed by ${bytes.length - first.length} bytes that are not part of it`;
    return new InputError("PKCS12_INVALID", `could not parse PKCS#12 file ${path}: ${extra}`, {
      hint: "export it again, e.g. `openssl pkcs12 -export -inkey KEY -in CERT -out FILE.p12`",
    });
  }
  const hint = `${option} must be a PEM or DER X.509 certificate, a PKCS#12 file or a pkcs11: URI`;
  // What it holds instead (the key given for the certificate, OpenSSL's TRUSTED CERTIFICATE), named by its label;
  // its blocks were decoded already (parseCertificateBytes), so this does not throw.
  const blocks = looksLikePem(bytes) ? decodePemBlocks(bytes, path) : [];
  wipeKeyBlocks(blocks); // only the first label is wanted
  const [other] = blocks;
  const instead = other ? ` but ${namePemBlock(other.label, "another PEM block")}` : "";
  return looksLikePem(bytes)
    ? new InputError("PEM_INVALID", `could not parse PEM data: ${path} holds no CERTIFICATE block${instead}`, { hint })
    : new InputError("CERTIFICATE_INVALID", `could not parse certificate: ${path} is neither PEM nor a DER X.509 certificate`, {
        hint,
      });
}

/**
 * Reads `--intermediates`: a PEM bundle whose every block must be a CERTIFICATE (as in the Go helper),
 * or a single DER certificate. Order is kept; nothing checks that it really forms a chain. `sent`: false for a bundle
 * that is not sent (doctor's trust anchors), which the chain's cap does not bound.
 */
export async function readCertificateBundle(path: string, option = "--intermediates", sent = true): Promise<CertificateFile> {
  if (typeof path !== "string") throw new UsageError("USAGE", "readCertificateBundle: path must be a string");
  return certificateBundle(await readInputFile(path, "intermediates file"), path, option, sent);
}

/** {@link readCertificateBundle} of an input read already (doctor judges its mode by the same read). */
export function certificateBundle({ bytes, stamp }: InputBytes, path: string, option = "--intermediates", sent = true): CertificateFile {
  try {
    return bundleOf(bytes, stamp, path, option, sent);
  } finally {
    bytes.fill(0); // a key given for it is still a key; the certificates are copies
  }
}

function bundleOf(bytes: Buffer, stamp: FileStamp, path: string, option: string, sent: boolean): CertificateFile {
  if (looksLikePem(bytes)) {
    const labels = pemLabels(bytes, path); // not decoded: the cap comes first
    const stray = labels.find((label) => label !== "CERTIFICATE");
    if (stray !== undefined) {
      const block = namePemBlock(stray, "a PEM block that is not a CERTIFICATE");
      throw new InputError("CHAIN_INVALID", `invalid certificate chain: ${path} contains ${block}`, {
        hint: `${option} must hold only CERTIFICATE blocks`,
      });
    }
    if (sent) assertChainLength(labels.length, (i) => blockName(path, i));
  }
  let certificates: Certificate[];
  try {
    certificates = parseCertificateBytes(bytes, path);
  } catch (cause) {
    throw new InputError("CHAIN_INVALID", `invalid certificate chain: ${(cause as Error).message}`, { cause });
  }
  if (!isNonEmpty(certificates)) {
    throw new InputError("CHAIN_INVALID", `invalid certificate chain: ${path} holds no certificate`, {
      hint: `${option} must be a PEM bundle of CA certificates`,
    });
  }
  return { path, stamp, certificates };
}

/**
 * The certificates in a file's bytes, as {@link readCertificateFile} takes them: none for PEM without any and for DER
 * that is not a certificate (the caller decides: e.g. a PKCS#12 file); a corrupt CERTIFICATE block throws. `leafFirst`:
 * the blocks after the first are a chain that is sent, refused above the cap before any block is parsed.
 */
export function parseCertificateBytes(bytes: Buffer, path: string, leafFirst = false): Certificate[] {
  if (!looksLikePem(bytes)) {
    const kind = classifyDer(bytes);
    if (kind !== undefined && kind !== "CERTIFICATE") return []; // a key: new Certificate would copy it, to refuse it
    try {
      return [new Certificate(bytes, path)];
    } catch (error) {
      // Not DER X.509: the caller says what the file is not. A certificate refused for what it holds says why.
      if (error instanceof NotX509Error) return [];
      throw error;
    }
  }
  if (leafFirst) assertChainLength(pemLabels(bytes, path).filter((label) => label === "CERTIFICATE").length - 1, (i) => blockName(path, i + 1));
  const all = decodePemBlocks(bytes, path);
  wipeKeyBlocks(all); // a key in the same file (read again by the key's reader)
  const blocks = all.filter((b) => b.label === "CERTIFICATE");
  return blocks.map((b, i) => {
    const where = blockName(path, i);
    try {
      return new Certificate(b.der, where);
    } catch (cause) {
      if (!(cause instanceof NotX509Error)) throw cause;
      throw new InputError("CERTIFICATE_INVALID", `could not parse certificate: ${where} is not a valid X.509 certificate`, {
        hint: "the file may be truncated or damaged; export the certificate again",
        cause,
      });
    }
  });
}

function isNonEmpty<T>(list: T[]): list is [T, ...T[]] {
  return list.length > 0;
}
