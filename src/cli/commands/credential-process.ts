import { existsSync } from "node:fs";
import { goJsonStringify, toCredentialProcessOutput, type Credentials } from "../../credentials/credentials.js";
import { InputError } from "../../errors.js";
import type { CreateSessionParams } from "../../rolesanywhere/types.js";
import { boolArg, stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import { clientOptionsFromArgs, sessionParamsFromArgs } from "../session-args.js";
import { CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS } from "../shared-options.js";
import { signerOptionsFromArgs } from "../signer-args.js";

const command: CommandSpec = {
  name: "credential-process",
  describe: "Print temporary credentials as credential_process JSON (for ~/.aws/config)",
  options: [
    ...SIGNER_OPTIONS,
    ...SESSION_OPTIONS,
    { name: "profile", type: "string", description: "Take settings from this profile of the config file (flags win)" },
    { name: "config", type: "string", description: "Config file (default: $XDG_CONFIG_HOME/roles-anywhere-agent/config.json)" },
    { name: "agent", type: "boolean", description: "Require the running agent's cached credentials (without it, the agent is used when its socket exists)" },
    { name: "no-agent", type: "boolean", description: "Never ask the agent; always sign a new CreateSession" },
    { name: "agent-socket", type: "string", description: "Agent socket (default: $XDG_RUNTIME_DIR/roles-anywhere-agent.sock)" },
  ],
  conflicts: [...CREDENTIAL_CONFLICTS, ["agent", "no-agent"]],
  async run(rawArgs, io) {
    const profile = stringArg(rawArgs, "profile");
    const args = profile ? await withProfile(rawArgs, profile, io) : rawArgs;
    const params = sessionParamsFromArgs(args);
    const cached = await credentialsFromAgent(args, params, profile, io);
    const credentials = cached ?? (await createNewSession(args, params, io));
    // No trailing newline, exactly like aws_signing_helper.
    io.stdout.write(goJsonStringify(toCredentialProcessOutput(credentials)));
    return 0;
  },
};
export default command;

async function withProfile(args: ParsedArgs, profile: string, io: CliIo): Promise<ParsedArgs> {
  const { applyConfigProfile } = await import("../../config/resolve-profile.js");
  return applyConfigProfile(args, profile, { configPath: stringArg(args, "config"), env: io.env });
}

/** The agent's cached credentials for this role, or undefined to sign directly. */
async function credentialsFromAgent(args: ParsedArgs, params: CreateSessionParams, profile: string | undefined, io: CliIo): Promise<Credentials | undefined> {
  if (boolArg(args, "no-agent")) return undefined;
  const required = boolArg(args, "agent");
  const { defaultAgentSocketPath } = await import("../../agent/socket-path.js");
  const socket = stringArg(args, "agent-socket") ?? defaultAgentSocketPath(io.env);
  if (!required && !existsSync(socket)) return undefined;
  const { fetchFromAgent } = await import("../../agent/client.js");
  const selector = profile ?? {
    trustAnchorArn: params.trustAnchorArn,
    profileArn: params.profileArn,
    roleArn: params.roleArn,
    roleSessionName: params.roleSessionName,
  };
  const credentials = await fetchFromAgent(socket, selector);
  if (!credentials && required) {
    throw new InputError("AGENT_UNAVAILABLE", `no agent at ${socket} serves this role`, {
      hint: "start it with 'roles-anywhere-agent agent', or drop --agent to sign directly",
    });
  }
  return credentials;
}

async function createNewSession(args: ParsedArgs, params: CreateSessionParams, io: CliIo): Promise<Credentials> {
  const clientOptions = clientOptionsFromArgs(args, io);
  const signerOptions = signerOptionsFromArgs(args, io);
  const [{ createSigner }, { createSession }] = await Promise.all([
    import("../../signers/factory.js"),
    import("../../rolesanywhere/create-session.js"),
  ]);
  const signer = await createSigner(signerOptions);
  try {
    return (await createSession(signer, params, clientOptions)).credentials;
  } finally {
    await signer.close();
  }
}
