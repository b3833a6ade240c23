import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import { isIP, type ListenOptions, type Server, type Socket } from "node:net";
import { endianness, networkInterfaces } from "node:os";
import { UsageError } from "../errors.js";

const CAP_NET_BIND_SERVICE = 10n;

function privilegedPortHint(): string {
  const first = unprivilegedPortStart();
  return `ports below ${first} need privileges: use a port from ${first} up (the default is 9911), or grant CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE)`;
}

/** The first port any user may bind (net.ipv4.ip_unprivileged_port_start; 1024 when it cannot be read). */
function unprivilegedPortStart(): number {
  try {
    return Number.parseInt(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8"), 10) || 1024;
  } catch {
    return 1024;
  }
}

function hasBindCapability(): boolean {
  try {
    const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return line !== null && ((BigInt(`0x${line[1]}`) >> CAP_NET_BIND_SERVICE) & 1n) === 1n;
  } catch {
    return process.getuid?.() === 0;
  }
}

/**
 * Refuses a privileged port this process cannot bind, before any key or token is opened (so that the
 * mistake costs no PIN). Binding remains the final word: this only answers early what bind would answer.
 */
export function checkPortPrivilege(port: number): void {
  if (port <= 0 || port >= unprivilegedPortStart() || hasBindCapability()) return;
  throw new UsageError("LISTEN_FAILED", `cannot listen on port ${port} (--port) as an unprivileged user`, { hint: privilegedPortHint() });
}

/** Starts `server` listening; a failure becomes LISTEN_FAILED naming `where`, with `hint` for its errno. */
export function listenOn(server: Server, options: ListenOptions, where: string, hint?: (e: NodeJS.ErrnoException) => string | undefined) {
  server.listen(options);
  return once(server, "listening").then(
    () => {},
    (cause: NodeJS.ErrnoException) => {
      throw new UsageError("LISTEN_FAILED", `cannot listen on ${where}: ${cause.code ?? cause.message}`, { hint: hint?.(cause), cause });
    },
  );
}

export function listenTcp(server: Server, host: string, port: number): Promise<void> {
  return listenOn(server, { host, port }, `${host}:${port}`, (error) =>
    error.code === "EADDRINUSE"
      ? portInUseHint(port)
      : error.code === "EACCES" && port > 0 && port < 1024
        ? privilegedPortHint()
        : undefined,
  );
}

/**
 * Who holds a port matters: any local user can listen on a free port from 1024 up (while serve restarts, say), and
 * the programs pointed at it then get that user's answers. Named from /proc/net/tcp{,6} (Linux; else not named).
 */
function portInUseHint(port: number): string {
  const pick = "pick another with --port (0 = any free port)";
  const uids = new Set<number>();
  for (const socket of tcpSockets(["tcp", "tcp6"], `${procPort(port)} `)) {
    if (socket.state === "0A") uids.add(socket.uid); // 0A: LISTEN (the port is its local one)
  }
  uids.delete(process.getuid?.() ?? -1);
  if (uids.size === 0) return `another process uses that port: ${pick}`;
  const who = `a process of uid ${[...uids].join(", ")}, not this user, listens there`;
  return `${who}: programs pointed at port ${port} reach it instead (ss -ltnp); stop it, or ${pick} and repoint them`;
}

/** A line of /proc/net/tcp{,6}: `local` and `remote` as the kernel prints them (`0100007F:2AB7`), the owner's uid. */
interface TcpSocketLine {
  readonly local: string;
  readonly remote: string;
  readonly state: string;
  readonly uid: number;
}

/** A port as /proc/net/tcp prints it: `:2AB7`. */
export const procPort = (port: number) => `:${port.toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * An address and port as /proc/net/tcp{,6} print them (`0100007F:2AB7`): an IPv4 address (or `::ffff:` one) in
 * tcp6's form, then tcp's; another IPv6 address in tcp6's.
 */
export function procEndpoint(address: string | undefined, port: number | undefined): string[] {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address ?? "");
  const bytes = v4 ? v4.slice(1).map(Number) : ipv6Bytes(address ?? "");
  if (!bytes) return [];
  const forms = bytes.length === 4 ? [[...Array(10).fill(0), 0xff, 0xff, ...bytes], bytes] : [bytes];
  return forms.map((form) => `${procHex(form)}${procPort(port ?? 0)}`);
}

/** The 16 bytes of an IPv6 address (`fd00::1`, `::1.2.3.4` too); undefined for anything else. */
function ipv6Bytes(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  const hex = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const [head = [], tail] = hex.split("::").map((part) => (part ? part.split(":") : []));
  const words = tail ? [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail] : head;
  return words.flatMap((word) => [parseInt(word, 16) >> 8, parseInt(word, 16) & 0xff]);
}

/** Whether `address` is one of this host's: loopback (127.0.0.0/8, ::1, IPv4-mapped too) or a network interface's. */
export function isOwnAddress(address: string | undefined): boolean {
  const plain = (address ?? "").replace(/^::ffff:(?=\d+\.)/i, "");
  if (plain.startsWith("127.") || plain === "::1") return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === plain));
}

/** The peer socket's `local remote` as /proc/net/tcp{,6} print it (an IPv4 peer may be in either). */
export function procKeys(s: Socket): string[] {
  const self = procEndpoint(s.localAddress, s.localPort);
  return procEndpoint(s.remoteAddress, s.remotePort).flatMap((peer, i) => (self[i] ? [`${peer} ${self[i]}`] : []));
}

/** The kernel prints each 32-bit word of an address as a number in host byte order (`%08X`). */
function procHex(bytes: number[]): string {
  const le = endianness() === "LE";
  let hex = "";
  for (let w = 0; w < bytes.length; w += 4) {
    const word = bytes.slice(w, w + 4);
    for (const b of le ? word.reverse() : word) hex += b.toString(16).toUpperCase().padStart(2, "0");
  }
  return hex;
}

/**
 * The TCP sockets of this network namespace, from /proc/net/`tables` (Linux; none where they cannot be read);
 * only the lines `containing` that text (tested before a line is split: the table can hold thousands).
 */
export function tcpSockets(tables: readonly ("tcp" | "tcp6")[], containing = ""): TcpSocketLine[] {
  const sockets: TcpSocketLine[] = [];
  for (const table of tables) {
    let text = "";
    try {
      text = readFileSync(`/proc/net/${table}`, "latin1");
    } catch {
      // no such table here
    }
    // From the line after the heading.
    for (let at = text.indexOf("\n") + 1, hit; at > 0 && (hit = text.indexOf(containing, at)) >= 0; ) {
      const start = text.lastIndexOf("\n", hit) + 1;
      const end = text.indexOf("\n", hit) + 1 || text.length;
      const fields = text.slice(start, end).trim().split(/\s+/);
      at = end < text.length ? end : 0;
      if (fields.length < 8) continue;
      sockets.push({ local: fields[1]!, remote: fields[2]!, state: fields[3]!, uid: Number(fields[7]) });
    }
  }
  return sockets;
}

/** Stops `server` and drops its open connections (keep-alive ones too); resolves once it is closed. */
export function closeServer(server: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** `host` or `[v6]` or `v6` as it goes into a URL. */
export function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** `[v6]` → `v6`, the inverse of {@link urlHost}; anything else (a lone bracket too) as it is. */
export function unbracketed(host: string): string {
  return host.replace(/^\[(.*)\]$/, "$1");
}
