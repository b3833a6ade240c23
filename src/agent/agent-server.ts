import { readFileSync, readlinkSync } from "node:fs";
import { chmod, lstat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { certificateStatusJson } from "../credentials/certificate-watch.js";
import type { CredentialSource } from "../credentials/credential-source.js";
import type { SourceRegistry } from "../credentials/source-registry.js";
import { goJsonStringify, toCredentialProcessOutput, formatExpiration, type CredentialProcessOutput } from "../rolesanywhere/credentials.js";
import { secretBytes } from "../secrets/secret-bytes.js";
import { percentDecoded } from "../rolesanywhere/proxy.js";
import { AgentError, InputError } from "../errors.js";
import { closeServer, listenOn } from "../io/listen-tcp.js";
import { isTrustedPeerUid, loadNativeHelper, peerOf } from "../os/native-helper.js";
import type { CredentialSettings } from "../settings/credential-settings.js";
import { VERSION } from "../version.js";
import { CONDITION_NAMES, requestConditions, type RequestConditions } from "./request-conditions.js";

type AgentSources = Pick<SourceRegistry, "get" | "all">;

export interface RunningAgentServer {
  /** The socket path, or `fd:3` under socket activation. */
  readonly address: string;
  close(): Promise<void>;
}

const CREDENTIALS_PATH = "/v1/credentials";
const MAX_CONNECTIONS = 1024;
const LISTEN_ON_A_PATH = "the agent's .socket unit must listen on a path: ListenStream=%t/roles-anywhere-agent.sock";
const SELECTOR_PARAMS: readonly string[] = ["trust-anchor-arn", "profile-arn", "role-arn", "role-session-name", ...CONDITION_NAMES];

type AgentListen = { readonly path: string } | { readonly fd: number };

/**
 * The agent's HTTP/1.1 API on its UNIX socket (plain HTTP so that `curl --unix-socket` is a client):
 * - `GET /v1/credentials/<profile>`: the credential_process JSON (200), an error document
 *   `{"Code","Message"}` with 503 when the profile has no usable credentials, 404 for an unknown profile;
 * - `GET /v1/credentials?trust-anchor-arn=…&profile-arn=…&role-arn=…[&role-session-name=…][&certificate=…&…]`: the
 *   same, for the profile whose ARNs (and session name) match exactly and whose settings meet each condition given
 *   (request-conditions.ts);
 * - `GET /v1/status`: the version it runs; per profile, the cache state, expiry and until when handed out (never a
 *   credential).
 *
 * A client whose peer credentials (SO_PEERCRED, through the native helper) show another user than the agent's
 * own, or root, is disconnected before its request is read, as ssh-agent does: the socket's 0700 directory
 * already keeps others out, this holds even if someone opens it up. Without the native helper the directory
 * is the only guard (SECURITY.md).
 */
export async function startAgentServer(sources: AgentSources, listen: AgentListen, configPath?: string): Promise<RunningAgentServer> {
  // Answers still due on a connection (pipelined requests), and what to do once they are all written.
  const due = new WeakMap<Socket, { count: number; then?: () => void }>();
  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    const state = due.get(req.socket) ?? { count: 0 };
    due.set(req.socket, state);
    state.count++;
    res.once("close", () => --state.count === 0 && state.then?.());
    handle(sources, configPath, req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { Code: "INTERNAL", Message: "internal error" });
      else res.destroy();
    });
  });
  // A malformed request after others on the same connection: their answers first (Node's default would close at once,
  // its 400 taken for the first one's answer), then 400 (431, 408 as Node's) and close.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    const state = due.get(socket) ?? { count: 0 };
    due.set(socket, state);
    if (state.then) return; // the parser repeats its error on each later read
    const status = { HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large", ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout" }[error.code ?? ""];
    state.then = () => (socket.writable ? socket.end(`HTTP/1.1 ${status ?? "400 Bad Request"}\r\nConnection: close\r\n\r\n`) : socket.destroy());
    if (state.count === 0) state.then();
  });
  // Each open connection costs ~8 KiB, and up to ~37 KiB while it sends 16 KiB of headers slowly: 4,000 of them took
  // the agent from 56 to 202 MiB. Beyond this many, Node closes the newest (1,000 concurrent clients are served).
  server.maxConnections = MAX_CONNECTIONS;
  const { helper } = loadNativeHelper();
  if (helper) {
    const uid = process.getuid?.() ?? 0;
    server.on("connection", (socket: Socket) => {
      try {
        const peer = peerOf(socket, helper);
        if (peer && !isTrustedPeerUid(peer.uid, uid)) socket.destroy();
      } catch {
        socket.destroy();
      }
    });
  }
  // A deep backlog so that a burst of clients (parallel SDK tests) is queued, not refused with EAGAIN.
  const where = "path" in listen ? listen.path : `fd ${listen.fd} (systemd socket activation: LISTEN_PID, LISTEN_FDS)`;
  const activated = "the service manager must pass an open UNIX stream socket there; unset LISTEN_PID otherwise";
  await listenOn(server, { ...listen, backlog: 4096 }, where, () => ("fd" in listen ? activated : undefined));
  const bound = "path" in listen ? await chmod(listen.path, 0o600).then(() => lstat(listen.path)) : undefined;
  // Only a UNIX socket has a path and peer credentials: on a TCP one anyone who can reach its port would be served.
  const tcp = server.address();
  if ("fd" in listen && tcp !== null && typeof tcp === "object") {
    await closeServer(server);
    const message = `the socket systemd passed (fd ${listen.fd}) is a TCP socket on ${tcp.address} port ${tcp.port}, not a UNIX socket`;
    throw new InputError("SOCKET_UNSAFE", message, { hint: LISTEN_ON_A_PATH });
  }
  // An abstract socket (ListenStream=@name) has no file mode or directory: any local user can connect to it.
  const abstract = "fd" in listen && !helper ? abstractSocketName(listen.fd) : undefined;
  if ("fd" in listen && abstract) {
    await closeServer(server);
    const message = `the socket systemd passed (fd ${listen.fd}) is in the abstract namespace (${abstract}), where any local user can connect, and without the native helper (dist/native/) the agent cannot check who does`;
    throw new InputError("SOCKET_UNSAFE", message, { hint: LISTEN_ON_A_PATH });
  }
  return {
    address: "path" in listen ? listen.path : `fd:${listen.fd}`,
    close: async () => {
      // Closing unlinks the socket's path by name. When ours was removed and another agent listens there now,
      // stop serving but leave the handle to the process's exit, so the newer agent's socket stays.
      const now = bound && (await lstat((listen as { path: string }).path).catch(() => undefined));
      if (bound && (now?.ino !== bound.ino || now.dev !== bound.dev)) {
        server.maxConnections = 0;
        server.closeAllConnections();
        server.unref();
        return;
      }
      await closeServer(server);
    },
  };
}

/** `@name` when the UNIX socket at `fd` is an abstract one (Node's server.address() is null for a socket given by fd). */
function abstractSocketName(fd: number): string | undefined {
  try {
    const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
    // /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path
    const fields = readFileSync("/proc/net/unix", "utf8").split("\n").map((line) => line.trim().split(/\s+/)).find((f) => f[6] === inode);
    return fields?.[7]?.startsWith("@") ? fields[7] : undefined;
  } catch {
    return undefined;
  }
}

async function handle(sources: AgentSources, configPath: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = URL.parse(req.url ?? "/", "http://agent");
  if (req.method !== "GET") return send(res, 405, { Code: "MethodNotAllowed", Message: "use GET" });
  if (!url) return send(res, 400, { Code: "InvalidRequest", Message: "the request target is not a valid URL path" });
  if (url.pathname === "/v1/status") return send(res, 200, { version: VERSION, profiles: sources.all().map(statusOf) });
  let source: CredentialSource | undefined;
  // A newer client's condition (no profile here is known to meet it): a 404 makes every client sign by itself.
  const known = url.pathname === CREDENTIALS_PATH ? SELECTOR_PARAMS : ["config"];
  const unknown = [...url.searchParams.keys()].find((name) => !known.includes(name));
  if (unknown !== undefined && (url.pathname === CREDENTIALS_PATH || url.pathname.startsWith(`${CREDENTIALS_PATH}/`))) {
    const message = `this agent does not know the request's ${JSON.stringify(unknown)}: it cannot tell whether a profile meets it`;
    return send(res, 404, { Code: "NoMatchingProfile", Message: message });
  }
  if (url.pathname.startsWith(`${CREDENTIALS_PATH}/`)) {
    const name = percentDecoded(url.pathname.slice(CREDENTIALS_PATH.length + 1));
    source = sources.get(name);
    if (!source) return send(res, 404, { Code: "ProfileNotFound", Message: `the agent has no profile named ${JSON.stringify(name)}` });
    // A client's --config: its "gw" may be another certificate or role than this agent's "gw", from another file.
    const config = url.searchParams.get("config");
    if (config !== null && config !== configPath) {
      const message = `the agent's profile ${JSON.stringify(name)} comes from ${JSON.stringify(configPath ?? "(no file)")}, not ${JSON.stringify(config)}`;
      return send(res, 404, { Code: "NoMatchingProfile", Message: message });
    }
  } else if (url.pathname === CREDENTIALS_PATH) {
    const q = url.searchParams;
    const [trustAnchorArn, profileArn, roleArn] = [q.get("trust-anchor-arn"), q.get("profile-arn"), q.get("role-arn")];
    if (!trustAnchorArn || !profileArn || !roleArn) {
      const message = "give /v1/credentials/<profile>, or trust-anchor-arn, profile-arn and role-arn";
      return send(res, 400, { Code: "InvalidRequest", Message: message });
    }
    // Exact ARNs, and the same role session name (or none on both sides), since it shows in CloudTrail.
    const sessionName = q.get("role-session-name") || undefined;
    const sameArns = sources.all().filter(({ settings: { session: s } }) => {
      const arns = s.trustAnchorArn === trustAnchorArn && s.profileArn === profileArn && s.roleArn === roleArn;
      return arns && (s.roleSessionName ?? undefined) === sessionName;
    });
    // The client's conditions against the profile's own: another certificate, duration or endpoint is another answer.
    const unmet = (s: CredentialSource) => CONDITION_NAMES.find((n) => q.has(n) && conditionsOf(s.settings)?.[n] !== q.get(n));
    source = sameArns.find((s) => unmet(s) === undefined);
    if (!source) {
      const [first] = sameArns;
      const name = first && unmet(first);
      const message = first && name
        ? `profile ${JSON.stringify(first.name)} has these ARNs but another ${name}: ${JSON.stringify(conditionsOf(first.settings)?.[name] ?? "(not comparable)")}, not ${JSON.stringify(q.get(name))}`
        : "no profile of the agent has these ARNs";
      return send(res, 404, { Code: "NoMatchingProfile", Message: message });
    }
  } else {
    return send(res, 404, { Code: "NotFound", Message: "unknown path" });
  }
  try {
    sendCredentials(res, toCredentialProcessOutput(await source.get()));
  } catch (error) {
    const agentError = error instanceof AgentError ? error : new AgentError("INTERNAL", "internal error");
    send(res, 503, { Code: agentError.code, Message: `${source.name}: ${agentError.toOneLine()}` });
  }
}

const conditionsCache = new WeakMap<CredentialSettings, RequestConditions | undefined>();

function conditionsOf(settings: CredentialSettings): RequestConditions | undefined {
  if (!conditionsCache.has(settings)) {
    let conditions: RequestConditions | undefined;
    try {
      conditions = requestConditions(settings);
    } catch {
      conditions = undefined; // a profile whose endpoint cannot be resolved meets no condition
    }
    conditionsCache.set(settings, conditions);
  }
  return conditionsCache.get(settings);
}

function statusOf(source: CredentialSource) {
  const st = source.status();
  return {
    name: source.name,
    roleArn: source.settings.session.roleArn,
    state: st.state,
    expiration: st.expiration ? formatExpiration(st.expiration) : null,
    servedUntil: st.servedUntil ? formatExpiration(st.servedUntil) : null,
    refreshAt: st.refreshAt ? formatExpiration(st.refreshAt) : null,
    lastError: st.lastError ?? null,
    certificate: certificateStatusJson(source.certificate()),
  };
}

/**
 * The credentials as goJsonStringify writes them, straight into bytes wiped once sent: JSON.stringify's text of them
 * would be one more string of the secret key and token, which V8 keeps until its memory is reused (an agent's memory
 * held an old session's keys 3 times: native-test/secret-in-memory-old-credentials.test.ts).
 */
export function servedCredentials(output: CredentialProcessOutput): Buffer {
  // Base64 and ISO dates need no escape; anything else takes goJsonStringify's own (a string, rare: never AWS's).
  const plain = (v: string) => !/["\\\u0000-\u001f<>&\u2028\u2029\ud800-\udfff\u007f-\uffff]/.test(v);
  const fields = Object.entries(output).map(([name, value]) => [`"${name}":`, value] as const);
  const pieces = fields.map(([name, value]) =>
    [name, typeof value === "string" && plain(value) ? ["\"", value, "\""] : [goJsonStringify(value)]] as const);
  const size = (parts: readonly string[]) => parts.reduce((m, p) => m + Buffer.byteLength(p), 0);
  const out = secretBytes(pieces.reduce((n, [name, parts]) => n + size([name, ...parts]), 1 + pieces.length));
  let at = out.write("{");
  pieces.forEach(([name, parts], i) => {
    at += out.write(name, at);
    for (const part of parts) at += out.write(part, at);
    at += out.write(i === pieces.length - 1 ? "}" : ",", at);
  });
  return out;
}

function sendCredentials(res: ServerResponse, output: CredentialProcessOutput): void {
  const body = servedCredentials(output);
  const wipe = () => body.fill(0);
  res.once("finish", wipe).once("close", wipe);
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store", "content-length": body.length });
  res.end(body);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
