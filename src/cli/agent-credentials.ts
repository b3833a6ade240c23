import { existsSync } from "node:fs";
import type { AgentSelector } from "../agent/client.js";
import { defaultAgentSocketPath } from "../agent/socket-path.js";
import type { Credentials } from "../rolesanywhere/credentials.js";
import { InputError, isAgentError } from "../errors.js";
import type { CreateSessionParams } from "../rolesanywhere/types.js";
import { boolArg, stringArg, type CliIo, type ParsedArgs } from "./command.js";
import { PROGRAM } from "./report-error.js";

/** Flags that, next to --profile, change the role asked for: the agent is then asked by ARNs, not by name. */
const ROLE_FLAGS = ["trust-anchor-arn", "profile-arn", "role-arn", "role-session-name"] as const;

/** Whether the user asks for config profile `profile` exactly as it is (no role flag overrides it). */
export function asksForProfileAsIs(args: ParsedArgs, profile: string | undefined): profile is string {
  return profile !== undefined && !ROLE_FLAGS.some((flag) => args.explicit.has(flag));
}

/** The role of a CreateSession call, as the agent matches it against its profiles. */
export function roleSelector(params: CreateSessionParams): AgentSelector {
  return { trustAnchorArn: params.trustAnchorArn, profileArn: params.profileArn, roleArn: params.roleArn, roleSessionName: params.roleSessionName };
}

/**
 * The running agent's cached credentials for `selector`, or undefined to sign directly: with --no-agent,
 * when no agent socket exists (unless --agent requires one), or when the agent has no matching profile.
 * A socket that is not proved to be served by this user (SOCKET_UNSAFE: squatted, planted, swapped) never
 * stops signing directly: one warning line, then the caller signs; only --agent makes it an error.
 */
export async function credentialsFromAgent(args: ParsedArgs, selector: AgentSelector, io: CliIo): Promise<Credentials | undefined> {
  if (boolArg(args, "no-agent")) return undefined;
  const required = boolArg(args, "agent");
  const socket = stringArg(args, "agent-socket") ?? defaultAgentSocketPath(io.env);
  if (!required && !existsSync(socket)) return undefined;
  const { fetchFromAgent } = await import("../agent/client.js");
  let credentials: Credentials | undefined;
  try {
    credentials = await fetchFromAgent(socket, selector);
  } catch (error) {
    if (required || !isAgentError(error) || error.code !== "SOCKET_UNSAFE") throw error;
    io.stderr.write(`${PROGRAM}: warning: ${error.message}; signing directly instead\n`);
    return undefined;
  }
  if (!credentials && required) {
    throw new InputError("AGENT_UNAVAILABLE", `no agent at ${socket} serves this role`, {
      hint: "start it with 'roles-anywhere-agent agent', or drop --agent to sign directly",
    });
  }
  return credentials;
}
