import type { DigestAlgorithm } from "../../signer.js";

/** DER DigestInfo prefixes (RFC 8017 §9.2 note 1). */
const DIGEST_INFO_PREFIX: Readonly<Record<DigestAlgorithm, Buffer>> = {
  SHA256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  SHA384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  SHA512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};

/**
 * EMSA-PKCS1-v1_5 (RFC 8017 §9.2): 00 01 FF…FF 00 ‖ DigestInfo ‖ H, modulus-sized. Raw RSA decryption of
 * this block with the private key is exactly an RSASSA-PKCS1-v1_5 signature — how decrypt-only TPM RSA
 * keys (openssl_tpm2_engine's default) sign.
 */
export function emsaPkcs1v15(digest: Buffer, algorithm: DigestAlgorithm, modulusBytes: number): Buffer {
  const t = Buffer.concat([DIGEST_INFO_PREFIX[algorithm], digest]);
  const padding = modulusBytes - t.length - 3;
  if (padding < 8) throw new RangeError(`a ${modulusBytes * 8}-bit RSA key is too small for ${algorithm}`);
  return Buffer.concat([Buffer.from([0x00, 0x01]), Buffer.alloc(padding, 0xff), Buffer.from([0x00]), t]);
}
