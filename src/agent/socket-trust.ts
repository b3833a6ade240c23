import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { AgentError, InputError } from "../errors.js";
import { checkNotWritable, checkOwner, O_PATH, UntrustedPathError, walkToEntry } from "../io/trusted-path.js";
import { isTrustedPeerUid, loadNativeHelper, peerOf, type NativeHelper, type NativeHelperLoad } from "../os/native-helper.js";
import { checkSocketPathLength } from "./socket-path.js";

/*
 * Whom an agent client trusts. Before it sends a byte (the profile it asks for is information too), a client
 * makes sure the socket is served by its own user, so that nobody else can hand it credentials of their choosing:
 * - with the native helper: the connected peer's uid (SO_PEERCRED) must be this user's or root's;
 * - without it: the path is walked by file descriptor (src/io/trusted-path.ts; the socket's own directory may not
 *   be writable by others even with the sticky bit), the socket belongs to the user (or root), and the connection
 *   goes through an O_PATH descriptor of the checked socket (/proc/self/fd/N), so it cannot be swapped in between.
 * The agent applies the same peer rule to its clients (agent-server.ts).
 */

/** Connection errors that mean "no agent here" (the caller then signs directly). */
// ECONNRESET: the agent stopped (a restart) while this connection waited to be accepted.
const NO_AGENT: ReadonlySet<string> = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK", "EACCES", "ENOTDIR", "ELOOP", "ECONNRESET"]);

interface ConnectOptions {
  readonly uid?: number;
  /** Which way to verify the peer; default: the native helper when it loads, else the directory walk. */
  readonly native?: NativeHelperLoad;
}

/**
 * A connection to the agent at `socketPath` whose server is proved to run as this user (or root). Undefined
 * when no agent listens there. Rejects with SOCKET_UNSAFE when the listener or the path cannot be trusted
 * (nothing has been sent then), and with AGENT_UNAVAILABLE on other connection errors.
 */
export async function connectToAgent(socketPath: string, options: ConnectOptions = {}): Promise<Socket | undefined> {
  checkSocketPathLength(socketPath);
  const uid = options.uid ?? process.getuid?.() ?? 0;
  const native = options.native ?? loadNativeHelper();
  if (native.helper) return connectCheckingPeer(socketPath, uid, native.helper);
  return connectThroughCheckedPath(socketPath, uid);
}

async function connectCheckingPeer(socketPath: string, uid: number, helper: NativeHelper): Promise<Socket | undefined> {
  const socket = await connect(socketPath, socketPath);
  if (!socket) return undefined;
  let peer: { uid: number; pid: number } | undefined;
  try {
    peer = peerOf(socket, helper);
  } catch (error) {
    socket.destroy();
    throw unsafe(socketPath, `its peer credentials cannot be read (${(error as Error).message})`);
  }
  if (peer && isTrustedPeerUid(peer.uid, uid)) return socket;
  socket.destroy();
  if (!peer) return connectThroughCheckedPath(socketPath, uid);
  throw unsafe(socketPath, `it is served by uid ${peer.uid} (pid ${peer.pid}), not by this user (${uid})`);
}

async function connectThroughCheckedPath(socketPath: string, uid: number): Promise<Socket | undefined> {
  let entry;
  try {
    entry = walkToEntry(socketPath, { uid });
  } catch (error) {
    if (error instanceof UntrustedPathError) throw unsafe(socketPath, error.reason);
    if (NO_AGENT.has((error as NodeJS.ErrnoException).code ?? "")) return undefined;
    throw new AgentError("AGENT_UNAVAILABLE", `cannot reach the agent socket ${socketPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    if (!entry.stats?.isSocket()) return undefined; // nothing can answer there
    try {
      checkNotWritable(entry.directory.stats, `its directory ${entry.directory.path}`);
      checkOwner(entry.stats, "the socket", uid);
    } catch (error) {
      throw error instanceof UntrustedPathError ? unsafe(socketPath, error.reason) : error;
    }
    // Through a descriptor of the socket just checked, not by name: what is connected to is what was checked. Not
    // through /proc/self/fd/N/name either, which exceeds sun_path's 108 bytes for a name that fits by itself.
    const fd = openSync(entry.directory.entry(entry.name), O_PATH | constants.O_NOFOLLOW);
    try {
      const now = fstatSync(fd);
      if (now.ino !== entry.stats.ino || now.dev !== entry.stats.dev) return undefined; // replaced meanwhile
      return await connect(`/proc/self/fd/${fd}`, socketPath);
    } finally {
      closeSync(fd);
    }
  } finally {
    entry.directory.close();
  }
}

export function connect(path: string, socketPath: string): Promise<Socket | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    socket.once("connect", () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.destroy();
      if (NO_AGENT.has(error.code ?? "")) resolve(undefined);
      else reject(new AgentError("AGENT_UNAVAILABLE", `cannot talk to the agent at ${socketPath}: ${error.code ?? error.message}`));
    });
  });
}

function unsafe(socketPath: string, why: string): InputError {
  return new InputError("SOCKET_UNSAFE", `refusing to use the agent socket ${socketPath}: ${why}`, {
    hint: "another user may be impersonating the agent: remove the socket and restart the agent (its directory must be yours and private), or sign directly with --no-agent",
  });
}
