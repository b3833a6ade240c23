import { resolve } from "node:path";
import { credentialsFromAgent, type AgentSelector } from "../../agent/client.js";
import { hasRequestConditions, requestConditions } from "../../agent/request-conditions.js";
import { configAgentSocket } from "../../agent/socket-path.js";
import { InputError, printableLine } from "../../errors.js";
import { goJsonStringify, toCredentialProcessOutput, type Credentials } from "../../rolesanywhere/credentials.js";
import type { CredentialSettings } from "../../settings/credential-settings.js";
import { boolArg, stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import { PROGRAM } from "../report-error.js";
import { debugLogger, settingsFromArgs, wipeHeld, withSigner } from "../settings-args.js";
import { AGENT_BY_NAME_FLAGS, CREDENTIAL_PROCESS_FLAGS } from "./credential-process-options.js";


const command: CommandSpec = {
  ...CREDENTIAL_PROCESS_FLAGS,
  describe: "Print temporary credentials as credential_process JSON (for ~/.aws/config)",
  async run(args, io) {
    const profile = stringArg(args, "profile");
    // A profile used as it is goes to the agent by name before the config file is even read; any other flag may ask
    // for something else (another certificate, duration, endpoint, role), so the agent is asked by what the line asks.
    const byName = profile !== undefined && [...args.explicit].every((flag) => AGENT_BY_NAME_FLAGS.has(flag)) ? profile : undefined;
    const config = stringArg(args, "config");
    // Read once, when the agent at the default socket did not answer (or first, to ask by ARNs): with the config's
    // agent.socket when the config's agent serves this profile, asked next (an agent configured elsewhere).
    let read: Promise<[CredentialSettings, string | undefined]> | undefined;
    const settingsOnce = () => (read ??= readSettings(args, io, profile));
    const named = byName && config !== undefined ? { profile: byName, config: resolve(config) } : byName;
    try {
      let credentials = named ? await askAgent(args, named, io, settingsOnce) : undefined;
      if (!credentials) {
        // Every check that needs no key comes first: a wrong setting never costs a PIN, a password or a TPM authorisation.
        const [settings] = await settingsOnce();
        if (!byName) credentials = await askAgent(args, askedFor(settings, args), io, settingsOnce);
        credentials ??= await createNewSession(settings);
      }
      // No trailing newline, exactly like aws_signing_helper.
      io.stdout.write(goJsonStringify(toCredentialProcessOutput(credentials)));
      return 0;
    } finally {
      const [settings] = (await read?.catch(() => undefined)) ?? []; // the agent answered, or asking it failed: no signer wiped them
      if (settings) wipeHeld(settings.signer);
    }
  },
};
export default command;

async function createNewSession(settings: CredentialSettings): Promise<Credentials> {
  const { createSession } = await import("../../rolesanywhere/create-session.js");
  return withSigner(settings.signer, async (signer) => (await createSession(signer, settings.session, settings.endpoint)).credentials);
}

/**
 * The role and the conditions the agent's profile must meet; a key or certificate read by this process alone meets none.
 * Normalised only when there is a socket to ask (credentialsFromAgent): the paths resolved and the endpoint prepared once
 * more cost every cold call without an agent ~0.5 M instructions.
 */
function askedFor(settings: CredentialSettings, args: ParsedArgs): (() => AgentSelector) | undefined {
  if (hasRequestConditions(settings)) return () => ({ ...settings.session, conditions: requestConditions(settings) });
  if (!boolArg(args, "agent")) return undefined;
  throw new InputError("AGENT_UNAVAILABLE", "the agent cannot be asked for a certificate or key read from standard input or env:", {
    hint: "name the files the agent's profile uses, or drop --agent to sign directly",
  });
}

async function readSettings(args: ParsedArgs, io: CliIo, profile: string | undefined): Promise<[CredentialSettings, string | undefined]> {
  let socket: string | undefined;
  const [settings] = await settingsFromArgs(args, io, profile ? [profile] : [], (config) => (socket = configAgentSocket(config, profile!)));
  return [settings!, socket];
}

async function askAgent(
  args: ParsedArgs,
  selector: AgentSelector | (() => AgentSelector) | undefined,
  io: CliIo,
  settings: () => Promise<[CredentialSettings, string | undefined]>,
): Promise<Credentials | undefined> {
  if (boolArg(args, "no-agent") || selector === undefined) return undefined;
  const configSocket = async () => (await settings())[1];
  const ask = { socket: stringArg(args, "agent-socket"), configSocket, required: boolArg(args, "agent"), env: io.env, debug: debugLogger(args, io) };
  return credentialsFromAgent(ask, selector, (error) => {
    io.stderr.write(`${PROGRAM}: warning: ${printableLine(error.message)}; signing directly instead\n`);
  });
}
