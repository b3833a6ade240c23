import type { KeyObject } from "node:crypto";
import type { Certificate, KeyType } from "../x509/certificate.js";
import type { DigestAlgorithm } from "../encoding/signature-encoding.js";

/** Hash used before an RSA/ECDSA signature (ignored by ML-DSA, which signs the message itself). */
export type { DigestAlgorithm };

/**
 * A private key that never leaves its home (a file, a PKCS#11 token, a TPM), with the certificate that
 * names it. Every back-end implements this; the SigV4-X509 core and the CreateSession client only see this.
 */
export interface Signer {
  /** What kind of key this is (`RSA`, `EC`, `ML-DSA-*`). */
  readonly keyType: KeyType;
  /** Which back-end holds the key: for messages and diagnostics. */
  readonly backend: "file" | "pkcs11" | "tpm";

  /**
   * The leaf certificate, or undefined when none was configured (allowed for sign-string only).
   * Back-ends may re-read it on each call so that a renewed certificate is picked up without a restart.
   */
  certificate(): Promise<Certificate | undefined>;

  /** Intermediate CA certificates to send as `X-Amz-X509-Chain` (leaf excluded), possibly empty. */
  certificateChain(): Promise<Certificate[]>;

  /** The public key, when the back-end can tell it (from the key itself or the certificate). */
  publicKey(): Promise<KeyObject | undefined>;

  /**
   * Signs `message`: RSA PKCS#1 v1.5 or ECDSA over digest(message), ML-DSA over the message itself.
   * ECDSA signatures are returned DER-encoded (SEQUENCE { r, s }) whatever the back-end produces.
   */
  sign(message: Uint8Array, digest?: DigestAlgorithm): Promise<Buffer>;

  /** Releases token sessions / TPM objects. Idempotent. */
  close(): Promise<void>;
}
