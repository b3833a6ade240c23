/** Temporary AWS credentials, as issued by CreateSession. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** The `credential_process` output format (key order matters for byte-for-byte compatibility). */
export interface CredentialProcessOutput {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
}

/** RFC 3339 without milliseconds, as the service and the Go helper print it (`2022-07-27T04:36:55Z`). */
export function formatExpiration(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function toCredentialProcessOutput(c: Credentials): CredentialProcessOutput {
  return {
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    SessionToken: c.sessionToken,
    Expiration: formatExpiration(c.expiration),
  };
}

/** Go's encoding/json escapes <, > and & (and U+2028/9); we match it so outputs are byte-identical. */
export function goJsonStringify(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}
