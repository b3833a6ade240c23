import { goJsonStringify, toCredentialProcessOutput, type Credentials } from "../../rolesanywhere/credentials.js";
import type { CredentialSettings } from "../../settings/credential-settings.js";
import { stringArg, type CommandSpec } from "../command.js";
import { CREDENTIAL_PROCESS_FLAGS } from "./credential-process-options.js";
import { settingsFromArgs, withSigner } from "../settings-args.js";

const command: CommandSpec = {
  ...CREDENTIAL_PROCESS_FLAGS,
  describe: "Print temporary credentials as credential_process JSON (for ~/.aws/config)",
  async run(args, io) {
    const { asksForProfileAsIs, credentialsFromAgent, roleSelector } = await import("../agent-credentials.js");
    const profile = stringArg(args, "profile");
    // A profile used as it is goes to the agent by name before the config file is even read: this is the
    // call every `aws` command makes, so it must cost little more than starting Node.
    const byName = asksForProfileAsIs(args, profile) ? profile : undefined;
    let credentials = byName ? await credentialsFromAgent(args, byName, io) : undefined;
    if (!credentials) {
      // Every check that needs no key comes first: a wrong setting never costs a PIN, a password or a TPM authorisation.
      const [settings] = await settingsFromArgs(args, io, profile ? [profile] : []);
      if (!byName) credentials = await credentialsFromAgent(args, roleSelector(settings!.session), io);
      credentials ??= await createNewSession(settings!);
    }
    // No trailing newline, exactly like aws_signing_helper.
    io.stdout.write(goJsonStringify(toCredentialProcessOutput(credentials)));
    return 0;
  },
};
export default command;

async function createNewSession(settings: CredentialSettings): Promise<Credentials> {
  const { createSession } = await import("../../rolesanywhere/create-session.js");
  return withSigner(settings.signer, async (signer) => (await createSession(signer, settings.session, settings.endpoint)).credentials);
}
