import { credentialsFromAgent, type AgentSelector } from "../../agent/client.js";
import { configAgentSocket } from "../../agent/socket-path.js";
import { printableLine } from "../../errors.js";
import { goJsonStringify, toCredentialProcessOutput, type Credentials } from "../../rolesanywhere/credentials.js";
import type { CredentialSettings } from "../../settings/credential-settings.js";
import { boolArg, stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import { PROGRAM } from "../report-error.js";
import { debugLogger, settingsFromArgs, withSigner } from "../settings-args.js";
import { CREDENTIAL_PROCESS_FLAGS } from "./credential-process-options.js";

/** Flags that, next to --profile, change the role asked for: the agent is then asked by ARNs, not by name. */
const ROLE_FLAGS = ["trust-anchor-arn", "profile-arn", "role-arn", "role-session-name"] as const;

const command: CommandSpec = {
  ...CREDENTIAL_PROCESS_FLAGS,
  describe: "Print temporary credentials as credential_process JSON (for ~/.aws/config)",
  async run(args, io) {
    const profile = stringArg(args, "profile");
    // A profile used as it is goes to the agent by name before the config file is even read.
    const byName = profile !== undefined && !ROLE_FLAGS.some((flag) => args.explicit.has(flag)) ? profile : undefined;
    // Read once, when the agent at the default socket did not answer (or first, to ask by ARNs): with the config's
    // agent.socket when the config's agent serves this profile, asked next (an agent configured elsewhere).
    let read: Promise<[CredentialSettings, string | undefined]> | undefined;
    const settingsOnce = () => (read ??= readSettings(args, io, profile));
    let credentials = byName ? await askAgent(args, byName, io, settingsOnce) : undefined;
    if (!credentials) {
      // Every check that needs no key comes first: a wrong setting never costs a PIN, a password or a TPM authorisation.
      const [settings] = await settingsOnce();
      if (!byName) credentials = await askAgent(args, settings.session, io, settingsOnce);
      credentials ??= await createNewSession(settings);
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

async function readSettings(args: ParsedArgs, io: CliIo, profile: string | undefined): Promise<[CredentialSettings, string | undefined]> {
  let socket: string | undefined;
  const [settings] = await settingsFromArgs(args, io, profile ? [profile] : [], (config) => (socket = configAgentSocket(config, profile!)));
  return [settings!, socket];
}

async function askAgent(
  args: ParsedArgs,
  selector: AgentSelector,
  io: CliIo,
  settings: () => Promise<[CredentialSettings, string | undefined]>,
): Promise<Credentials | undefined> {
  if (boolArg(args, "no-agent")) return undefined;
  const configSocket = async () => (await settings())[1];
  const ask = { socket: stringArg(args, "agent-socket"), configSocket, required: boolArg(args, "agent"), env: io.env, debug: debugLogger(args, io) };
  return credentialsFromAgent(ask, selector, (error) => {
    io.stderr.write(`${PROGRAM}: warning: ${printableLine(error.message)}; signing directly instead\n`);
  });
}
