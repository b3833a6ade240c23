import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import type { Server, Socket } from "node:net";
import type { Log } from "../daemon/signals.js";
import { procKeys, procPort, tcpSockets } from "../io/listen-tcp.js";
import { isLoopbackAddress } from "./loopback.js";

/**
 * Options for serve's HTTP(S) servers. A repeated header reaches the guard joined (`a, b`), not as Node's first
 * copy of Host (or Authorization), so a request with two Host lines never names this endpoint, whichever is first.
 * SDKs send a request's few headers at once: a peer that takes longer (one byte at a time) is cut off, checked
 * every second (Node's default: 60 s, checked every 30 s), and an idle kept-alive connection is closed after 5 s.
 * Headers are at most 8 KiB (Node's default: 16 KiB; the SDKs send 124–279 bytes, a Kubernetes token ~1–2 KB): a
 * connection holds a copy of what it has sent until its headers end, and a burst of thousands is served before the
 * caps below can tell whose they are.
 */
export const SERVER_OPTIONS = {
  joinDuplicateHeaders: true,
  maxHeaderSize: 8_192,
  headersTimeout: 5_000,
  requestTimeout: 10_000,
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
} as const;

/** The most header lines a request may have. */
const MAX_HEADERS = 63;
const TOO_MANY_HEADERS = "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n";
type ParsedSocket = Socket & { parser?: { onIncoming?: unknown }; _httpMessage?: { _headerSent?: boolean } | null };

/**
 * Stops reading a connection at the headers of a request that makes Node work for many requests' worth while other
 * connections wait, as Node handles all of a read (64 KiB) before it turns to another connection:
 * - one that came in the same read as the request before it: sent before that one's answer (pipelining, which SDKs
 *   never do). A read holds ~1,400 short requests, all answered: 32 such connections of one user made each of the
 *   owner's requests wait over a second;
 * - one with a body (serve's requests have none): Node calls into JavaScript for each chunk of a chunked body, ~10,000
 *   per read of 1-byte chunks for 10 s (requestTimeout); 32 such connections had the same effect;
 * - one with more than MAX_HEADERS header lines (SDKs send about ten): Node took 2,000 (16 KiB) one by one in
 *   JavaScript, and 250 connections of such requests made half the owner's time out. Node 22 and later refuse them
 *   in their parser (`maxHeadersCount`: 431, HPE_HEADER_OVERFLOW); Node 20 keeps MAX_HEADERS in `req.headers` but
 *   all in `rawHeaders` (at least MAX_HEADERS + 1 when there were more), and gets the same 431 here.
 * Closing is not enough: Node would still parse the rest of the read. Its parser's `onIncoming` (not a public API;
 * native-test/serve-costly-requests.test.ts runs under Node 20, 22 and 24) answering -1 stops it: a parse error,
 * answered 400 (431 written here first) unless an answer on the connection has begun, then closed. Without that
 * hook such requests are served as before.
 */
export function stopCostlyRequests(server: Server & { maxHeadersCount: number | null }, event: "connection" | "secureConnection"): void {
  server.maxHeadersCount = MAX_HEADERS;
  server.on(event, (socket: ParsedSocket) => {
    const parser = socket.parser;
    const incoming = parser?.onIncoming;
    if (typeof incoming !== "function") return;
    let readAt = -1;
    parser!.onIncoming = (req: IncomingMessage, ...rest: unknown[]) => {
      const { "transfer-encoding": chunked, "content-length": length = "0" } = req.headers;
      if (req.rawHeaders.length > 2 * MAX_HEADERS) {
        // Node's own condition for its parse-error answer, which then finds the socket ended and writes none.
        if (socket.writable && !socket._httpMessage?._headerSent) socket.end(TOO_MANY_HEADERS);
        return -1;
      }
      if (socket.bytesRead === readAt || chunked !== undefined || length !== "0") return -1;
      readAt = socket.bytesRead;
      return incoming(req, ...rest);
    };
  });
}

interface ConnectionCaps {
  /** Open connections in all: beyond it, the newest of whoever holds the most are closed. */
  readonly total: number;
  /** Open connections of one local user (uid), or one remote address. */
  readonly perUser: number;
  /** Node's `maxConnections`, closing new ones whoever they are: room for a burst between checks, not for EMFILE. */
  readonly hard: number;
}

/**
 * Total: half the open-file limit (read at start), at most 1024 (as the agent: 1,000 SDK clients fetching at once);
 * one user: a quarter of that, at most 256. The total bounds memory: a burst of one user's connections lives until
 * the next read of their owners, and 4,000 sending headers slowly took serve from 56 to 129–166 MiB with 4096.
 */
export function connectionCaps(openFiles = openFileLimit()): ConnectionCaps {
  const total = Math.max(16, Math.min(1024, Math.floor(openFiles / 2)));
  const hard = Math.max(total, Math.min(2 * total, openFiles - 64));
  return { total, perUser: Math.min(256, Math.floor(total / 4)), hard };
}

function openFileLimit(): number {
  try {
    return Number(/^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "latin1"))?.[1]) || 1024;
  } catch {
    return 1024;
  }
}

const READ_GAP_MS = 100;
const UNKNOWN = "uid unknown";

/** Who a peer is, for the caps: `uid N` (loopback peer, from /proc/net/tcp), `uid unknown`, or `address A`. */
type PeerOwners = (sockets: readonly Socket[]) => string[];

/**
 * Caps the connections `server` holds, so that no local user (nor remote address) can take them all: a uid over
 * `perUser` has its newest connections closed; beyond `total`, so has whoever holds the most (of equals, the one
 * that came last). Who owns a connection is read from /proc/net/tcp only while more than `perUser` are open (below
 * that nobody can be over it), in one read for all new connections every 100 ms at most, or ten times the last
 * read's duration (at once when `total` are open), and remembered for the connection's life. A loopback
 * peer whose uid is not found counts as `uid unknown`, never as serve's own user. One line per user and ten
 * minutes says that it hit a cap. With `begin` (a server made with `pauseOnConnect`: see takeHandshake), a
 * connection is handed to it only once kept: at once while at most `perUser` are open, otherwise after the read of its
 * owner; one closed over a cap never reaches it.
 */
export function capConnections(server: Server, caps: ConnectionCaps, log: Log, owners: PeerOwners = peerOwners, begin?: (socket: Socket) => void): void {
  server.maxConnections = caps.hard;
  const waiting = new Set<Socket>();
  const open = new Map<Socket, string | undefined>();
  const said = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let due = 0;
  let lastRead = -Infinity;
  let readMs = 0;
  // Times are on the monotonic clock: set back, the wall clock would put off the next read by as much.
  const once = (who: string, line: string) => {
    const now = performance.now();
    if ((said.get(who) ?? -Infinity) > now - 600_000) return;
    // Kept in the order said, so those said over ten minutes ago (one per remote address, say) leave from the front.
    for (const [old, at] of said) {
      if (at > now - 600_000) break;
      said.delete(old);
    }
    said.set(who, now);
    log(line);
  };
  const full = `${caps.hard} connections are open, the most serve takes: new ones are closed until some end`;
  server.on("drop", () => once("hard", full));
  server.on("connection", (socket: Socket) => {
    open.set(socket, undefined);
    socket.once("close", () => open.delete(socket));
    if (open.size <= caps.perUser) return begin?.(socket);
    if (begin) waiting.add(socket);
    // /proc costs ~10 ms, ~75 with 17,000 TIME_WAIT lines (any user can make them): serve spends a tenth of its
    // time reading it at most. At the total, at once: waiting lets a user reach `hard`, which closes everyone's.
    const at = open.size >= caps.total ? 0 : lastRead + Math.max(READ_GAP_MS, 10 * readMs);
    if (timer && due <= at) return;
    clearTimeout(timer);
    due = at;
    timer = setTimeout(enforce, Math.max(0, at - performance.now()));
  });

  function enforce() {
    timer = undefined;
    try {
      if (open.size > caps.perUser) closeOverCaps();
    } finally {
      for (const socket of waiting) if (!socket.destroyed) begin!(socket);
      waiting.clear();
    }
  }

  function closeOverCaps() {
    const unknown = [...open].filter(([s, owner]) => owner === undefined && !s.destroyed).map(([s]) => s);
    if (unknown.length > 0) {
      const start = performance.now();
      owners(unknown).forEach((owner, i) => open.set(unknown[i]!, owner));
      lastRead = performance.now();
      readMs = lastRead - start;
    }
    const byOwner = new Map<string, Socket[]>();
    for (const [socket, owner] of open) {
      if (owner === undefined || socket.destroyed) continue;
      const sockets = byOwner.get(owner);
      if (sockets) sockets.push(socket);
      else byOwner.set(owner, [socket]);
    }
    let count = 0;
    for (const [owner, sockets] of byOwner) {
      if (sockets.length > caps.perUser) {
        const what = `opened more than ${caps.perUser} connections, the most one user may hold`;
        once(owner, `${owner} ${what}: its newest are closed`);
        for (const socket of sockets.splice(caps.perUser)) socket.resetAndDestroy();
      }
      count += sockets.length;
    }
    if (count <= caps.total) return;
    once("total", `more than ${caps.total} connections are open: the newest of the users holding the most are closed`);
    // A host may connect from a new address of its IPv6 /64 each time: one connection per address, it would pass for
    // that many peers and the newest connection of all, a consumer's, be the one closed. The most held is looked for
    // by /64 first, then by address in it; of those holding as many, the one that came last (the first to come is
    // likely a consumer serving all along).
    const networks = new Map<string, Socket[][]>();
    for (const [owner, sockets] of byOwner) {
      const key = /^address [\da-f]*:[\da-f:]*$/.test(owner) ? ipv6Network(owner) : owner;
      const lists = networks.get(key);
      if (lists) lists.push(sockets);
      else networks.set(key, [sockets]);
    }
    const most = <T>(list: T[], size: (t: T) => number) => list.reduce((a, b) => (size(b) >= size(a) ? b : a));
    const held = [...networks.values()];
    const sum = (lists: Socket[][]) => lists.reduce((n, l) => n + l.length, 0);
    for (; count > caps.total; count--) most(most(held, sum), (l) => l.length).pop()!.resetAndDestroy();
  }
}

/** `address 2001:db8:0:1::5` → its /64, `2001:db8:0:1`. */
function ipv6Network(owner: string): string {
  const [head = [], tail] = owner.slice("address ".length).split("::").map((part) => (part ? part.split(":") : []));
  return (tail ? [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail] : head).slice(0, 4).join(":");
}

/** The owner of each socket: loopback peers by uid from /proc/net/tcp{,6} (one read for all), others by address. */
function peerOwners(sockets: readonly Socket[]): string[] {
  const wanted = new Map<string, number>();
  sockets.forEach((s, i) => {
    if (!isLoopbackAddress(s.remoteAddress)) return;
    for (const key of procKeys(s)) wanted.set(key, i);
  });
  const owners = sockets.map((p) => (isLoopbackAddress(p.remoteAddress) ? UNKNOWN : `address ${p.remoteAddress}`));
  if (wanted.size === 0) return owners;
  // An IPv6 socket's peer may be IPv6 too (::1, or an IPv4-mapped address: listed in tcp6 only).
  const v6 = sockets.some((s) => s.remoteFamily === "IPv6");
  // The peer's own socket: its local end is our remote one and the other way round; connected (01), its remote
  // port ours. That text leaves out our own ends and the thousands of TIME_WAIT lines a flood of connections leaves.
  const ours = `${procPort(sockets[0]!.localPort!)} 01 `;
  for (const line of tcpSockets(v6 ? ["tcp", "tcp6"] : ["tcp"], ours)) {
    const i = wanted.get(`${line.local} ${line.remote}`);
    if (i !== undefined) owners[i] = `uid ${line.uid}`;
  }
  return owners;
}
