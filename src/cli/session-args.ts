import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../arn.js";
import { UsageError } from "../errors.js";
import type { CreateSessionOptions, CreateSessionParams } from "../rolesanywhere/create-session.js";
import { boolArg, numberArg, stringArg, type CliIo, type ParsedArgs } from "./command.js";
import { debugLogger } from "./signer-args.js";

const MISSING_HINT = "give --trust-anchor-arn, --profile-arn and --role-arn (or --profile NAME with a config file)";

/** Validates the ARNs and duration before any key or token is touched, so a typo never costs a PIN prompt. */
export function sessionParamsFromArgs(args: ParsedArgs): CreateSessionParams {
  const trustAnchor = stringArg(args, "trust-anchor-arn");
  const profile = stringArg(args, "profile-arn");
  const role = stringArg(args, "role-arn");
  for (const [flag, value] of [["trust-anchor-arn", trustAnchor], ["profile-arn", profile], ["role-arn", role]] as const) {
    if (!value) throw new UsageError("USAGE", `--${flag} is required`, { hint: MISSING_HINT });
  }
  const duration = numberArg(args, "session-duration") ?? 3600;
  if (duration < 900 || duration > 43200) {
    throw new UsageError("USAGE", `--session-duration ${duration} is out of range: Roles Anywhere accepts 900 to 43200 seconds`);
  }
  const sessionName = stringArg(args, "role-session-name");
  const region = stringArg(args, "region");
  return {
    trustAnchorArn: parseTrustAnchorArn(trustAnchor!),
    profileArn: parseProfileArn(profile!),
    roleArn: parseRoleArn(role!),
    durationSeconds: duration,
    ...(sessionName ? { roleSessionName: sessionName } : {}),
    ...(region ? { region } : {}),
  };
}

export function clientOptionsFromArgs(args: ParsedArgs, io: CliIo): CreateSessionOptions {
  const endpoint = stringArg(args, "endpoint");
  const caBundle = stringArg(args, "ca-bundle");
  const seconds = (name: string) => {
    const v = numberArg(args, name);
    if (v !== undefined && v <= 0) throw new UsageError("USAGE", `--${name} must be a positive number of seconds`);
    return v;
  };
  const connect = seconds("connect-timeout");
  const total = seconds("timeout");
  const attempts = numberArg(args, "max-attempts");
  if (attempts !== undefined && (attempts < 1 || attempts > 10)) throw new UsageError("USAGE", "--max-attempts must be between 1 and 10");
  const debug = debugLogger(args, io);
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(caBundle ? { caBundle } : {}),
    ...(boolArg(args, "use-fips-endpoint") ? { useFipsEndpoint: true } : {}),
    ...(boolArg(args, "no-verify-ssl") ? { verifyTls: false } : {}),
    ...(connect !== undefined ? { connectTimeoutMs: connect * 1000 } : {}),
    ...(total !== undefined ? { timeoutMs: total * 1000 } : {}),
    ...(args.explicit.has("max-attempts") && attempts !== undefined ? { maxAttempts: attempts } : {}),
    ...(debug ? { debug } : {}),
    env: io.env,
  };
}
