import { lstat, mkdir, stat, unlink } from "node:fs/promises";
import { createConnection } from "node:net";
import { dirname } from "node:path";
import { InputError, UsageError } from "../errors.js";

/**
 * Node.js cannot read a UNIX-socket peer's uid (no SO_PEERCRED / getpeereid), so the agent relies on the
 * kernel's file-permission check at connect(2) instead: the socket lives in a directory that only its
 * owner can enter (mode 0700, owned by the agent's user), and the socket itself is 0600. Anyone else — root
 * excepted — gets EACCES before a single byte reaches the agent. This function refuses to go on when that
 * cannot be guaranteed, and clears a stale socket left by a previous agent.
 */
export async function prepareSocketPath(socketPath: string, uid: number = process.getuid?.() ?? 0): Promise<void> {
  const dir = dirname(socketPath);
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((cause: NodeJS.ErrnoException) => {
    throw new InputError("SOCKET_UNSAFE", `cannot create the socket directory ${dir}: ${cause.code ?? "error"}`, { cause });
  });
  const info = await stat(dir);
  if (info.uid !== uid) {
    throw new InputError("SOCKET_UNSAFE", `socket directory ${dir} belongs to uid ${info.uid}, not to this user (${uid})`, {
      hint: "another user may have created it to intercept requests: choose another path with --socket",
    });
  }
  if ((info.mode & 0o077) !== 0) {
    throw new InputError("SOCKET_UNSAFE", `socket directory ${dir} is accessible to other users (mode ${(info.mode & 0o777).toString(8)})`, {
      hint: `run: chmod 700 ${dir}   (or choose a private directory with --socket)`,
    });
  }
  const existing = await lstat(socketPath).catch(() => undefined);
  if (!existing) return;
  if (!existing.isSocket()) {
    throw new InputError("SOCKET_UNSAFE", `${socketPath} exists and is not a socket; it was left alone`, { hint: "remove it or choose another --socket" });
  }
  if (await isListening(socketPath)) {
    throw new UsageError("LISTEN_FAILED", `an agent is already listening on ${socketPath}`, { hint: "stop it first, or give this one another --socket" });
  }
  await unlink(socketPath);
}

/** Whether something accepts connections on the socket. */
export function isListening(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path: socketPath });
    const done = (alive: boolean) => {
      socket.destroy();
      resolve(alive);
    };
    socket.setTimeout(timeoutMs, () => done(true));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** The socket systemd passed us (socket activation), or undefined. Only fd 3, the first, is used. */
export function systemdListenFd(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number | undefined {
  if (env["LISTEN_PID"] !== String(pid)) return undefined;
  const count = Number(env["LISTEN_FDS"]);
  return Number.isInteger(count) && count >= 1 ? 3 : undefined;
}
