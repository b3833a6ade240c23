import { lstatSync, realpathSync, statSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { InputError } from "../errors.js";

/**
 * Whether a client may trust the agent socket at `socketPath` before sending it anything: the socket and
 * the directory holding it must be what an agent of this user creates (see socket-safety.ts), so that no
 * other user can have put a socket there or swap it. Otherwise anyone who can write the directory (e.g. a
 * `/tmp` fallback path created by someone else) could hand us credentials of their choosing, or collect
 * the role names we ask for. A missing path or a file that is no socket is left to the caller ("no agent").
 * Checks the path as given and, if it is a symbolic link, where it leads.
 */
export function checkAgentSocket(socketPath: string, uid: number = process.getuid?.() ?? 0): void {
  let link: Stats;
  try {
    link = lstatSync(socketPath);
  } catch {
    return;
  }
  let real = socketPath;
  if (link.isSymbolicLink()) {
    try {
      real = realpathSync(socketPath);
    } catch {
      return; // a dangling link: nothing to connect to
    }
  }
  for (const dir of new Set([dirname(socketPath), dirname(real)])) {
    const info = statSync(dir, { throwIfNoEntry: false });
    if (!info) return; // removed meanwhile: connect will say there is no agent
    if (info.uid !== uid && info.uid !== 0) unsafe(socketPath, `its directory ${dir} belongs to uid ${info.uid}, not to this user (${uid})`);
    if ((info.mode & 0o022) !== 0) unsafe(socketPath, `its directory ${dir} can be written by other users (mode ${(info.mode & 0o7777).toString(8)})`);
  }
  const socket = statSync(real, { throwIfNoEntry: false });
  if (!socket?.isSocket()) return; // nothing can answer there: connect fails and the caller signs directly
  if (socket.uid !== uid) unsafe(socketPath, `it belongs to uid ${socket.uid}, not to this user (${uid})`);
  if ((socket.mode & 0o077) !== 0) unsafe(socketPath, `other users can connect to it (mode ${(socket.mode & 0o777).toString(8)})`);
}

function unsafe(socketPath: string, why: string): never {
  throw new InputError("SOCKET_UNSAFE", `refusing to use the agent socket ${socketPath}: ${why}`, {
    hint: "another user may be impersonating the agent: remove the socket and restart the agent (its directory must be yours and private), or sign directly with --no-agent",
  });
}
