import { parseArn } from "../arn.js";
import { isAgentError, UsageError } from "../errors.js";
import type { RefreshEvent } from "../credentials/credential-cache.js";
import { createCredentialSource } from "../credentials/credential-source.js";
import { dropFailures } from "../debug-log.js";
import { credentialSettingsFromOptions, optionsOnce, type RolesAnywhereProviderOptions } from "./provider-options.js";

/**
 * Temporary AWS credentials as the AWS SDK for JavaScript v3 consumes them: a structural copy of `@smithy/types`'
 * `AwsCredentialIdentity`, so that this package depends on no part of the SDK.
 */
export interface AwsCredentialIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
  readonly accountId?: string;
}

/** How long before `expiration` the AWS SDK asks its provider again (`EXPIRATION_MS` of `@smithy/core`). */
const SDK_ASKS_AGAIN_MS = 5 * 60_000;

/** What `credentials:` accepts in an AWS SDK client (`AwsCredentialIdentityProvider`). */
export type AwsCredentialIdentityProvider = (identityProperties?: Record<string, unknown>) => Promise<AwsCredentialIdentity>;

/** Options of {@link fromRolesAnywhere}: the key and role, plus an optional refresh listener. */
export interface FromRolesAnywhereInit extends RolesAnywhereProviderOptions {
  /** Told about every CreateSession outcome (`refreshed`, `refresh-failed`), no credentials. Its errors are dropped. */
  readonly onRefresh?: (event: RefreshEvent) => void;
}

/** A credential provider that also holds an open key: call {@link close} when the clients are done with it. */
export interface RolesAnywhereCredentialProvider extends AwsCredentialIdentityProvider {
  /** Releases the key (PKCS#11 session, TPM objects) and stops refreshing; later calls are rejected. Idempotent. */
  close(): Promise<void>;
}

/**
 * Temporary AWS credentials from IAM Roles Anywhere, for the `credentials` option of any AWS SDK for JavaScript
 * v3 client (example: README.md, "In Node programs"). The key: a file, a PKCS#11 token object or a TPM 2.0 key.
 * Concurrent calls share one CreateSession; a due refresh runs in the background while the current credentials
 * are returned; no timer runs between calls. A wrong PIN or TPM password is never retried (the token would
 * lock). Option errors are thrown here; key and network errors come from the calls, as `AgentError`s with a
 * stable `code` and no secret in their messages. A hardware key stays open until {@link
 * RolesAnywhereCredentialProvider.close}.
 */
export function fromRolesAnywhere(given: FromRolesAnywhereInit): RolesAnywhereCredentialProvider {
  const init = optionsOnce(given); // each option read once, own properties only
  const settings = credentialSettingsFromOptions(init);
  const accountId = parseArn(settings.session.roleArn).accountId;
  const onRefresh = dropFailures(init.onRefresh);
  const onEvent = onRefresh && ((_name: string, event: RefreshEvent) => onRefresh(event));
  const source = createCredentialSource({ name: settings.session.roleArn, settings, onEvent });
  let closing: Promise<void> | undefined;

  // `provider({ forceRefresh: true })` (the SDK's MemoizedProvider convention) asks for a new CreateSession.
  const closed = () =>
    new UsageError("USAGE", "this fromRolesAnywhere credential provider has been closed", {
      hint: "create a new provider, or close it only when no client uses it any more",
    });
  const provider = async (identityProperties?: Record<string, unknown>): Promise<AwsCredentialIdentity> => {
    if (closing) throw closed();
    const { accessKeyId, secretAccessKey, sessionToken, expiration } = await source
      .get({ forceRefresh: identityProperties?.forceRefresh === true })
      .catch((error: unknown) => {
        // A call that close() cut short: the provider's own word, not the source's (a daemon's "ask again").
        throw closing && isAgentError(error) && error.code === "AGENT_UNAVAILABLE" ? closed() : error;
      });
    // Told the real expiry, the SDK would come back only 5 minutes before it (every device at once, with no time
    // left to retry): it is told the expiry that brings it back when the refresh is due, or at its next call.
    const due = Math.max(source.status().refreshAt?.getTime() ?? 0, Date.now()) + SDK_ASKS_AGAIN_MS;
    const expires = new Date(Math.min(expiration.getTime(), due));
    return { accessKeyId, secretAccessKey, sessionToken, expiration: expires, ...(accountId ? { accountId } : {}) };
  };
  return Object.assign(provider, { close: () => (closing ??= source.close()) });
}
