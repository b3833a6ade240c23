/**
 * A PBES2 ENCRYPTOR for tests (RFC 8018): wraps a PKCS#8 PrivateKeyInfo into an EncryptedPrivateKeyInfo.
 * OpenSSL 3.0 cannot parse ML-DSA keys, so it cannot encrypt them; this writes the same structures
 * OpenSSL writes, with @peculiar schemas (not the agent's own DER reader), and pbes2-encrypt.test.ts checks
 * that `openssl pkcs8` decrypts what it produces.
 */
import { createCipheriv, pbkdf2Sync, randomBytes, scryptSync } from "node:crypto";
import { AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import { EncryptedData, EncryptedPrivateKeyInfo } from "@peculiar/asn1-pkcs8";

export const PBES2_OIDS = {
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  scrypt: "1.3.6.1.4.1.11591.4.11",
  hmacWithSHA1: "1.2.840.113549.2.7",
  hmacWithSHA256: "1.2.840.113549.2.9",
  hmacWithSHA384: "1.2.840.113549.2.10",
  hmacWithSHA512: "1.2.840.113549.2.11",
  "aes-128-cbc": "2.16.840.1.101.3.4.1.2",
  "aes-192-cbc": "2.16.840.1.101.3.4.1.22",
  "aes-256-cbc": "2.16.840.1.101.3.4.1.42",
} as const;

export type Pbes2Cipher = "aes-128-cbc" | "aes-192-cbc" | "aes-256-cbc";
/** `sha1-absent` writes no PRF field (HMAC-SHA1 by default, as AWS Certificate Manager exports do). */
export type Pbkdf2Prf = "sha1-absent" | "sha1" | "sha256" | "sha384" | "sha512";

export type Pbes2Options = {
  cipher: Pbes2Cipher;
} & (
  | { kdf: "pbkdf2"; prf: Pbkdf2Prf; iterations?: number; /** Write the optional keyLength field. */ withKeyLength?: boolean }
  | { kdf: "scrypt"; N?: number; r?: number; p?: number }
);

const KEY_LENGTHS: Record<Pbes2Cipher, number> = { "aes-128-cbc": 16, "aes-192-cbc": 24, "aes-256-cbc": 32 };
const PRF_OIDS: Record<Exclude<Pbkdf2Prf, "sha1-absent">, string> = {
  sha1: PBES2_OIDS.hmacWithSHA1,
  sha256: PBES2_OIDS.hmacWithSHA256,
  sha384: PBES2_OIDS.hmacWithSHA384,
  sha512: PBES2_OIDS.hmacWithSHA512,
};

@AsnType({ type: AsnTypeTypes.Sequence })
class Pbkdf2Params {
  @AsnProp({ type: AsnPropTypes.OctetString }) salt = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Integer }) iterationCount = 0;
  @AsnProp({ type: AsnPropTypes.Integer, optional: true }) keyLength?: number;
  @AsnProp({ type: AlgorithmIdentifier, optional: true }) prf?: AlgorithmIdentifier;
}

@AsnType({ type: AsnTypeTypes.Sequence })
class ScryptParams {
  @AsnProp({ type: AsnPropTypes.OctetString }) salt = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Integer }) costParameter = 0;
  @AsnProp({ type: AsnPropTypes.Integer }) blockSize = 0;
  @AsnProp({ type: AsnPropTypes.Integer }) parallelizationParameter = 0;
}

@AsnType({ type: AsnTypeTypes.Sequence })
class Pbes2Params {
  @AsnProp({ type: AlgorithmIdentifier }) keyDerivationFunc = new AlgorithmIdentifier();
  @AsnProp({ type: AlgorithmIdentifier }) encryptionScheme = new AlgorithmIdentifier();
}

function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Encrypts a DER PrivateKeyInfo under `password` (UTF-8); returns the DER EncryptedPrivateKeyInfo. */
export function encryptPkcs8(privateKeyInfo: Uint8Array, password: string, options: Pbes2Options): Buffer {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const keyLength = KEY_LENGTHS[options.cipher];
  let key: Buffer;
  let kdf: AlgorithmIdentifier;
  if (options.kdf === "pbkdf2") {
    const iterations = options.iterations ?? 2048;
    const digest = options.prf === "sha1-absent" ? "sha1" : options.prf;
    key = pbkdf2Sync(password, salt, iterations, keyLength, digest);
    const params = new Pbkdf2Params();
    params.salt = arrayBuffer(salt);
    params.iterationCount = iterations;
    if (options.withKeyLength) params.keyLength = keyLength;
    if (options.prf !== "sha1-absent") {
      // RFC 8018 writes the HMAC PRF parameters as NULL, as OpenSSL does.
      params.prf = new AlgorithmIdentifier({ algorithm: PRF_OIDS[options.prf], parameters: new Uint8Array([5, 0]).buffer });
    }
    kdf = new AlgorithmIdentifier({ algorithm: PBES2_OIDS.pbkdf2, parameters: AsnConvert.serialize(params) });
  } else {
    const N = options.N ?? 16384;
    const r = options.r ?? 8;
    const p = options.p ?? 1;
    key = scryptSync(password, salt, keyLength, { N, r, p, maxmem: 256 * N * r + (64 << 20) });
    const params = new ScryptParams();
    params.salt = arrayBuffer(salt);
    params.costParameter = N;
    params.blockSize = r;
    params.parallelizationParameter = p;
    kdf = new AlgorithmIdentifier({ algorithm: PBES2_OIDS.scrypt, parameters: AsnConvert.serialize(params) });
  }
  const cipher = createCipheriv(options.cipher, key, iv); // PKCS#7 padding
  const ciphertext = Buffer.concat([cipher.update(privateKeyInfo), cipher.final()]);
  const pbes2 = new Pbes2Params();
  pbes2.keyDerivationFunc = kdf;
  pbes2.encryptionScheme = new AlgorithmIdentifier({
    algorithm: PBES2_OIDS[options.cipher],
    parameters: encodeOctetString(iv),
  });
  const info = new EncryptedPrivateKeyInfo({
    encryptionAlgorithm: new AlgorithmIdentifier({ algorithm: PBES2_OIDS.pbes2, parameters: AsnConvert.serialize(pbes2) }),
    encryptedData: new EncryptedData(ciphertext),
  });
  return Buffer.from(AsnConvert.serialize(info));
}

function encodeOctetString(bytes: Uint8Array): ArrayBuffer {
  return arrayBuffer(Buffer.concat([Buffer.from([0x04, bytes.length]), bytes]));
}

/** Every cipher × KDF combination the Go helper reads (anchor-go §3.3). */
export const PBES2_VARIANTS: ReadonlyArray<{ name: string; options: Pbes2Options }> = [
  { name: "PBKDF2 HMAC-SHA1 (PRF absent) + AES-128-CBC", options: { kdf: "pbkdf2", prf: "sha1-absent", cipher: "aes-128-cbc" } },
  { name: "PBKDF2 HMAC-SHA1 (explicit) + AES-192-CBC", options: { kdf: "pbkdf2", prf: "sha1", cipher: "aes-192-cbc" } },
  { name: "PBKDF2 HMAC-SHA256 + AES-256-CBC", options: { kdf: "pbkdf2", prf: "sha256", cipher: "aes-256-cbc" } },
  { name: "PBKDF2 HMAC-SHA384 + AES-128-CBC", options: { kdf: "pbkdf2", prf: "sha384", cipher: "aes-128-cbc" } },
  { name: "PBKDF2 HMAC-SHA512 + AES-192-CBC", options: { kdf: "pbkdf2", prf: "sha512", cipher: "aes-192-cbc" } },
  {
    name: "PBKDF2 HMAC-SHA256 with keyLength + AES-256-CBC",
    options: { kdf: "pbkdf2", prf: "sha256", cipher: "aes-256-cbc", withKeyLength: true },
  },
  { name: "scrypt (N=16384, r=8, p=1) + AES-256-CBC", options: { kdf: "scrypt", cipher: "aes-256-cbc" } },
];
