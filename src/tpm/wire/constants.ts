/** TPM 2.0 constants used by this client, with the spec's names (TCG TPM 2.0 Library, Part 2). */
import type { CurveName } from "../../encoding/signature-encoding.js";

export const TPM_ST = {
  RSP_COMMAND: 0x00c4,
  NO_SESSIONS: 0x8001,
  SESSIONS: 0x8002,
  CREATION: 0x8021,
  HASHCHECK: 0x8024,
} as const;

export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  MGF1: 0x0007,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CFB: 0x0043,
} as const;

export const TPM_ECC = {
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
} as const;

export const TPM_RH = {
  OWNER: 0x40000001,
  NULL: 0x40000007,
  PW: 0x40000009,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
} as const;

/** Handle type = most significant octet. */
export const TPM_HT = {
  HMAC_SESSION: 0x02,
  TRANSIENT: 0x80,
  PERSISTENT: 0x81,
} as const;

export function handleType(handle: number): number {
  return handle >>> 24;
}

export const TPMA_OBJECT = {
  fixedTPM: 0x00000002,
  fixedParent: 0x00000010,
  sensitiveDataOrigin: 0x00000020,
  userWithAuth: 0x00000040,
  adminWithPolicy: 0x00000080,
  noDA: 0x00000400,
  restricted: 0x00010000,
  decrypt: 0x00020000,
  sign: 0x00040000,
} as const;

export const TPMA_SESSION = {
  continueSession: 0x01,
  decrypt: 0x20,
  encrypt: 0x40,
} as const;

export const TPM_SE = { HMAC: 0x00, POLICY: 0x01 } as const;
export const TPM_SU = { CLEAR: 0x0000 } as const;

export const TPM_CAP = { ALGS: 0, HANDLES: 1, TPM_PROPERTIES: 6 } as const;

export const TPM_PT = {
  LOCKOUT_COUNTER: 0x20e,
  MAX_AUTH_FAIL: 0x20f,
  LOCKOUT_INTERVAL: 0x210,
} as const;

/** Hash algorithms we use, with their node:crypto name and digest size. */
const HASHES: Readonly<Record<number, { name: string; size: number }>> = {
  [TPM_ALG.SHA1]: { name: "sha1", size: 20 },
  [TPM_ALG.SHA256]: { name: "sha256", size: 32 },
  [TPM_ALG.SHA384]: { name: "sha384", size: 48 },
  [TPM_ALG.SHA512]: { name: "sha512", size: 64 },
};

export function isTpmHashAlg(alg: number): boolean {
  return alg in HASHES;
}

export function hashInfo(alg: number): { name: string; size: number } {
  const info = HASHES[alg];
  if (!info) throw new RangeError(`unsupported hash algorithm 0x${alg.toString(16).padStart(4, "0")}`);
  return info;
}

/** ECC curves we use, by their NIST names (their sizes and OpenSSL names: NAMED_CURVES). */
export const ECC_CURVES: Readonly<Record<number, CurveName>> = {
  [TPM_ECC.NIST_P256]: "P-256",
  [TPM_ECC.NIST_P384]: "P-384",
  [TPM_ECC.NIST_P521]: "P-521",
};

export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
}
