import type { CommandSpec } from "../command.js";
import { CONFIG_OPTION, CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS } from "../shared-options.js";

/**
 * credential-process's flags, declared once: read by the command (credential-process.ts) and by the launcher's
 * agent fast path (launcher/agent-fast-path.ts), which must read a command line exactly as the command does.
 */
export const CREDENTIAL_PROCESS_FLAGS: Pick<CommandSpec, "name" | "options" | "conflicts"> = {
  name: "credential-process",
  options: [
    ...SIGNER_OPTIONS,
    ...SESSION_OPTIONS,
    { name: "profile", type: "string", refuseEmpty: true, description: "Take settings from this profile of the config file (flags win)" },
    CONFIG_OPTION,
    { name: "agent", type: "boolean", description: "Require the running agent's cached credentials (without it, the agent is used when its socket exists)" },
    { name: "no-agent", type: "boolean", description: "Never ask the agent; always sign a new CreateSession" },
    { name: "agent-socket", type: "string", refuseEmpty: true, description: "Agent socket (default: $XDG_RUNTIME_DIR/roles-anywhere-agent.sock, then the config's agent.socket when its agent serves --profile)" },
  ],
  conflicts: [...CREDENTIAL_CONFLICTS, ["agent", "no-agent"]],
};

/**
 * The flags a line may hold and still ask the agent for `--profile NAME` by name: any other (a certificate, a duration,
 * an ARN, …) may ask for something else than the profile the agent runs, so the agent is asked by what the line asks.
 */
export const AGENT_BY_NAME_FLAGS: ReadonlySet<string> = new Set(["profile", "config", "agent-socket", "agent", "debug"]);
