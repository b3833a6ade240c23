import { statSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";
import { InputError, UsageError } from "../errors.js";
import { absoluteHome, MAX_SOCKET_PATH_BYTES } from "../io/trusted-path.js";
import type { AgentConfig } from "../config/parse-config.js";

const SOCKET_NAME = "roles-anywhere-agent.sock";

/**
 * Where the agent listens and its clients look — never a predictable path in a directory other users can
 * write (a `/tmp` name can be created first by anyone):
 * 1. `$ROLES_ANYWHERE_AGENT_SOCKET` (a usage error when it is relative);
 * 2. `$XDG_RUNTIME_DIR/roles-anywhere-agent.sock` (systemd's per-user 0700 directory, /run/user/UID);
 * 3. `/run/user/UID/roles-anywhere-agent.sock` when that directory exists and is this user's alone (cron, `su`
 *    and services often run without XDG_RUNTIME_DIR while the user's runtime directory exists);
 * 4. `~/.roles-anywhere-agent/agent.sock`, in a directory the agent creates with mode 0700 (SOCKET_UNSAFE when
 *    HOME is not absolute: never a socket in the working directory).
 * The same rules on both sides, so an agent and its clients meet whichever applies.
 */
export function defaultAgentSocketPath(
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.getuid?.() ?? 0,
  // node:os only when no other rule applies: loading it costs the agent fast path ~0.5 M instructions (issue #18).
  home: () => string = () => process.getBuiltinModule("node:os").homedir(),
  isPrivateRuntimeDir: (dir: string, uid: number) => boolean = privateToUser,
): string {
  const explicit = env["ROLES_ANYWHERE_AGENT_SOCKET"];
  // Refused when relative, as on the command line: passed over, it sent the agent and its clients to another socket.
  if (explicit) {
    checkSocketPathName(explicit, "ROLES_ANYWHERE_AGENT_SOCKET=");
    return explicit;
  }
  const runtime = env["XDG_RUNTIME_DIR"];
  if (runtime && isAbsolute(runtime)) return join(runtime, SOCKET_NAME);
  const runUser = `/run/user/${uid}`;
  if (isPrivateRuntimeDir(runUser, uid)) return join(runUser, SOCKET_NAME);
  const hint = "set HOME, XDG_RUNTIME_DIR or ROLES_ANYWHERE_AGENT_SOCKET";
  return join(absoluteHome(home(), "SOCKET_UNSAFE", "agent socket", hint), ".roles-anywhere-agent", "agent.sock");
}

/** The config's `agent.socket` when the agent it configures serves `profile` (its `agent.profiles`, else every profile). */
export function configAgentSocket({ agent }: AgentConfig, profile: string): string | undefined {
  return agent.profiles === undefined || agent.profiles.includes(profile) ? agent.socket : undefined;
}

function privateToUser(dir: string, uid: number): boolean {
  const info = statSync(dir, { throwIfNoEntry: false });
  return info !== undefined && info.isDirectory() && info.uid === uid && (info.mode & 0o077) === 0;
}

/**
 * Refuses an agent socket path that is relative (from another working directory it names another file: the agent
 * and its clients would not meet) or names no file (the agent's listener and its clients alike). `origin` says
 * where it came from (e.g. `VAR=`).
 */
export function checkSocketPathName(socketPath: string, origin = ""): void {
  const name = basename(socketPath);
  if (isAbsolute(socketPath) && !socketPath.endsWith("/") && name !== "." && name !== "..") return;
  const what = isAbsolute(socketPath) ? "does not end in a file name"
    : "is relative: from another working directory it names another file";
  throw new UsageError("USAGE", `the agent socket path ${origin}${socketPath} ${what}`, {
    hint: "give the absolute path of the socket file, e.g. $XDG_RUNTIME_DIR/agent.sock",
  });
}

/** Refuses an agent socket path the OS would cut short (the agent's listener and its clients alike). */
export function checkSocketPathLength(socketPath: string): void {
  const length = Buffer.byteLength(socketPath);
  if (length <= MAX_SOCKET_PATH_BYTES) return;
  const message = `the agent socket path ${socketPath} is ${length} bytes long, above the OS limit of ${MAX_SOCKET_PATH_BYTES}`;
  const hint = "use a shorter path, or reach its directory through a symbolic link in a short one";
  throw new InputError("SOCKET_UNSAFE", message, { hint });
}
