import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";

export const SOCKET_ENV = "ROLES_ANYWHERE_AGENT_SOCKET";

/**
 * Where the agent listens and its clients look:
 * 1. `$ROLES_ANYWHERE_AGENT_SOCKET`;
 * 2. `$XDG_RUNTIME_DIR/roles-anywhere-agent.sock` (systemd's per-user 0700 directory, /run/user/UID);
 * 3. `<tmpdir>/roles-anywhere-agent-UID/agent.sock`, in a directory the agent creates with mode 0700.
 */
export function defaultAgentSocketPath(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  const explicit = env[SOCKET_ENV];
  if (explicit && isAbsolute(explicit)) return explicit;
  const runtime = env["XDG_RUNTIME_DIR"];
  if (runtime && isAbsolute(runtime)) return join(runtime, "roles-anywhere-agent.sock");
  return join(tmpdir(), `roles-anywhere-agent-${uid}`, "agent.sock");
}
