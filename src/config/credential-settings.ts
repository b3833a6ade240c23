import { stringArg, type CliIo, type ParsedArgs } from "../cli/command.js";
import { clientOptionsFromArgs, sessionParamsFromArgs } from "../cli/session-args.js";
import { signerOptionsFromArgs } from "../cli/signer-args.js";
import { InputError } from "../errors.js";
import type { CreateSessionOptions, CreateSessionParams } from "../rolesanywhere/create-session.js";
import { prepareCreateSession } from "../rolesanywhere/signed-request.js";
import type { SignerOptions } from "../signers/options.js";

/** Everything needed to turn a key into credentials for one role. */
export interface CredentialSettings {
  readonly signer: SignerOptions;
  readonly session: CreateSessionParams;
  readonly endpoint: CreateSessionOptions;
}

const REQUIRED = ["trust-anchor-arn", "profile-arn", "role-arn"] as const;

/**
 * Builds the settings from parsed arguments (flags, possibly merged with a config profile), with the same
 * translation as `credential-process`. `origin` names where the values came from (e.g.
 * `profile "gateway" in /path/config.json`) so that a missing field is reported as a config error naming
 * the profile and field, rather than as a missing flag.
 */
export function credentialSettingsFromArgs(args: ParsedArgs, io: CliIo, origin?: string): CredentialSettings {
  if (origin) {
    for (const field of REQUIRED) {
      if (!stringArg(args, field)) {
        throw new InputError("CONFIG_INVALID", `${origin} has no "${field}"`, { hint: `add "${field}" to the profile or pass --${field}` });
      }
    }
    if (!stringArg(args, "certificate") && !stringArg(args, "private-key")) {
      throw new InputError("CONFIG_INVALID", `${origin} has neither "certificate" nor "private-key"`, {
        hint: 'add "certificate" (and "private-key" when the key is elsewhere) to the profile',
      });
    }
  }
  const session = sessionParamsFromArgs(args);
  const endpoint = clientOptionsFromArgs(args, io);
  // Region and endpoint mistakes are answered now, before any key, token or network is touched.
  prepareCreateSession(session, { ...endpoint, env: io.env });
  return { session, endpoint, signer: signerOptionsFromArgs(args, io) };
}

/** A stable text of the settings for change detection on reload (functions and the environment left out). */
export function settingsFingerprint(settings: CredentialSettings): string {
  return JSON.stringify(settings, (key, value: unknown) => (key === "env" || typeof value === "function" ? undefined : value));
}
