import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import { isIP, type ListenOptions, type Server } from "node:net";
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
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const uids = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let lines: string[] = [];
    try {
      lines = readFileSync(table, "utf8").split("\n").slice(1);
    } catch {
      // no such table here
    }
    for (const fields of lines.map((line) => line.trim().split(/\s+/))) {
      if (fields[1]?.endsWith(hex) && fields[3] === "0A") uids.add(Number(fields[7])); // 0A: LISTEN
    }
  }
  uids.delete(process.getuid?.() ?? -1);
  if (uids.size === 0) return `another process uses that port: ${pick}`;
  const who = `a process of uid ${[...uids].join(", ")}, not this user, listens there`;
  return `${who}: programs pointed at port ${port} reach it instead (ss -ltnp); stop it, or ${pick} and repoint them`;
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
