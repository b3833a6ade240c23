import type { OptionSpec } from "./command.js";
import { CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS } from "./shared-options.js";

// The credential-process flags live apart from the command so that the CLI's front entry (fast-path.ts)
// can parse them without loading the command's signing code.

export const CREDENTIAL_PROCESS_OPTIONS: readonly OptionSpec[] = [
  ...SIGNER_OPTIONS,
  ...SESSION_OPTIONS,
  { name: "profile", type: "string", description: "Take settings from this profile of the config file (flags win)" },
  { name: "config", type: "string", description: "Config file (default: $XDG_CONFIG_HOME/roles-anywhere-agent/config.json)" },
  { name: "agent", type: "boolean", description: "Require the running agent's cached credentials (without it, the agent is used when its socket exists)" },
  { name: "no-agent", type: "boolean", description: "Never ask the agent; always sign a new CreateSession" },
  { name: "agent-socket", type: "string", description: "Agent socket (default: $XDG_RUNTIME_DIR/roles-anywhere-agent.sock)" },
];

export const CREDENTIAL_PROCESS_CONFLICTS: readonly (readonly [string, string])[] = [...CREDENTIAL_CONFLICTS, ["agent", "no-agent"]];
