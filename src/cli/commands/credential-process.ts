import { goJsonStringify, toCredentialProcessOutput, type Credentials } from "../../credentials/credentials.js";
import type { CreateSessionParams } from "../../rolesanywhere/types.js";
import { stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import { CREDENTIAL_PROCESS_FLAGS } from "./credential-process-options.js";
import { clientOptionsFromArgs, sessionParamsFromArgs } from "../session-args.js";
import { signerOptionsFromArgs } from "../signer-args.js";

const command: CommandSpec = {
  ...CREDENTIAL_PROCESS_FLAGS,
  describe: "Print temporary credentials as credential_process JSON (for ~/.aws/config)",
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
