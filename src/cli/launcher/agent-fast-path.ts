import { resolve } from "node:path";
import { credentialsFromAgent } from "../../agent/client.js";
import { checkSocketPathName, defaultAgentSocketPath } from "../../agent/socket-path.js";
import { escapeControls, printableLine, type AgentError } from "../../errors.js";
import { goJsonStringify, toCredentialProcessOutput } from "../../rolesanywhere/credentials.js";
import { boolArg, stringArg, type ParsedArgs } from "../command.js";
import { FdOutput } from "../fd-output.js";
import { AGENT_BY_NAME_FLAGS, CREDENTIAL_PROCESS_FLAGS } from "../commands/credential-process-options.js";
import { parseCommandArgs } from "../parse-args.js";
import { PROGRAM, reportError, wantsDebug } from "../report-error.js";

/**
 * `credential-process --profile NAME [--agent] [--agent-socket PATH] [--config FILE]` answered by a running
 * agent, from the launcher, before the CLI bundle is even loaded: the line a `credential_process` setting
 * runs for every `aws` command, which must cost little more than starting Node. Prints and exits (this is
 * dist/agent-fast-path.cjs's entry), or returns for anything else (another command or flag, no agent socket,
 * a profile the agent does not serve, a socket not proved to be this user's without --agent); the full CLI
 * then handles the command line from the start. With --agent and --agent-socket, a missing answer is reported here.
 * Returns true when the agent did not take the request (stopped) and --agent is not given: said here, and the full
 * CLI must not wait again.
 */
export async function answerFromAgentAndExit(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<boolean> {
  const [stdout, stderr] = [new FdOutput(1), new FdOutput(2)];
  let code = 0;
  try {
    const request = agentRequestOf(argv, env);
    // An unsafe socket is passed over in silence: the full CLI says once why it does not use it.
    let stalled: AgentError | undefined;
    const selector = request?.config === undefined ? request?.profile : { profile: request.profile, config: request.config };
    const credentials = request && (await credentialsFromAgent(request, selector!, (e) => (stalled = e.code === "SOCKET_UNSAFE" ? undefined : e)));
    // With --agent the full CLI must not sign directly: it asks again, and says what came of it.
    if (stalled && request?.agent) return false;
    if (stalled) {
      stderr.write(`${PROGRAM}: warning: ${printableLine(stalled.message)}; signing directly instead\n`);
      await stderr.flush();
      return true;
    }
    if (!credentials) return false; // the full CLI asks again, and says with --debug what came of it
    if (wantsDebug(argv, CREDENTIAL_PROCESS_FLAGS)) stderr.write(`debug: agent: credentials from the agent at ${escapeControls(request.socket)}\n`);
    stdout.write(goJsonStringify(toCredentialProcessOutput(credentials)));
  } catch (error) {
    code = reportError(error, { stdout, stderr, env }, wantsDebug(argv, CREDENTIAL_PROCESS_FLAGS));
  }
  await Promise.all([stdout.flush(), stderr.flush()]);
  process.exit(code);
}

/**
 * The agent request this command line makes, read with credential-process's own flags (credential-process-options.ts
 * says why), or undefined when the fast path cannot take it; a line the parser refuses goes to the full CLI.
 */
export function agentRequestOf(argv: readonly string[], env: NodeJS.ProcessEnv) {
  const [command, ...rest] = argv;
  if (command !== CREDENTIAL_PROCESS_FLAGS.name) return undefined;
  let args: ParsedArgs;
  let socket: string;
  try {
    args = parseCommandArgs(CREDENTIAL_PROCESS_FLAGS, rest);
    const named = stringArg(args, "agent-socket");
    if (named !== undefined) checkSocketPathName(named);
    // The default's errors (a relative ROLES_ANYWHERE_AGENT_SOCKET, no usable HOME) are the full CLI's to say.
    socket = named ?? defaultAgentSocketPath(env);
  } catch {
    return undefined;
  }
  if (args.positionals.length > 0 || [...args.explicit].some((name) => !AGENT_BY_NAME_FLAGS.has(name))) return undefined;
  // --agent=false reads as "the agent if it runs", which the full CLI says more about (why a socket is not used).
  if (args.explicit.has("agent") && !boolArg(args, "agent")) return undefined;
  const profile = stringArg(args, "profile");
  if (!profile) return undefined;
  // Without --agent-socket, no answer here is the full CLI's to report: the config (not read here) may name the socket.
  const agent = boolArg(args, "agent");
  const config = stringArg(args, "config");
  const required = agent && stringArg(args, "agent-socket") !== undefined;
  return { profile, socket, agent, required, env, ...(config !== undefined && { config: resolve(config) }) };
}
