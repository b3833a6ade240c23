import { chmod } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { certificateStatusJson } from "../credentials/certificate-watch.js";
import type { CredentialSource } from "../credentials/credential-source.js";
import { goJsonStringify, toCredentialProcessOutput, formatExpiration } from "../rolesanywhere/credentials.js";
import { AgentError, UsageError } from "../errors.js";
import { loadNativeHelper } from "../os/native-helper.js";
import { isTrustedPeerUid, peerOf } from "./socket-trust.js";

/** The agent's view of its sources (a SourceRegistry). */
export interface AgentSources {
  get(name: string): CredentialSource | undefined;
  all(): CredentialSource[];
}

export type AgentListen = { readonly path: string } | { readonly fd: number };

export interface RunningAgentServer {
  /** The socket path, or `fd:3` under socket activation. */
  readonly address: string;
  close(): Promise<void>;
}

/** What a client asks for: a profile by name, or whichever profile has exactly these ARNs. */
export interface RoleSelector {
  readonly trustAnchorArn: string;
  readonly profileArn: string;
  readonly roleArn: string;
  readonly roleSessionName?: string | undefined;
}

export const CREDENTIALS_PATH = "/v1/credentials";

/**
 * The agent's HTTP/1.1 API on its UNIX socket (plain HTTP so that `curl --unix-socket` is a client):
 * - `GET /v1/credentials/<profile>`: the credential_process JSON (200), an error document
 *   `{"Code","Message"}` with 503 when the profile has no usable credentials, 404 for an unknown profile;
 * - `GET /v1/credentials?trust-anchor-arn=…&profile-arn=…&role-arn=…[&role-session-name=…]`: the same, for
 *   the profile whose ARNs (and session name) match exactly;
 * - `GET /v1/status`: per profile, the cache state and expiry (never a credential).
 *
 * A client whose peer credentials (SO_PEERCRED, through the native helper) show another user than the agent's
 * own, or root, is disconnected before its request is read, as ssh-agent does: the socket's 0700 directory
 * already keeps others out, this holds even if someone opens it up. Without the native helper the directory
 * is the only guard (SECURITY.md).
 */
export async function startAgentServer(sources: AgentSources, listen: AgentListen, uid: number = process.getuid?.() ?? 0): Promise<RunningAgentServer> {
  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    handle(sources, req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { Code: "INTERNAL", Message: "internal error" });
      else res.destroy();
    });
  });
  const { helper } = loadNativeHelper();
  if (helper) {
    server.on("connection", (socket: Socket) => {
      try {
        const peer = peerOf(socket, helper);
        if (peer && !isTrustedPeerUid(peer.uid, uid)) socket.destroy();
      } catch {
        socket.destroy();
      }
    });
  }
  await listenOn(server, listen);
  if ("path" in listen) await chmod(listen.path, 0o600);
  return {
    address: "path" in listen ? listen.path : `fd:${listen.fd}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(sources: AgentSources, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://agent");
  if (req.method !== "GET") return sendJson(res, 405, { Code: "MethodNotAllowed", Message: "use GET" });
  if (url.pathname === "/v1/status") return sendJson(res, 200, { profiles: sources.all().map(statusOf) });
  let source: CredentialSource | undefined;
  if (url.pathname.startsWith(`${CREDENTIALS_PATH}/`)) {
    const name = decodeURIComponent(url.pathname.slice(CREDENTIALS_PATH.length + 1));
    source = sources.get(name);
    if (!source) return sendJson(res, 404, { Code: "ProfileNotFound", Message: `the agent has no profile named ${JSON.stringify(name)}` });
  } else if (url.pathname === CREDENTIALS_PATH) {
    const selector = selectorFrom(url.searchParams);
    if (!selector) {
      return sendJson(res, 400, { Code: "InvalidRequest", Message: "give /v1/credentials/<profile>, or trust-anchor-arn, profile-arn and role-arn" });
    }
    source = sources.all().find((s) => matches(s, selector));
    if (!source) return sendJson(res, 404, { Code: "NoMatchingProfile", Message: "no profile of the agent has these ARNs" });
  } else {
    return sendJson(res, 404, { Code: "NotFound", Message: "unknown path" });
  }
  try {
    const credentials = await source.get();
    send(res, 200, goJsonStringify(toCredentialProcessOutput(credentials)));
  } catch (error) {
    const agentError = error instanceof AgentError ? error : new AgentError("INTERNAL", "internal error");
    sendJson(res, 503, { Code: agentError.code, Message: `${source.name}: ${agentError.toOneLine()}` });
  }
}

function selectorFrom(params: URLSearchParams): RoleSelector | undefined {
  const trustAnchorArn = params.get("trust-anchor-arn");
  const profileArn = params.get("profile-arn");
  const roleArn = params.get("role-arn");
  if (!trustAnchorArn || !profileArn || !roleArn) return undefined;
  return { trustAnchorArn, profileArn, roleArn, roleSessionName: params.get("role-session-name") ?? undefined };
}

/** Exact ARNs, and the same role session name (or none on both sides), since it shows in CloudTrail. */
export function matches(source: CredentialSource, selector: RoleSelector): boolean {
  const s = source.settings.session;
  return (
    s.trustAnchorArn === selector.trustAnchorArn &&
    s.profileArn === selector.profileArn &&
    s.roleArn === selector.roleArn &&
    (s.roleSessionName ?? undefined) === (selector.roleSessionName || undefined)
  );
}

function statusOf(source: CredentialSource) {
  const st = source.status();
  return {
    name: source.name,
    roleArn: source.settings.session.roleArn,
    state: st.state,
    expiration: st.expiration ? formatExpiration(st.expiration) : null,
    refreshAt: st.refreshAt ? formatExpiration(st.refreshAt) : null,
    lastError: st.lastError ?? null,
    certificate: certificateStatusJson(source.certificate()),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON.stringify(body));
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function listenOn(server: Server, listen: AgentListen): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(new UsageError("LISTEN_FAILED", `cannot listen on ${"path" in listen ? listen.path : `fd ${listen.fd}`}: ${error.code ?? error.message}`, { cause: error }));
    server.once("error", onError);
    const done = () => {
      server.off("error", onError);
      resolve();
    };
    // A deep backlog so that a burst of clients (parallel SDK tests) is queued, not refused with EAGAIN.
    if ("path" in listen) server.listen({ path: listen.path, backlog: 4096 }, done);
    else server.listen({ fd: listen.fd, backlog: 4096 }, done);
  });
}
