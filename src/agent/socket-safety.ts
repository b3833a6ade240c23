import { lstat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { InputError, shellWord, UsageError } from "../errors.js";
import { modeText, openCheckedDirectory, UntrustedPathError } from "../io/trusted-path.js";
import { checkSocketPathLength, checkSocketPathName } from "./socket-path.js";
import { connect } from "./socket-trust.js";
import { ownerText } from "../user-namespace.js";

/**
 * Where the agent may listen. Peer credentials (socket-trust.ts) need the native helper; the guard that always
 * holds is the kernel's permission check at connect(2): the socket lives in a directory only its owner can enter
 * (0700, the agent's user), reached through directories of the user or root that nobody else can write (checked
 * by descriptor), so anyone else — root excepted — gets EACCES before a byte reaches the agent. Refuses to go on
 * otherwise, creates a missing directory (0700), and clears a stale socket left by a previous agent.
 */
export async function prepareSocketPath(socketPath: string, uid: number = process.getuid?.() ?? 0): Promise<void> {
  checkSocketPathName(socketPath);
  checkSocketPathLength(socketPath);
  const dir = dirname(socketPath);
  if (dir === "/") {
    const message = `the agent socket ${socketPath} cannot be directly in /: its directory must be this user's alone`;
    throw new InputError("SOCKET_UNSAFE", message, {
      hint: "choose a path in a directory of yours with --socket (one is created, mode 0700, when missing)",
    });
  }
  let checked;
  try {
    checked = openCheckedDirectory(dir, { uid, createMode: 0o700 });
  } catch (cause) {
    if (cause instanceof UntrustedPathError) {
      throw new InputError("SOCKET_UNSAFE", `socket directory ${dir} is not safe: ${cause.reason}`, {
        hint: "another user could replace the socket there: choose a path in a directory of yours with --socket",
      });
    }
    throw new InputError("SOCKET_UNSAFE", `cannot create the socket directory ${dir}: ${(cause as NodeJS.ErrnoException).code ?? "error"}`, { cause });
  }
  const info = checked.stats;
  checked.close();
  if (info.uid !== uid) {
    throw new InputError("SOCKET_UNSAFE", `socket directory ${dir} belongs to ${ownerText(info.uid)}, not to this user (${uid})`, {
      hint: "another user may have created it to intercept requests: choose another path with --socket",
    });
  }
  if ((info.mode & 0o077) !== 0) {
    throw new InputError("SOCKET_UNSAFE", `socket directory ${dir} is accessible to other users (mode ${modeText(info)})`, {
      hint: `run: chmod 700 ${shellWord(dir)}   (or choose a private directory with --socket)`,
    });
  }
  const existing = await lstat(socketPath).catch(() => undefined);
  if (!existing) return;
  if (!existing.isSocket()) {
    throw new InputError("SOCKET_UNSAFE", `${socketPath} exists and is not a socket; it was left alone`, { hint: "remove it or choose another --socket" });
  }
  // Refused or absent means dead; any other error (EAGAIN: its backlog is full) is a live agent's socket.
  const listener = await connect(socketPath, socketPath).catch(() => "busy" as const);
  if (listener) {
    if (listener !== "busy") listener.destroy();
    throw new UsageError("LISTEN_FAILED", `an agent is already listening on ${socketPath}`, { hint: "stop it first, or give this one another --socket" });
  }
  // Another agent starting now may have removed the dead socket, and bound its own, since it was probed: unlink
  // only the socket probed (before: ENOENT as "internal error", or that agent's socket, leaving it unreachable).
  const now = await lstat(socketPath).catch(() => undefined);
  if (now?.ino !== existing.ino || now.dev !== existing.dev) return;
  await unlink(socketPath).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code !== "ENOENT") throw cause;
  });
}

/** The socket systemd passed us (socket activation), or undefined. Only fd 3, the first, is used. */
export function systemdListenFd(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number | undefined {
  if (env["LISTEN_PID"] !== String(pid)) return undefined;
  const count = Number(env["LISTEN_FDS"]);
  return Number.isInteger(count) && count >= 1 ? 3 : undefined;
}
