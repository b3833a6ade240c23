import { createDecipheriv, pbkdf2, scrypt } from "node:crypto";
import { AuthError, InputError } from "../../errors.js";
import {
  DerError, TAG, children, decodeAlgorithmIdentifier, decodeSmallInteger, expectTag, readElement, readSingle,
  unlessMalformed,
} from "../../encoding/der.js";
import type { AlgorithmIdentifier, DerElement } from "../../encoding/der.js";
import { PKCS12_KEY_ID, pkcs12DeriveBytes } from "./pkcs12-kdf.js";
import { ownValue } from "../../own-value.js";
import { unparsableKeyError } from "./signing-key.js";

/**
 * PBES2 (PBKDF2-HMAC-SHA1/2 or scrypt; AES-CBC or 3DES) and PKCS#12 3DES decryption on node:crypto. Decrypting
 * here (not in OpenSSL) yields the plaintext PKCS#8, so key types OpenSSL 3.0 cannot parse still get decrypted.
 */

// Written out rather than util.promisify: importing node:util costs start-up time.
function derived(run: (done: (error: Error | null, key: Buffer) => void) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => run((error, key) => (error ? reject(error) : resolve(key))));
}

/**
 * Bounds on the work a hostile file may ask for. Real files use 2048 to a few 100 000 PBKDF2 iterations and
 * scrypt N ≤ 2^20, r = 8 (1 GiB is 64 times OpenSSL's own limit). The PKCS#12 KDF has no native form (~1.3 µs
 * an iteration here, three runs for a legacy bag), hence its lower bound.
 */
export const MAX_KDF_ITERATIONS = 10_000_000;
export const MAX_PKCS12_KDF_ITERATIONS = 1_000_000;
const MAX_SCRYPT_MEMORY = 1 << 30;
/** scrypt's work grows with N·r·p: 2^24 is ~10 s here, twice N = 2^20, r = 8, p = 1 (p adds work, little memory). */
const MAX_SCRYPT_WORK = 2 ** 24;

/** Why an iteration count read from a file is refused (undefined: accepted, 1 to `max` inclusive). */
export function iterationCountProblem(n: bigint | number | undefined, max = MAX_KDF_ITERATIONS): string | undefined {
  if (n === undefined) return "iteration count is not a whole number";
  if (n < 1) return `iteration count ${n} is less than 1`;
  if (n > max) return `iteration count ${n} is more than the ${max} this agent accepts`;
  return undefined;
}

/** An iteration count from the file; a DerError (reported as malformed parameters) unless it is usable. */
function readIterations(el: DerElement | undefined, max = MAX_KDF_ITERATIONS): number {
  const n = decodeSmallInteger(el);
  const problem = iterationCountProblem(n, max);
  if (problem !== undefined) throw new DerError(problem);
  return n;
}

export interface PbePassword {
  /** PBES2: the password's UTF-8 bytes. */
  readonly utf8: Buffer;
  /** PKCS#12 PBE: BMPString with NUL terminator (or zero bytes for the "no password" variant). */
  readonly bmp: Buffer;
}

/** What is being decrypted, for messages: e.g. `{ what: "PKCS#8 private key", source: "/path/key.pem" }`. */
export interface PbeContext {
  readonly what: string;
  readonly source: string;
}

const OID = {
  PBES2: "1.2.840.113549.1.5.13",
  PBKDF2: "1.2.840.113549.1.5.12",
  SCRYPT: "1.3.6.1.4.1.11591.4.11",
  PKCS12_3DES: "1.2.840.113549.1.12.1.3",
} as const;

const PRFS: Readonly<Record<string, string>> = {
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.8": "sha224",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};

const CIPHERS: Readonly<Record<string, { name: string; keyLength: number; ivLength: number }>> = {
  "2.16.840.1.101.3.4.1.2": { name: "aes-128-cbc", keyLength: 16, ivLength: 16 },
  "2.16.840.1.101.3.4.1.22": { name: "aes-192-cbc", keyLength: 24, ivLength: 16 },
  "2.16.840.1.101.3.4.1.42": { name: "aes-256-cbc", keyLength: 32, ivLength: 16 },
  "1.2.840.113549.3.7": { name: "des-ede3-cbc", keyLength: 24, ivLength: 8 },
};

/** Schemes that exist but that OpenSSL 3's default provider (and so this agent) cannot run. */
const LEGACY_SCHEMES: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.12.1.1": "pbeWithSHAAnd128BitRC4",
  "1.2.840.113549.1.12.1.2": "pbeWithSHAAnd40BitRC4",
  "1.2.840.113549.1.12.1.4": "pbeWithSHAAnd2-KeyTripleDES-CBC",
  "1.2.840.113549.1.12.1.5": "pbeWithSHAAnd128BitRC2-CBC",
  "1.2.840.113549.1.12.1.6": "pbeWithSHAAnd40BitRC2-CBC (RC2-40)",
  "1.2.840.113549.1.5.3": "PBES1 pbeWithMD5AndDES-CBC",
  "1.2.840.113549.1.5.6": "PBES1 pbeWithMD5AndRC2-CBC",
  "1.2.840.113549.1.5.10": "PBES1 pbeWithSHA1AndDES-CBC",
  "1.2.840.113549.1.5.11": "PBES1 pbeWithSHA1AndRC2-CBC",
};

/**
 * Decrypts `ciphertext` that was encrypted under `alg`. A padding failure means the password is wrong
 * (PASSWORD_INCORRECT); a scheme this agent cannot run gives PRIVATE_KEY_UNSUPPORTED.
 */
export async function pbeDecrypt(
  alg: AlgorithmIdentifier,
  ciphertext: Buffer,
  password: PbePassword,
  context: PbeContext,
): Promise<{ plaintext: Buffer; scheme: string }> {
  const { cipher, key, iv, scheme } = await parsed(context, () => deriveKey(alg, password, context));
  const parts: Buffer[] = [];
  try {
    const decipher = createDecipheriv(cipher, key, iv);
    parts.push(decipher.update(ciphertext), decipher.final());
    return { plaintext: Buffer.concat(parts), scheme };
  } catch (cause) {
    throw incorrectPassword(context, cause);
  } finally {
    key.fill(0);
    if (alg.oid === OID.PKCS12_3DES) iv.fill(0); // derived from the password (PBES2's is the file's own)
    for (const part of parts) part.fill(0);
  }
}

/** The decrypting step: {@link pbeDecrypt}, or a test's wrapper that checks its plaintext is zeroed after use. */
export type PbeDecrypt = typeof pbeDecrypt;

/** The cipher, its key and IV, and the scheme's name for --debug (`PBES2/scrypt/aes-256-cbc`). */
async function deriveKey(alg: AlgorithmIdentifier, password: PbePassword, context: PbeContext) {
  if (alg.oid === OID.PKCS12_3DES) {
    const [salt, iterations] = children(expectTag(alg.parameters, TAG.SEQUENCE), 2);
    const saltBytes = expectTag(salt, TAG.OCTET_STRING).content;
    const count = readIterations(iterations, MAX_PKCS12_KDF_ITERATIONS);
    const key = await pkcs12DeriveBytes("sha1", password.bmp, saltBytes, count, PKCS12_KEY_ID.key, 24);
    const iv = await pkcs12DeriveBytes("sha1", password.bmp, saltBytes, count, PKCS12_KEY_ID.iv, 8);
    return { cipher: "des-ede3-cbc", key, iv, scheme: "pbeWithSHAAnd3-KeyTripleDES-CBC" };
  }
  if (alg.oid !== OID.PBES2) throw unsupportedScheme(ownValue(LEGACY_SCHEMES, alg.oid) ?? `OID ${alg.oid}`, context);
  const [kdfEl, encEl] = children(expectTag(alg.parameters, TAG.SEQUENCE), 2);
  const kdf = decodeAlgorithmIdentifier(kdfEl);
  const enc = decodeAlgorithmIdentifier(encEl);
  const cipher = ownValue(CIPHERS, enc.oid);
  if (cipher === undefined) throw unsupportedScheme(`PBES2 cipher OID ${enc.oid}`, context);
  const iv = expectTag(enc.parameters, TAG.OCTET_STRING).content;
  if (iv.length !== cipher.ivLength) throw new DerError(`IV of ${iv.length} bytes for ${cipher.name}`);
  // scrypt-params ::= SEQUENCE { salt, costParameter, blockSize, parallelizationParameter, keyLength OPTIONAL }
  const fields = children(expectTag(kdf.parameters, TAG.SEQUENCE), kdf.oid === OID.SCRYPT ? 5 : undefined);
  const salt = fields[0];
  if (salt?.tag !== TAG.OCTET_STRING) throw unsupportedScheme("a KDF salt that is not an OCTET STRING", context);
  if (kdf.oid === OID.PBKDF2) {
    const iterations = readIterations(fields[1]);
    // PBKDF2-params: salt, iterationCount, keyLength OPTIONAL, prf DEFAULT HMAC-SHA1.
    const [keyLength, prf, extra] = fields[2]?.tag === TAG.INTEGER ? fields.slice(2) : [undefined, ...fields.slice(2)];
    if (extra !== undefined) throw new DerError("PBKDF2 parameters after the PRF");
    if (keyLength !== undefined) checkKeyLength(decodeSmallInteger(keyLength), cipher.keyLength);
    const prfOid = prf === undefined ? "1.2.840.113549.2.7" : decodeAlgorithmIdentifier(prf).oid;
    const digest = ownValue(PRFS, prfOid);
    if (digest === undefined) throw unsupportedScheme(`PBKDF2 PRF OID ${prfOid}`, context);
    const key = await derived((done) => pbkdf2(password.utf8, salt.content, iterations, cipher.keyLength, digest, done));
    return { cipher: cipher.name, key, iv, scheme: `PBES2/PBKDF2-${digest}/${cipher.name}` };
  }
  if (kdf.oid === OID.SCRYPT) {
    const [n, r, p, keyLength] = fields.slice(1).map((f) => decodeSmallInteger(f));
    if (n === undefined || r === undefined || p === undefined) throw new DerError("incomplete scrypt parameters");
    if (keyLength !== undefined) checkKeyLength(keyLength, cipher.keyLength);
    // Node requires N a power of two > 1 and r, p ≥ 1; it would throw a plain Error otherwise.
    if (n < 2 || (n & (n - 1)) !== 0 || n > 2 ** 30 || r < 1 || p < 1 || r * p >= 2 ** 30) {
      throw new DerError(`unusable scrypt parameters N=${n} r=${r} p=${p}`);
    }
    const memory = 128 * n * r + 128 * r * p;
    if (memory > MAX_SCRYPT_MEMORY) throw new DerError(`scrypt parameters N=${n} r=${r} p=${p} need ${Math.ceil(memory / 2 ** 20)} MiB, more than ${MAX_SCRYPT_MEMORY / 2 ** 20} MiB`);
    if (n * r * p > MAX_SCRYPT_WORK) {
      const work = `ask for N·r·p = ${n * r * p}, more than the ${MAX_SCRYPT_WORK} this agent accepts`;
      throw new DerError(`scrypt parameters N=${n} r=${r} p=${p} ${work}`);
    }
    const maxmem = memory + (64 << 20);
    const scrypted = derived((done) => scrypt(password.utf8, salt.content, cipher.keyLength, { N: n, r, p, maxmem }, done));
    const key = await scrypted.catch((cause: unknown) => {
      // OpenSSL has rules of its own (N < 2^(16·r), reported as "memory limit exceeded"): found by the fuzzer.
      throw new DerError(`unusable scrypt parameters N=${n} r=${r} p=${p} (${cause instanceof Error ? cause.message : String(cause)})`);
    });
    return { cipher: cipher.name, key, iv, scheme: `PBES2/scrypt/${cipher.name}` };
  }
  throw unsupportedScheme(`PBES2 key derivation OID ${kdf.oid}`, context);
}

function checkKeyLength(declared: number, expected: number): void {
  if (declared !== expected) throw new DerError(`KDF key length ${declared} does not fit the cipher (${expected})`);
}

/** Decrypts a DER EncryptedPrivateKeyInfo into its PrivateKeyInfo DER, with the scheme for --debug. */
export async function decryptPrivateKeyInfo(
  der: Buffer,
  password: PbePassword,
  context: PbeContext,
  decrypt: PbeDecrypt = pbeDecrypt,
): Promise<{ plaintext: Buffer; scheme: string }> {
  const { alg, data } = await parsed(context, () => {
    const [algEl, dataEl] = children(readSingle(der, TAG.SEQUENCE), 2);
    return { alg: decodeAlgorithmIdentifier(algEl), data: expectTag(dataEl, TAG.OCTET_STRING).content };
  });
  const { plaintext, scheme } = await decrypt(alg, data, password, context);
  return { plaintext: wipedOnError(plaintext, () => singleSequence(plaintext, context)), scheme };
}

/** `use(bytes)`, zeroing `bytes` should it throw: a decrypted key refused for its shape is still a key. */
export function wipedOnError<T>(bytes: Buffer, use: () => T): T {
  try {
    return use();
  } catch (e) {
    bytes.fill(0);
    throw e;
  }
}

/**
 * Decrypted bytes must be one DER SEQUENCE. Padding happens to be valid for about 1 wrong password in 256,
 * so garbage here almost always means a wrong password too; but a well-formed SEQUENCE followed by other bytes
 * (OpenSSL reads it, as it reads a DER key followed by them) proves the password right: the file is damaged.
 */
export function singleSequence(plaintext: Buffer, context: PbeContext): Buffer {
  try {
    children(readSingle(plaintext, TAG.SEQUENCE));
    return plaintext;
  } catch (cause) {
    const first = unlessMalformed(() => readElement(plaintext, 0));
    if (first?.tag === TAG.SEQUENCE && (unlessMalformed(() => children(first))?.length ?? 0) > 0) {
      const extra = `${plaintext.length - first.raw.length} bytes that are not part of it`;
      const hint = "the password is right but the file is damaged: export the key again";
      throw unparsableKeyError(`the decrypted ${context.what} in ${context.source} is followed by ${extra}`, cause, hint);
    }
    throw incorrectPassword(context, cause);
  }
}

/** Runs `parse`, reporting a DerError as malformed encryption parameters. */
async function parsed<T>(context: PbeContext, parse: () => T | Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    throw unparsableKeyError(`the encryption parameters of ${context.source} are unusable: ${e.message}`, e);
  }
}

export function incorrectPassword(context: PbeContext, cause?: unknown): AuthError {
  return new AuthError("PASSWORD_INCORRECT", `incorrect ${context.what} password for ${context.source}`, {
    hint: "check the password, it is not retried; if it is right, the file is damaged",
    cause,
  });
}

function unsupportedScheme(scheme: string, context: PbeContext): InputError {
  return new InputError("PRIVATE_KEY_UNSUPPORTED", `${context.source} is encrypted with ${scheme}, which is not supported`, {
    hint: "re-encrypt it with PBES2 and AES, e.g. `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW`",
  });
}

