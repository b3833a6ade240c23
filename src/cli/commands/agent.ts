import type { CliIo, CommandSpec, ParsedArgs } from "../command.js";
import { listArg, stringArg } from "../command.js";
import { InputError } from "../../errors.js";
import type { SourceSpec } from "../../credentials/source-registry.js";
import { CERTIFICATE_WARNING_OPTION, certificateWarningFromArgs } from "../daemon-options.js";

const command: CommandSpec = {
  name: "agent",
  describe: "Run the credential agent: cached credentials for the config file's profiles on a user-only UNIX socket",
  options: [
    { name: "config", type: "string", description: "Config file (default: ~/.config/roles-anywhere-agent/config.json)" },
    { name: "profile", type: "string", repeatable: true, description: "Serve only this profile (repeatable; default: the config's agent.profiles, else all)" },
    { name: "socket", type: "string", description: "Socket path (default: $XDG_RUNTIME_DIR/roles-anywhere-agent.sock); ignored under systemd socket activation" },
    CERTIFICATE_WARNING_OPTION,
  ],
  async run(args, io) {
    const [
      { createCredentialSource },
      { SourceRegistry },
      { describeRefreshEvent },
      { startAgentServer },
      { prepareSocketPath, systemdListenFd },
      { defaultAgentSocketPath },
      { logFailures, serveUntilStopped },
      { loadConfig },
    ] = await Promise.all([
      import("../../credentials/credential-source.js"),
      import("../../credentials/source-registry.js"),
      import("../../credentials/describe-event.js"),
      import("../../agent/agent-server.js"),
      import("../../agent/socket-safety.js"),
      import("../../agent/socket-path.js"),
      import("../registry-daemon.js"),
      import("../../config/load-config.js"),
    ]);
    const log = (line: string) => io.stderr.write(`${line}\n`);

    const config = await loadConfig(stringArg(args, "config"), io.env);
    const fd = systemdListenFd(io.env);
    const socketPath = stringArg(args, "socket") ?? config.agent.socket ?? defaultAgentSocketPath(io.env);
    // The socket path is checked before any token or TPM is touched: an unsafe directory must not cost a PIN.
    if (fd === undefined) await prepareSocketPath(socketPath);

    const certificateWarning = certificateWarningFromArgs(args, log);
    const registry = new SourceRegistry((spec) =>
      createCredentialSource({ ...spec, onEvent: (name, event) => log(describeRefreshEvent(name, event)), ...(certificateWarning ? { certificateWarning } : {}) }),
    );
    // Signers are opened here, before listening: a `prompt` PIN is asked once, now, on the terminal.
    const initial = await registry.apply(await profileSpecs(args, io, config));
    logFailures(initial, log);

    let server;
    try {
      server = await startAgentServer(registry, fd === undefined ? { path: socketPath } : { fd });
    } catch (error) {
      await registry.closeAll();
      throw error;
    }
    log(`agent listening on ${server.address} for profiles: ${registry.names().join(", ")}`);

    try {
      await serveUntilStopped(registry, server, async () => profileSpecs(args, io, await loadConfig(stringArg(args, "config"), io.env)), log);
    } finally {
      if (fd === undefined) await import("node:fs/promises").then((fs) => fs.unlink(socketPath)).catch(() => {});
    }
    return 0;
  },
};

async function profileSpecs(args: ParsedArgs, io: CliIo, config: Awaited<ReturnType<typeof import("../../config/load-config.js").loadConfig>>): Promise<SourceSpec[]> {
  const { profileCredentialSettings } = await import("../../config/resolve-profile.js");
  const chosen = listArg(args, "profile");
  const names = chosen.length > 0 ? chosen : (config.agent.profiles ?? [...config.profiles.keys()]);
  if (names.length === 0) {
    throw new InputError("CONFIG_INVALID", `config ${config.path} defines no profiles for the agent to serve`, { hint: 'add one under "profiles"' });
  }
  return names.map((name) => ({ name, settings: profileCredentialSettings(config, name, io) }));
}

export default command;
