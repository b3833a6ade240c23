import { existsSync } from "node:fs";
import { defaultAgentSocketPath } from "../../agent/socket-path.js";
import { goJsonStringify, toCredentialProcessOutput } from "../../rolesanywhere/credentials.js";
import type { CliIo } from "../command.js";
import { reportError, wantsDebug } from "../report-error.js";

/** The only flags the fast path understands; any other flag sends the command line to the full CLI. */
const VALUE_FLAGS: ReadonlySet<string> = new Set(["profile", "config", "agent-socket"]);
const BOOLEAN_FLAGS: ReadonlySet<string> = new Set(["agent", "debug"]);

interface AgentRequest {
  readonly profile: string;
  readonly socket: string;
  readonly required: boolean;
}

/**
 * `credential-process --profile NAME [--agent] [--agent-socket PATH] [--config FILE]` answered by a running
 * agent, from the launcher, before the CLI bundle is even loaded: the line a `credential_process` setting
 * runs for every `aws` command, which must cost little more than starting Node. Resolves to undefined for
 * anything else (another command or flag, no agent socket, a profile the agent does not serve, a socket not
 * proved to be this user's without --agent); the full CLI then handles the command line from the start (and
 * says once why it does not use that socket).
 */
export async function answerFromAgent(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const request = agentRequestOf(argv, io.env);
  if (!request || (!request.required && !existsSync(request.socket))) return undefined;
  try {
    const { fetchFromAgent } = await import("../../agent/client.js");
    const credentials = await fetchFromAgent(request.socket, request.profile);
    if (!credentials) return undefined;
    io.stdout.write(goJsonStringify(toCredentialProcessOutput(credentials)));
    return 0;
  } catch (error) {
    if (!request.required && (error as { code?: unknown }).code === "SOCKET_UNSAFE") return undefined;
    return reportError(error, io, wantsDebug(argv));
  }
}

/** The agent request this command line makes, or undefined when it is not one the fast path can take. */
export function agentRequestOf(argv: readonly string[], env: NodeJS.ProcessEnv): AgentRequest | undefined {
  const [command, ...rest] = argv;
  if (command !== "credential-process") return undefined;
  const values = new Map<string, string>();
  let required = false;
  for (let i = 0; i < rest.length; i++) {
    const match = /^--?([a-z0-9-]+)(?:=(.*))?$/s.exec(rest[i]!);
    if (!match) return undefined;
    const [, name, inline] = match as unknown as [string, string, string | undefined];
    if (BOOLEAN_FLAGS.has(name)) {
      if (inline !== undefined && inline !== "true") return undefined;
      if (name === "agent") required = true;
    } else if (VALUE_FLAGS.has(name) && !values.has(name)) {
      const value = inline ?? rest[++i];
      if (value === undefined || value === "") return undefined;
      values.set(name, value);
    } else {
      return undefined;
    }
  }
  const profile = values.get("profile");
  if (!profile) return undefined;
  return { profile, socket: values.get("agent-socket") ?? defaultAgentSocketPath(env), required };
}
