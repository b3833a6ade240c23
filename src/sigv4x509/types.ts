import type { KeyType } from "../x509/certificate.js";

/** An HTTP request as the SigV4-X509 core sees it: no I/O, just the parts that are signed. */
export interface HttpRequestToSign {
  readonly method: string;
  /** The path exactly as sent on the wire (e.g. `/sessions`). */
  readonly path: string;
  /** Decoded query parameters, in any order (repeats allowed). */
  readonly query: ReadonlyArray<readonly [string, string]>;
  /** Header names in any case; a repeated header is an array of its values. Must include `host`. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: Uint8Array | string;
}

/** A function that signs bytes with the X.509 key (RSA/ECDSA over SHA-256, ML-DSA over the bytes). */
export type SignFunction = (stringToSign: Uint8Array) => Promise<Uint8Array>;

/** The SigV4-X509 algorithm names the service accepts. */
export type SigningAlgorithm = "AWS4-X509-RSA-SHA256" | "AWS4-X509-ECDSA-SHA256" | "AWS4-X509-MLDSA";

export function signingAlgorithmFor(keyType: KeyType): SigningAlgorithm {
  return keyType === "RSA" ? "AWS4-X509-RSA-SHA256" : keyType === "EC" ? "AWS4-X509-ECDSA-SHA256" : "AWS4-X509-MLDSA";
}
