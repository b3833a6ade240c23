import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import { closeServer, listenTcp, unbracketed, urlHost } from "../io/listen-tcp.js";
import type { AddressInfo, Socket } from "node:net";
import { formatExpiration, goJsonStringify, type Credentials } from "../rolesanywhere/credentials.js";
import { AgentError, UsageError, isAgentError } from "../errors.js";
import type { EcsConsumerLookup } from "./ecs-consumers.js";
import { startTlsServer, takeHandshake, type TlsFilePaths } from "./tls-files.js";
import { ImdsTokenStore } from "./imds-tokens.js";
import { isLoopbackAddress } from "./loopback.js";
import { percentDecoded } from "../rolesanywhere/proxy.js";
import { createRequestGuard } from "./request-guard.js";
import { capConnections, connectionCaps, stopCostlyRequests, SERVER_OPTIONS } from "./connection-caps.js";

/** Where a role's credentials come from (a CredentialSource, in practice). */
type RoleLookup = (role: string) => { get(): Promise<Credentials>; cached?(): Credentials | undefined } | undefined;

interface CredentialServerOptions {
  readonly roles: RoleLookup;
  /** IMDSv2 emulation (aws_signing_helper's `serve`); `defaultRole` is the name listed to SDKs. */
  readonly imds?: { readonly defaultRole: () => string | undefined; readonly allowWithEcs?: boolean };
  /** ECS container-credentials endpoint; each consumer's token selects its role. */
  readonly ecs?: { readonly consumers: EcsConsumerLookup };
  readonly host: string;
  readonly port: number;
  /** The host consumers are given in the URL (advertise-host.ts); default: `host`. */
  readonly advertiseHost?: string;
  /** HTTPS with these files, re-read when they change (ECS only). */
  readonly tls?: TlsFilePaths & { readonly reloadIntervalMs?: number };
  readonly allowPlainHttp?: boolean;
  /** Lines about the server itself (TLS reloads, a user over a cap). */
  readonly log?: (line: string) => void;
}

export interface RunningCredentialServer {
  readonly host: string;
  readonly port: number;
  /** Base URL with the advertised host, e.g. `http://127.0.0.1:9911` or `https://10.0.3.7:9912`. */
  readonly url: string;
  close(): Promise<void>;
}

export const ECS_PATH = "/v1/credentials";
const TOKEN_PATH = "/latest/api/token";
const ROLES_PATH = "/latest/meta-data/iam/security-credentials";
const TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds";
// Made once: a template literal in a handler builds a new string on every request.
const ECS_PATH_SLASH = `${ECS_PATH}/`;
const TOKEN_PREFIX = `${TOKEN_PATH}/`;
const ROLES_PREFIX = `${ROLES_PATH}/`;

/**
 * Serves credentials over HTTP: IMDSv2 paths (AWS_EC2_METADATA_SERVICE_ENDPOINT) and/or the ECS path
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI + a per-consumer token). A role without credentials gets IMDS 503 or ECS
 * 500 with the one-line reason, never empty or expired ones. Requests that could come from a web page are
 * refused before anything else (request-guard.ts: DNS rebinding, browser-only headers).
 */
export async function startCredentialServer(options: CredentialServerOptions): Promise<RunningCredentialServer> {
  checkEndpointChoice({ ...options, allowImdsWithEcs: options.imds?.allowWithEcs });
  const tokens = new ImdsTokenStore();
  // Synchronous on a cache hit: a promise per request costs serve a tenth of its throughput.
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    try {
      handle(req, res)?.catch((error: unknown) => failed(res, error));
    } catch (error) {
      failed(res, error);
    }
  };
  const tls = options.tls ? await startTlsServer(options.tls, listener, options.log ?? (() => {}), options.tls.reloadIntervalMs) : undefined;
  const server: Server | HttpsServer = tls?.server ?? createServer(SERVER_OPTIONS, listener);
  capConnections(server, connectionCaps(), options.log ?? (() => {}), undefined, tls && takeHandshake(tls.server));
  stopCostlyRequests(server, tls ? "secureConnection" : "connection");
  // The peer's address is its connection's: checked once when the connection opens (before Node's HTTP listener
  // reads from it), not on each of its requests. A socket not seen here counts as not loopback.
  server.prependListener(tls ? "secureConnection" : "connection", (socket: PeerSocket) => {
    if (isLoopbackAddress(socket.remoteAddress)) socket[LOOPBACK_PEER] = true;
    // A connection that sends nothing is closed here at headersTimeout. Node 20–24 close it too, with a 408, but only at
    // their next connectionsCheckingInterval tick after it: this one does not depend on that interval.
    const idle = setTimeout(() => socket.bytesRead === 0 && socket.destroy(), SERVER_OPTIONS.headersTimeout).unref();
    socket.once("close", () => clearTimeout(idle));
  });

  let refusalOf: ReturnType<typeof createRequestGuard> | undefined;
  // The IMDS response of the credentials served last, for the second it was made in (LastUpdated is in seconds).
  let imdsDocument: { credentials: Credentials; second: number; response: JsonResponse } | undefined;
  const ecsDocuments = new WeakMap<Credentials, JsonResponse>();
  let lastRole: { readonly path: string; readonly role: string; readonly nested: boolean } | undefined;
  function handle(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const url = req.url ?? "/";
    const refusal = refusalOf!(req.headers);
    // A client asks for the same credentials path on every request: the one routed last (never with a query).
    if (refusal === undefined && url === lastRole?.path) return imdsCredentials(req, res, url);
    const query = url.indexOf("?");
    const path = query < 0 ? url : url.slice(0, query);
    if (refusal) {
      if (path.startsWith(ECS_PATH)) return send(res, 403, ecsErrorBody("RequestRefused", refusal), JSON_CONTENT);
      return send(res, 403, `${refusal}\n`);
    }
    if (options.ecs && (path === ECS_PATH || path === ECS_PATH_SLASH)) return ecs(req, res, options.ecs.consumers);
    if (options.imds && (path === TOKEN_PATH || path.startsWith(TOKEN_PREFIX))) return imdsToken(req, res);
    if (options.imds && (path === ROLES_PATH || path.startsWith(ROLES_PREFIX))) return imdsCredentials(req, res, path);
    send(res, 404, "404 page not found\n");
  }

  function imdsToken(req: IncomingMessage, res: ServerResponse): void {
    if (!fromLoopback(req)) return send(res, 403, "forbidden\n");
    if (req.method !== "PUT") return send(res, 405, "", { allow: "PUT" });
    if (req.headers["x-forwarded-for"] !== undefined) return send(res, 400, "unable to process requests with X-Forwarded-For header");
    // Repeated: the first value, as Go's Header.Get (Node joins them with ", ").
    const ttlText = req.headersDistinct[TTL_HEADER]?.[0];
    const ttl = ImdsTokenStore.parseTtl(ttlText);
    if (ttl === undefined) return send(res, 400, "invalid token TTL");
    send(res, 200, tokens.issue(ttl), { [TTL_HEADER]: ttlText ?? String(ttl) });
  }

  function imdsCredentials(req: IncomingMessage, res: ServerResponse, path: string): void | Promise<void> {
    if (!fromLoopback(req)) return send(res, 403, "forbidden\n");
    if (req.method !== "GET") return send(res, 405, "", { allow: "GET" });
    // Repeated, Node joins it ("a, b"; only set-cookie is an array): never a valid token, so two are never worth more
    // than one (Go's Header.Get would take the first).
    const header = req.headers["x-aws-ec2-metadata-token"] as string | undefined;
    const now = Date.now();
    const check = tokens.check(header, now);
    if (!check.ok) return send(res, 401, check.reason === "missing" ? "no token provided" : "invalid token provided");
    if (lastRole?.path !== path) {
      const role = percentDecoded(path.slice(ROLES_PATH.length).replace(/^\/|\/$/g, ""));
      lastRole = { path, role, nested: role.includes("/") };
    }
    const role = lastRole.role;
    if (role === "") {
      const name = options.imds!.defaultRole();
      if (!name) return send(res, 404, "no role is configured\n");
      return send(res, 200, name, { [TTL_HEADER]: String(check.remainingSeconds) });
    }
    const source = lastRole.nested ? undefined : options.roles(role);
    if (!source) return send(res, 404, `role ${JSON.stringify(role)} is not served here\n`);
    const hit = source.cached?.();
    if (hit) return sendImdsDocument(res, hit, now);
    return source.get().then((c) => sendImdsDocument(res, c, Date.now()), (error: unknown) => send(res, 503, `credentials for ${role} are unavailable: ${oneLine(error)}\n`));
  }

  function sendImdsDocument(res: ServerResponse, credentials: Credentials, now: number): void {
    const second = Math.floor(now / 1000);
    if (imdsDocument?.credentials !== credentials || imdsDocument.second !== second) {
      imdsDocument = { credentials, second, response: jsonResponse(imdsCredentialsBody(credentials, new Date(now))) };
    }
    const { headers, body, encoding } = imdsDocument.response;
    res.writeHead(200, headers).end(body, encoding);
  }

  function sendEcsDocument(res: ServerResponse, credentials: Credentials): void {
    let response = ecsDocuments.get(credentials);
    if (!response) ecsDocuments.set(credentials, (response = jsonResponse(ecsCredentialsBody(credentials))));
    res.writeHead(200, response.headers).end(response.body, response.encoding);
  }

  function ecs(req: IncomingMessage, res: ServerResponse, consumers: EcsConsumerLookup): void | Promise<void> {
    const json = JSON_CONTENT;
    const notGet = ecsErrorBody("MethodNotAllowed", "use GET");
    if (req.method !== "GET") return send(res, 405, notGet, { ...json, allow: "GET" });
    if ((req.url ?? "").includes("?")) {
      // Tokens in URLs end up in logs and are what SSRF exploits; only the Authorization header is accepted.
      return send(res, 400, ecsErrorBody("InvalidRequest", "query strings are not accepted; send the token in the Authorization header"), json);
    }
    const header = req.headers.authorization;
    if (!header) return send(res, 401, ecsErrorBody("NoToken", "the Authorization header with the consumer token is missing"), json);
    const consumer = consumers.find(header);
    if (!consumer) return send(res, 403, ecsErrorBody("InvalidToken", "the Authorization token is not valid"), json);
    const source = options.roles(consumer.role);
    if (!source) return send(res, 500, ecsErrorBody("RoleNotConfigured", `role ${consumer.role} is no longer configured`), json);
    const hit = source.cached?.();
    if (hit) return sendEcsDocument(res, hit);
    const unavailable = (error: unknown) =>
      send(res, 500, ecsErrorBody(isAgentError(error) ? error.code : "INTERNAL", `credentials for ${consumer.role} are unavailable: ${oneLine(error)}`), json);
    return source.get().then((c) => sendEcsDocument(res, c), unavailable);
  }

  try {
    await listenTcp(server, unbracketed(options.host), options.port);
  } catch (error) {
    tls?.stop();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const advertised = options.advertiseHost ?? address.address;
  refusalOf = createRequestGuard({ host: options.host, port: address.port, advertisedHost: advertised });
  return {
    host: address.address,
    port: address.port,
    url: `${tls ? "https" : "http"}://${urlHost(advertised)}:${address.port}`,
    close: () => {
      tls?.stop();
      return closeServer(server);
    },
  };
}

/**
 * The endpoint choices `startCredentialServer` refuses, checkable before any signer is opened (see runServe).
 * `imds`, `ecs` and `tls` are on when set.
 */
export function checkEndpointChoice(choice: { imds?: unknown; ecs?: unknown; allowImdsWithEcs?: boolean | undefined; host: string; tls?: unknown; allowPlainHttp?: boolean }): void {
  if (!choice.imds && !choice.ecs) throw new UsageError("USAGE", "nothing to serve: enable the IMDS endpoint, the ECS endpoint, or both");
  if (choice.imds && choice.tls) {
    throw new UsageError("USAGE", "TLS (--tls-certificate) is for the ECS endpoint; the IMDS endpoint is plain HTTP on loopback", {
      hint: "serve --ecs alone with TLS, and IMDS (if needed) from a second serve on loopback",
    });
  }
  if (choice.imds && !isLoopbackAddress(choice.host)) {
    throw new UsageError("USAGE", `the IMDS endpoint can only listen on loopback, not ${choice.host}`, {
      hint: "IMDS tokens are handed to anyone who asks: serve only the ECS endpoint (per-consumer tokens) on other addresses",
    });
  }
  if (choice.ecs && !choice.tls && !choice.allowPlainHttp && !isLoopbackAddress(choice.host)) {
    throw new UsageError("USAGE", `the ECS endpoint on ${choice.host} would send tokens and credentials over the network in clear`, {
      hint: "give --tls-certificate and --tls-key (SDKs accept https:// on any host), or --allow-plain-http if the network is private to this host",
    });
  }
  if (choice.imds && choice.ecs && !choice.allowImdsWithEcs) {
    throw new UsageError("USAGE", "--imds with --ecs would give every local user every role through IMDS, which voids the ECS consumer tokens", {
      hint: "serve --ecs alone for token-holding consumers only, or add --allow-open-imds to serve both anyway",
    });
  }
}

const LOOPBACK_PEER = Symbol("loopbackPeer");
type PeerSocket = Socket & { [LOOPBACK_PEER]?: true };

/** Whether the request's connection comes from a loopback address (marked when it opened; see startCredentialServer). */
function fromLoopback(req: IncomingMessage): boolean {
  return (req.socket as PeerSocket)[LOOPBACK_PEER] === true;
}

const JSON_CONTENT = { "content-type": "application/json" };

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    ...headers,
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

const failed = (res: ServerResponse, error: unknown) => void (res.headersSent ? res.destroy(error as Error) : send(res, 500, "internal error\n"));

/** A 200 JSON document made once per credentials (and second, for IMDS), sent as is until they change. */
// A string body goes out in one chunk with the headers (a Buffer in two). An ASCII one is written as latin1, the
// same bytes: Node copies them as they are instead of encoding each character to UTF-8 (~500 instructions a request).
type JsonResponse = { readonly body: string; readonly encoding: "latin1" | "utf8"; readonly headers: string[] };

function jsonResponse(body: string): JsonResponse {
  const length = Buffer.byteLength(body);
  return {
    body,
    encoding: length === body.length ? "latin1" : "utf8",
    headers: ["content-type", "application/json", "cache-control", "no-store", "content-length", String(length)],
  };
}

/** The reason a client is shown: an AgentError's line; any other error's text is not sent (unlike daemon/signals' oneLine). */
function oneLine(error: unknown): string {
  if (error instanceof AgentError) return error.toOneLine();
  return "internal error";
}

/** The IMDS credentials document, keys in aws_signing_helper's order, with json.Encoder's trailing newline. */
function imdsCredentialsBody(c: Credentials, now: Date): string {
  return (
    goJsonStringify({
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      Token: c.sessionToken,
      Code: "Success",
      Type: "AWS-HMAC",
      Expiration: formatExpiration(c.expiration),
      LastUpdated: formatExpiration(now),
    }) + "\n"
  );
}

function ecsCredentialsBody(c: Credentials): string {
  return goJsonStringify({
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    Token: c.sessionToken,
    Expiration: formatExpiration(c.expiration),
  });
}

/** The error document the SDKs' ECS/HTTP providers read (`code`, `message`). */
function ecsErrorBody(code: string, message: string): string {
  return JSON.stringify({ code, message });
}
