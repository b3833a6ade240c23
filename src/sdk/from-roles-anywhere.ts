import { parseArn } from "../arn.js";
import { UsageError } from "../errors.js";
import type { RefreshEvent } from "../credentials/credential-cache.js";
import { createCredentialSource } from "../credentials/credential-source.js";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "./identity.js";
import { credentialSettingsFromOptions, type RolesAnywhereProviderOptions } from "./provider-options.js";

/** Options of {@link fromRolesAnywhere}: the key and role, plus an optional refresh listener. */
export interface FromRolesAnywhereInit extends RolesAnywhereProviderOptions {
  /**
   * Told about every CreateSession outcome (`refreshed` with the new expiration, or `refresh-failed` with
   * the error and the next attempt), e.g. to log it. Never given the credentials. Must not throw.
   */
  readonly onRefresh?: (event: RefreshEvent) => void;
}

/** A credential provider that also holds an open key: call {@link close} when the clients are done with it. */
export interface RolesAnywhereCredentialProvider extends AwsCredentialIdentityProvider {
  /**
   * Releases the key (PKCS#11 session and login, TPM objects and connection) and stops refreshing. Calls
   * made afterwards are rejected. Idempotent; resolves once the signer is closed.
   */
  close(): Promise<void>;
}

/**
 * Temporary AWS credentials from IAM Roles Anywhere, for the `credentials` option of any AWS SDK for
 * JavaScript v3 client. The key may be a file, a PKCS#11 token object or a TPM 2.0 key, as with the CLI.
 *
 * Credentials are cached and shared: concurrent calls wait for one CreateSession; once a refresh is due
 * (about five minutes before expiry) a call returns the current credentials at once and refreshes in the
 * background; a failed refresh is tried again by a later call, no sooner than the backoff allows, while the
 * current credentials stay in use until they expire. No timer runs between calls. A wrong PIN or TPM
 * password is never retried (the token would lock): every later call gets the same error. Errors are
 * `AgentError`s with a stable `code`; their messages never contain a secret.
 *
 * Option errors (ARNs, regions, endpoint URL, duration, no key) are thrown here; key and network errors
 * come from the calls. A hardware key is opened on the first call and stays open until {@link
 * RolesAnywhereCredentialProvider.close}.
 *
 * @example
 * ```js
 * import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
 * import { fromRolesAnywhere } from "roles-anywhere-agent";
 *
 * const credentials = fromRolesAnywhere({
 *   certificate: "pkcs11:token=device;object=device-key",
 *   pkcs11: { pin: { kind: "file", path: "/etc/device/pin" } },
 *   trustAnchorArn: "arn:aws:rolesanywhere:eu-west-1:111122223333:trust-anchor/TA_ID",
 *   profileArn: "arn:aws:rolesanywhere:eu-west-1:111122223333:profile/PROFILE_ID",
 *   roleArn: "arn:aws:iam::111122223333:role/DeviceRole",
 * });
 * const sts = new STSClient({ region: "eu-west-1", credentials });
 * console.log((await sts.send(new GetCallerIdentityCommand({}))).Arn);
 * await credentials.close();
 * ```
 */
export function fromRolesAnywhere(init: FromRolesAnywhereInit): RolesAnywhereCredentialProvider {
  const settings = credentialSettingsFromOptions(init);
  const accountId = parseArn(settings.session.roleArn).accountId;
  const onRefresh = init.onRefresh;
  const source = createCredentialSource({
    name: settings.session.roleArn,
    settings,
    ...(onRefresh ? { onEvent: (_name: string, event: RefreshEvent) => onRefresh(event) } : {}),
  });
  let closing: Promise<void> | undefined;

  const provider = async (): Promise<AwsCredentialIdentity> => {
    if (closing) throw closedError();
    const c = await source.get();
    return {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken,
      expiration: new Date(c.expiration.getTime()),
      ...(accountId ? { accountId } : {}),
    };
  };
  return Object.assign(provider, {
    close: () => (closing ??= source.close()),
  });
}

function closedError(): UsageError {
  return new UsageError("USAGE", "this fromRolesAnywhere credential provider has been closed", {
    hint: "create a new provider, or close it only when no client uses it any more",
  });
}
