/**
 * Structural copies of `AwsCredentialIdentity` and `AwsCredentialIdentityProvider` from `@smithy/types`, so
 * that this package has no runtime or type dependency on the AWS SDK while its providers stay assignable to
 * the `credentials` option of every `@aws-sdk/client-*` client.
 */

/** Temporary AWS credentials as the AWS SDK for JavaScript v3 consumes them. */
export interface AwsCredentialIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When the credentials stop working; the SDK asks the provider again a few minutes before. */
  readonly expiration?: Date;
  /** The account the credentials belong to (used by account-based endpoints). */
  readonly accountId?: string;
}

/** What `credentials:` accepts in an AWS SDK client: called whenever the SDK needs (fresh) credentials. */
export type AwsCredentialIdentityProvider = (identityProperties?: Record<string, unknown>) => Promise<AwsCredentialIdentity>;
