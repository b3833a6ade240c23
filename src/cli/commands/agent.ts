import { listArg, stringArg, type CommandSpec } from "../command.js";
import { CERTIFICATE_WARNING_OPTION, CONFIG_OPTION } from "../shared-options.js";
import { certificateWarningFromArgs } from "../settings-args.js";

const command: CommandSpec = {
  name: "agent",
  describe: "Run the credential agent: cached credentials for the config file's profiles on a user-only UNIX socket",
  options: [
    CONFIG_OPTION,
    { name: "profile", type: "string", refuseEmpty: true, repeatable: true, description: "Serve only this profile (repeatable; default: the config's agent.profiles, else all)" },
    { name: "socket", type: "string", refuseEmpty: true, description: "Socket path (default: $XDG_RUNTIME_DIR/roles-anywhere-agent.sock); ignored under systemd socket activation" },
    CERTIFICATE_WARNING_OPTION,
  ],
  async run(args, io) {
    const [{ runAgent }, { logTo }] = await Promise.all([
      import("../../agent/run-agent.js"),
      import("../../daemon/signals.js"),
    ]);
    await runAgent({
      configPath: stringArg(args, "config"),
      profiles: listArg(args, "profile"),
      socket: stringArg(args, "socket"),
      env: io.env,
      log: logTo(io.stderr),
      certificateWarning: certificateWarningFromArgs(args, io),
    });
    return 0;
  },
};

export default command;
