import { goJsonStringify, toCredentialProcessOutput, type Credentials } from "../../credentials/credentials.js";
import type { CreateSessionParams } from "../../rolesanywhere/types.js";
import { stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import { CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS } from "../shared-options.js";
import { clientOptionsFromArgs, sessionParamsFromArgs } from "../session-args.js";
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
    const { asksForProfileAsIs, credentialsFromAgent, roleSelector, withProfile } = await import("../agent-credentials.js");
    const profile = stringArg(rawArgs, "profile");
    // A profile used as it is goes to the agent by name before the config file is even read: this is the
    // call every `aws` command makes, so it must cost little more than starting Node.
    const byName = asksForProfileAsIs(rawArgs, profile) ? profile : undefined;
    let credentials = byName ? await credentialsFromAgent(rawArgs, byName, io) : undefined;
    if (!credentials) {
      const args = profile ? await withProfile(rawArgs, profile, io) : rawArgs;
      const params = sessionParamsFromArgs(args);
      if (!byName) credentials = await credentialsFromAgent(args, roleSelector(params), io);
      credentials ??= await createNewSession(args, params, io);
    }
    // No trailing newline, exactly like aws_signing_helper.
    io.stdout.write(goJsonStringify(toCredentialProcessOutput(credentials)));
    return 0;
  },
};
export default command;

async function createNewSession(args: ParsedArgs, params: CreateSessionParams, io: CliIo): Promise<Credentials> {
  const clientOptions = clientOptionsFromArgs(args, io);
  const signerOptions = signerOptionsFromArgs(args, io);
  const [{ createSigner }, { createSession }, { prepareCreateSession }] = await Promise.all([
    import("../../signers/factory.js"),
    import("../../rolesanywhere/create-session.js"),
    import("../../rolesanywhere/signed-request.js"),
  ]);
  // Region and endpoint mistakes are answered before a PIN or TPM password is asked for.
  prepareCreateSession(params, { ...clientOptions, env: io.env });
  const signer = await createSigner(signerOptions);
  try {
    return (await createSession(signer, params, clientOptions)).credentials;
  } finally {
    await signer.close();
  }
}
