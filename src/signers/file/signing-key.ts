import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { InputError } from "../../errors.js";
import type { Certificate, KeyType } from "../../x509/certificate.js";
import type { DebugLog } from "../options.js";
import type { DigestAlgorithm } from "../signer.js";
import { FORMAT_NAMES, checkKey, type RsaEcKeyFormat } from "./key-checks.js";
import { nodeHashName } from "../../encoding/signature-encoding.js";

/**
 * A private key held in memory, already decrypted, that can sign. The file signer and PKCS#12 reader only
 * see this, so key families that node:crypto cannot hold (ML-DSA on OpenSSL 3.0) plug in as another
 * implementation.
 */
export interface SigningKey {
  readonly keyType: KeyType;
  /** For messages and --debug: `RSA 2048`, `EC P-256`, `ML-DSA-65`. */
  readonly description: string;
  /** The public half, when node:crypto can represent it. */
  readonly publicKey: KeyObject | undefined;
  /** node:crypto's private key (RSA, EC), for serve's TLS context: the one key reader's answer, on every Node. */
  readonly privateKey?: KeyObject;
  /** DER SubjectPublicKeyInfo of the public half, to match it against a certificate. */
  readonly spki: Buffer;
  /** RSA PKCS#1 v1.5 or ECDSA (DER) over digest(message); ML-DSA signs the message itself. */
  sign(message: Uint8Array, digest: DigestAlgorithm): Buffer;
  /**
   * The same signature computed on libuv's thread pool, for long-running programs: a 16384-bit RSA signature
   * takes ~0.5 s here (seconds on a small ARM board), which must not stop an agent's event loop.
   */
  signOffThread?(message: Uint8Array, digest: DigestAlgorithm): Promise<Buffer>;
}

export const SUPPORTED_KEYS_HINT =
  "IAM Roles Anywhere accepts RSA 2048–4096 bits, ECDSA P-256, P-384 or P-521, and ML-DSA-44/65/87 keys";

/**
 * An RSA or EC private key from its DER: checked from its structure first (key-checks.ts: node:crypto can
 * abort the process on some hostile keys, and sign badly with others), then loaded by node:crypto.
 * Refuses key types and sizes the service does not accept. Every error of sign() is an InputError naming
 * `source`, and an RSA signature is verified before it is returned (a key with a composite "prime" passes
 * the structural checks but signs wrongly; verifying costs ~1/30 of signing).
 */
export function rsaEcSigningKey(der: Buffer, format: RsaEcKeyFormat, source: string, debug?: DebugLog): SigningKey {
  const checked = checkKey(der, format, source);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: checked.der, format: "der", type: format });
  } catch (cause) {
    throw unparsableKeyError(`${source} holds a malformed ${FORMAT_NAMES[format]}`, cause);
  } finally {
    if (checked.der !== der) checked.der.fill(0);
  }
  if (checked.kind === "RSA") {
    const bits = checked.bits;
    if (bits < 1024) throw unsupportedKeyError(`RSA ${bits}-bit`, source);
    if (bits < 2048) {
      debug?.(`${source}: RSA ${bits}-bit key accepted for compatibility with aws_signing_helper; use 2048 bits or more`);
    } else if (bits > 4096) {
      debug?.(`${source}: RSA ${bits}-bit key is larger than the 4096 bits IAM Roles Anywhere documents`);
    }
  }
  const isRsa = checked.kind === "RSA";
  const publicKey = createPublicKey(privateKey);
  const signFailed = (reason: string, cause?: unknown) => signingFailed(source, reason, cause);
  const onThreadPool = <T>(run: (done: (error: Error | null, result: T) => void) => void) =>
    new Promise<T>((resolve, reject) => run((error, result) => (error ? reject(signFailed(error.message, error)) : resolve(result))));
  let spki: Buffer | undefined;
  return {
    keyType: checked.kind,
    description: isRsa ? `RSA ${checked.bits}` : `EC ${checked.curve}`,
    publicKey,
    privateKey,
    // Read only for messages (the key matches its certificate by publicKey): OpenSSL's first export costs ~1 ms.
    get spki() {
      return (spki ??= publicKey.export({ type: "spki", format: "der" }));
    },
    sign: (message, digest) => {
      const algorithm = nodeHashName(digest);
      let signature: Buffer;
      try {
        signature = sign(algorithm, message, privateKey);
      } catch (cause) {
        throw signFailed(cause instanceof Error ? cause.message : String(cause), cause);
      }
      if (isRsa && !verify(algorithm, message, publicKey, signature)) throw inconsistentKeyError(source);
      return signature;
    },
    signOffThread: async (message, digest) => {
      const algorithm = nodeHashName(digest);
      const signature = await onThreadPool<Buffer>((done) => sign(algorithm, message, privateKey, done));
      if (isRsa && !(await onThreadPool<boolean>((done) => verify(algorithm, message, publicKey, signature, done)))) throw inconsistentKeyError(source);
      return signature;
    },
  };
}

function signingFailed(source: string, reason: string, cause?: unknown): InputError {
  return new InputError("PRIVATE_KEY_INVALID", `signing with the private key in ${source} failed: ${reason}`, {
    hint: "the key is damaged or inconsistent; generate a new key and certificate",
    cause,
  });
}

/** A signature the key's own public key does not verify: never handed out. */
export function inconsistentKeyError(source: string): InputError {
  return signingFailed(source, "its own public key does not verify the signature (the key's components are inconsistent)");
}

export const DAMAGED_KEY_HINT = "the file may be truncated or damaged; export the key again";

export function unparsableKeyError(problem: string, cause?: unknown, hint = DAMAGED_KEY_HINT): InputError {
  return new InputError("PRIVATE_KEY_INVALID", `unable to parse private key: ${problem}`, { hint, cause });
}

export function unsupportedKeyError(typeName: string, source: string): InputError {
  return new InputError("PRIVATE_KEY_UNSUPPORTED", `private key type ${typeName} in ${source} is not supported`, {
    hint: SUPPORTED_KEYS_HINT,
  });
}

export async function keyMatchesCertificate(key: SigningKey, cert: Certificate): Promise<boolean> {
  const certKey = cert.publicKey;
  if (key.publicKey !== undefined && certKey !== undefined) {
    // KeyObject.equals throws (rather than answering false) for keys of different types.
    if (key.publicKey.asymmetricKeyType !== certKey.asymmetricKeyType) return false;
    try {
      return key.publicKey.equals(certKey);
    } catch {
      return false;
    }
  }
  return key.spki.equals(await certificateSpki(cert));
}

/** Short SHA-256 fingerprint of a public key (its DER SubjectPublicKeyInfo), for messages. */
export function spkiFingerprint(spki: Buffer): string {
  return createHash("sha256").update(spki).digest("hex").slice(0, 16);
}

/** The certificate's DER SubjectPublicKeyInfo (read from its DER when OpenSSL cannot represent the key). */
export async function certificateSpki(cert: Certificate): Promise<Buffer> {
  return cert.publicKey?.export({ type: "spki", format: "der" }) ?? (await cert.spki()).der;
}
