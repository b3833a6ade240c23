import { randomUUID } from "node:crypto";
import { closeServer, listenTcp, urlHost } from "../io/listen-tcp.js";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { dropFailures } from "../debug-log.js";
import { cutAt, escapeControls, isAgentError, MAX_ERROR_TEXT, MAX_LOG_LINE, ServiceError, UsageError } from "../errors.js";
import { isPlainObject, wrongOption, type Kinds } from "../own-value.js";
import { Certificate } from "../x509/certificate.js";
import { loadLocalEndpointConfig, parseLocalEndpointConfig, type LocalEndpointConfig, type LocalEndpointConfigInput } from "./config.js";
import { createSessionResponseBody } from "./create-session-response.js";
import { InjectedFailures, type ExpirationFault } from "./injected-failures.js";
import { RateLimit, retryAfterSeconds, THROTTLED } from "./rate-limit.js";
import { IssuedCredentialStore, type IssuedSession } from "./issued-credentials.js";
import { getCallerIdentityXml, stsErrorXml } from "./sts-responses.js";
import { rejection } from "./rejections.js";
import { verifyStsRequest } from "./sts-verify.js";
import { loadTrustAnchors, type TrustAnchorSource } from "./trust-anchors.js";
import { verifyCreateSessionRequest, type CreateSessionPolicy } from "./verify-request.js";
import type { SignatureVerifiers } from "./verify-signature.js";
import { wireRequest } from "./wire-request.js";
import { useTlsPair } from "../serve/tls-files.js";

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_LOG_ENTRIES = 1000;

/** X-Amz-X509-Chain with ML-DSA certificates outgrows Node's default 16 KiB header limit. */
const MAX_HEADER_BYTES = 128 * 1024;

export interface LocalEndpointOptions {
  /** CA certificates that anchor client chains: certificates, PEM bundle / DER paths, or PEM text. */
  trustAnchors: TrustAnchorSource | readonly TrustAnchorSource[];
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The region requests must be scoped to; default us-east-1. */
  region?: string;
  /**
   * Serve HTTPS with this PEM certificate (chain) and key. `names`: how errors name them, e.g. the files they were read
   * from (default `tls.cert` and `tls.key`).
   */
  tls?: { cert: string | Buffer; key: string | Buffer; names?: { readonly cert: string; readonly key: string } };
  /** Allowed profiles and roles: the JSON object, a parsed config, or a path to a JSON file. */
  config?: LocalEndpointConfigInput | LocalEndpointConfig | string;
  /** The endpoint's clock (tests move it). */
  clock?: () => Date;
  /** Called once per request, after the answer is sent. Entries never hold credentials. */
  onRequest?: (entry: RequestLogEntry) => void;
  /** Signature verifiers per key type, replacing the defaults (RSA, EC, ML-DSA-44/65/87). */
  verifiers?: SignatureVerifiers;
  /**
   * At most this many CreateSession requests per second, across all callers (a sliding one-second window);
   * above it the answer is the service's HTTP 429 `ThrottlingException` ("Rate exceeded") with a `Retry-After`.
   * Measured on a monotonic real-time clock, not `clock`. Default: no limit.
   */
  rateLimit?: number;
}

export type Operation = "CreateSession" | "STS" | "Unknown";

/** One handled request, for logs and test assertions. */
export interface RequestLogEntry {
  readonly time: Date;
  readonly method: string;
  /** The path without the query. */
  readonly path: string;
  readonly operation: Operation;
  readonly status: number;
  /** The service error type (`AccessDeniedException`, `SignatureDoesNotMatch`, …) when the request failed. */
  readonly errorType: string | undefined;
  /** Why it failed, or what was granted. */
  readonly reason: string;
}

export interface LocalEndpoint {
  /** `http://127.0.0.1:<port>` (https with TLS); IPv6 hosts in brackets. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly region: string;
  /** Credentials issued so far (oldest first), with their role, session name and expiry. */
  readonly issued: readonly IssuedSession[];
  /** The last 1000 requests, oldest first. */
  readonly requests: readonly RequestLogEntry[];
  /** Answers the next `count` CreateSession requests with `status` (default 503) before any check. */
  failNext(count: number, status?: number): void;
  /** Issues the next `count` sessions already expired an hour ago (`past`, default) or with an expiration that is not a time. */
  expireNext(count: number, form?: ExpirationFault): void;
  close(): Promise<void>;
}

const isPem = (v: unknown) => typeof v === "string" || Buffer.isBuffer(v);
const isAnchor = (v: unknown) => typeof v === "string" || v instanceof Certificate;
const isAnchors = (v: unknown) => (Array.isArray(v) ? v.every(isAnchor) : isAnchor(v));
const areNames = (v: unknown) => isPlainObject(v) && typeof v["cert"] === "string" && typeof v["key"] === "string";
const areFunctions = (v: unknown) => isPlainObject(v) && Object.values(v).every((f) => typeof f === "function");
/** {@link LocalEndpointOptions}' types, for callers in plain JavaScript. */
const OPTION_KINDS: Kinds = {
  trustAnchors: [isAnchors, "a CA certificate (path or PEM text), or an array of them"],
  port: [(v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535, "a port number from 0 to 65535"],
  host: [(v) => typeof v === "string" && v !== "", "a host name or address (\"\" would be every interface)"],
  tls: [(v) => isPlainObject(v) && isPem(v["cert"]) && isPem(v["key"]) && (v["names"] === undefined || areNames(v["names"])), "{ cert, key }: PEM strings or Buffers (names: { cert, key } strings)"],
  config: [(v) => typeof v === "string" || isPlainObject(v), "a path or an object"],
  verifiers: [areFunctions, "an object of functions"],
  region: "string", clock: "function", onRequest: "function", rateLimit: "number",
};
const OPTIONS_HINT = "see docs/local-endpoint.md for startLocalEndpoint's options";

/**
 * Starts a CreateSession endpoint that verifies requests as IAM Roles Anywhere does and issues random,
 * remembered credentials, plus an STS GetCallerIdentity endpoint that accepts them.
 */
export async function startLocalEndpoint(options: LocalEndpointOptions): Promise<LocalEndpoint> {
  const wrong = wrongOption(options, OPTION_KINDS, { required: ["trustAnchors"] });
  if (wrong) throw new UsageError("USAGE", wrong, { hint: OPTIONS_HINT });
  const region = options.region ?? "us-east-1";
  const clock = options.clock ?? (() => new Date());
  const policy: CreateSessionPolicy = {
    region,
    trustAnchors: await loadTrustAnchors(options.trustAnchors),
    config: await resolveConfig(options.config),
    verifiers: options.verifiers,
  };
  const store = new IssuedCredentialStore();
  const failures = new InjectedFailures();
  const rateLimit = options.rateLimit === undefined ? undefined : new RateLimit(options.rateLimit, () => performance.now());
  const log: RequestLogEntry[] = [];
  const onRequest = dropFailures(options.onRequest);

  const record = (fields: Omit<RequestLogEntry, "time">) => {
    // A reason quotes the request (an ARN, a certificate's name): its control characters would forge log lines,
    // and its length (a 1 MiB body) flood them; a path (128 KiB) is cut at a log line's length: 1000 are kept.
    const entry = {
      ...fields, time: new Date(), path: cutAt(fields.path, MAX_LOG_LINE), reason: cutAt(escapeControls(fields.reason), MAX_ERROR_TEXT),
    };
    log.push(entry);
    if (log.length > MAX_LOG_ENTRIES) log.shift();
    // The caller's clock and listener run after the answer: one that throws (a failed assertion) must not
    // become an unhandled rejection, which ends the process, or stop the endpoint (nor a listener's rejection).
    try {
      entry.time = clock();
      onRequest?.(entry);
    } catch {
      /* dropped */
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const target = req.url ?? "/";
    const path = target.split("?", 1)[0]!;
    const method = req.method ?? "GET";
    const operation: Operation = path === "/sessions" ? "CreateSession" : path === "/" ? "STS" : "Unknown";
    const answer = (status: number, body: string, type: string, reason: string, errorType?: string, extraHeaders: Record<string, string> = {}) => {
      res.writeHead(status, {
        "content-type": type,
        "content-length": Buffer.byteLength(body),
        "x-amzn-requestid": requestId,
        date: clock().toUTCString(), // the endpoint's clock, as the service's Date is its own
        ...(errorType ? { "x-amzn-errortype": errorType } : {}),
        ...extraHeaders,
      });
      res.end(body);
      record({ method, path, operation, status, errorType, reason });
    };
    const jsonError = (status: number, errorType: string, message: string) =>
      answer(status, JSON.stringify({ message }), "application/json", message, errorType);

    const body = await readBody(req);
    if (body === null) return jsonError(400, "ValidationException", "The connection closed before the body's end");
    if (!body) return jsonError(413, "ValidationException", "Request body exceeds 1 MiB");
    const wire = wireRequest(method, target, req.rawHeaders, body);
    try {
      if (operation === "CreateSession" && method === "POST") {
        const decision = rateLimit?.take();
        if (decision && !decision.admitted) {
          const seconds = retryAfterSeconds(decision.retryAfterMs);
          const reason = `${THROTTLED.message} (more than ${rateLimit!.perSecond} CreateSession requests in one second; Retry-After: ${seconds})`;
          const message = JSON.stringify({ message: THROTTLED.message });
          return answer(THROTTLED.status, message, "application/json", reason, THROTTLED.errorType, { "retry-after": String(seconds) });
        }
        const injected = failures.take();
        if (injected) return jsonError(injected.status, injected.errorType, `injected failure (${failures.remaining} left)`);
        const now = clock();
        const verified = await verifyCreateSessionRequest(wire, policy, now);
        const badExpiration = failures.takeExpiration();
        const session = store.issue(verified, now, badExpiration === "past" ? 3600_000 : undefined);
        const admittedAt = decision ? `; admitted at ${decision.at} ms on the rate limit's monotonic clock` : "";
        const reason = `issued ${badExpiration ? `(injected: ${badExpiration} expiration) ` : ""}${verified.durationSeconds}s session for ${verified.roleArn} to certificate serial ${verified.leaf.serialDecimal}`;
        const body = createSessionResponseBody(session, verified.leaf, region, badExpiration === "unparsable" ? "tomorrow, probably" : undefined);
        return answer(201, body, "application/json", reason + admittedAt);
      }
      if (operation === "STS" && (method === "POST" || method === "GET")) {
        const call = verifyStsRequest(wire, store, clock());
        if (call.action !== "GetCallerIdentity") {
          throw rejection(400, "InvalidAction", `Could not find operation ${call.action} for version ${call.version ?? "NO_VERSION_SPECIFIED"}`);
        }
        return answer(200, getCallerIdentityXml(call.session, requestId), "text/xml", `GetCallerIdentity ${call.session.assumedRoleArn}`);
      }
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      if (operation === "CreateSession") return jsonError(error.status, error.serviceCode, error.message);
      const xml = stsErrorXml(error.serviceCode, error.message, requestId, error.status);
      return answer(error.status, xml, "text/xml", error.message, error.serviceCode);
    }
    return jsonError(404, "UnknownOperationException", `No operation for ${method} ${path}: use POST /sessions (CreateSession) or POST / (STS)`);
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      const message = `internal error: ${isAgentError(error) ? error.toOneLine() : error instanceof Error ? error.message : String(error)}`;
      const body = JSON.stringify({ message });
      const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
      if (res.headersSent) res.destroy();
      else res.writeHead(500, { ...headers, "x-amzn-errortype": "InternalServerException" }).end(body);
      const [method, path] = [req.method ?? "GET", (req.url ?? "/").split("?", 1)[0]!];
      const errorType = "InternalServerException";
      record({ method, path, operation: "Unknown", status: 500, errorType, reason: message });
    });
  };
  const { tls } = options;
  // serve's reader of a TLS pair: the file signer's rules on every Node, the key's copies wiped (not the caller's).
  const https = (cert: Buffer, key: Buffer): Server => createHttpsServer({ cert, key, maxHeaderSize: MAX_HEADER_BYTES }, listener);
  const notAFile = { mtimeMs: 0, size: 0, ino: 0 };
  const server = tls
    ? (await useTlsPair({ certificate: tls.names?.cert ?? "tls.cert", key: tls.names?.key ?? "tls.key" }, Buffer.from(tls.cert), { bytes: Buffer.from(tls.key), stamp: notAFile }, https)).used
    : createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, listener);
  await listenTcp(server, options.host ?? "127.0.0.1", options.port ?? 0);
  const address = server.address() as AddressInfo;
  return {
    url: `${options.tls ? "https" : "http"}://${urlHost(address.address)}:${address.port}`,
    host: address.address,
    port: address.port,
    region,
    get issued() {
      return store.all();
    },
    get requests() {
      return [...log];
    },
    failNext: (count, status) => failures.failNext(count, status),
    expireNext: (count, form) => failures.expireNext(count, form),
    close: () => closeServer(server),
  };
}

async function resolveConfig(config: LocalEndpointOptions["config"]): Promise<LocalEndpointConfig | undefined> {
  if (config === undefined) return undefined;
  if (typeof config === "string") return loadLocalEndpointConfig(config);
  if (config.profiles instanceof Map) return config as LocalEndpointConfig;
  return parseLocalEndpointConfig(config, "(options.config)");
}

/** The whole body; undefined when it exceeds MAX_BODY_BYTES, null when the client went away before its end. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners("data");
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => resolve(null));
  });
}
