import { goJsonStringify, toCredentialProcessOutput, type Credentials } from "../../credentials/credentials.js";
import type { CreateSessionParams } from "../../rolesanywhere/types.js";
import { stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import { CREDENTIAL_PROCESS_CONFLICTS, CREDENTIAL_PROCESS_OPTIONS } from "../credential-process-options.js";
import { clientOptionsFromArgs, sessionParamsFromArgs } from "../session-args.js";
import { signerOptionsFromArgs } from "../signer-args.js";

const command: CommandSpec = {
  name: "credential-process",
  describe: "Print temporary credentials as credential_process JSON (for ~/.aws/config)",
  options: CREDENTIAL_PROCESS_OPTIONS,
  conflicts: CREDENTIAL_PROCESS_CONFLICTS,
  async run(rawArgs, io) {
    const { agentSelector, credentialsFromAgent, withProfile } = await import("../agent-credentials.js");
    const profile = stringArg(rawArgs, "profile");
    const args = profile ? await withProfile(rawArgs, profile, io) : rawArgs;
    const params = sessionParamsFromArgs(args);
    const cached = await credentialsFromAgent(args, agentSelector(args, params, profile), io);
    const credentials = cached ?? (await createNewSession(args, params, io));
    // No trailing newline, exactly like aws_signing_helper.
    io.stdout.write(goJsonStringify(toCredentialProcessOutput(credentials)));
    return 0;
  },
};
export default command;

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
