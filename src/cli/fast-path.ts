import { goJsonStringify, toCredentialProcessOutput } from "../credentials/credentials.js";
import { VERSION } from "../version.js";
import { boolArg, stringArg, type CliIo, type CommandSpec } from "./command.js";
import { CREDENTIAL_PROCESS_CONFLICTS, CREDENTIAL_PROCESS_OPTIONS } from "./credential-process-options.js";
import { parseCommandArgs } from "./parse-args.js";
import { sessionParamsFromArgs } from "./session-args.js";

/**
 * What the CLI answers without loading its commands: `version`, and `credential-process` when the agent
 * serves the role — the call every `aws` command makes, so it must start about as fast as `node -e 0`.
 * Resolves to undefined for anything else; `main` then runs the command line from the start (so a role the
 * agent does not serve is asked for twice, which costs one local round trip).
 */
export async function runFastPath(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (rest.includes("-h") || rest.includes("--help")) return undefined;
  if ((name === "version" && rest.length === 0) || (name === "--version" && rest.length === 0)) {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (name === "credential-process") return credentialProcessFromAgent(rest, io);
  return undefined;
}

const CREDENTIAL_PROCESS_FLAGS: CommandSpec = {
  name: "credential-process",
  describe: "",
  options: CREDENTIAL_PROCESS_OPTIONS,
  conflicts: CREDENTIAL_PROCESS_CONFLICTS,
  run: () => Promise.reject(new Error("parsing only")),
};

async function credentialProcessFromAgent(rest: readonly string[], io: CliIo): Promise<number | undefined> {
  const rawArgs = parseCommandArgs(CREDENTIAL_PROCESS_FLAGS, rest);
  if (boolArg(rawArgs, "no-agent")) return undefined;
  const { agentSelector, asksForProfileAsIs, credentialsFromAgent, withProfile } = await import("./agent-credentials.js");
  const profile = stringArg(rawArgs, "profile");
  let credentials;
  if (asksForProfileAsIs(rawArgs, profile)) {
    // The agent knows the profile by name: the config file is read only if the agent does not serve it.
    credentials = await credentialsFromAgent(rawArgs, profile, io);
  } else {
    const args = profile ? await withProfile(rawArgs, profile, io) : rawArgs;
    credentials = await credentialsFromAgent(args, agentSelector(args, sessionParamsFromArgs(args), profile), io);
  }
  if (!credentials) return undefined;
  io.stdout.write(goJsonStringify(toCredentialProcessOutput(credentials)));
  return 0;
}
