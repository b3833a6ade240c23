import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { LookupFunction } from "node:net";
import { NetworkError } from "../errors.js";
import { VERSION } from "../version.js";
import { endpointPeer, openConnection, proxyPeer, type TlsSettings, type Transport } from "./connection.js";
import { firstEnv, type Endpoint } from "./endpoint.js";
import { closedEarly, transportError, TransportError } from "./network-errors.js";
import { proxyFor } from "./proxy.js";
import type { Abortable, CreateSessionOptions } from "./types.js";
import { secretConcat } from "../secrets/secret-bytes.js";

const USER_AGENT = `roles-anywhere-agent/${VERSION} (node ${process.versions.node}; ${process.platform}; ${process.arch})`;

/** Responses larger than this are refused (a CreateSession answer is a few KiB). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface HttpResponse {
  readonly status: number;
  /** Lower-case names, as node:http gives them. */
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

interface OutgoingRequest {
  readonly method: string;
  /** Path and query in origin form (`/prefix/sessions?…`). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

type TransportSettings = Pick<CreateSessionOptions, "caBundle" | "verifyTls" | "connectTimeoutMs" | "env"> & {
  readonly lookup?: LookupFunction;
};

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The CA bundle https trusts besides Node's CAs: `--ca-bundle`, else `AWS_CA_BUNDLE` (a reload digests its file). */
export function caBundleOf(settings: Pick<TransportSettings, "caBundle" | "env">): { value: string; name: string } | undefined {
  const given = settings.caBundle?.trim();
  return given ? { value: given, name: "--ca-bundle" } : firstEnv(settings.env ?? process.env, "AWS_CA_BUNDLE");
}

/** Resolves the proxy and, for https, the trust store. */
export async function createTransport(endpoint: Endpoint, settings: TransportSettings = {}): Promise<Transport> {
  const env = settings.env ?? process.env;
  const verifyTls = settings.verifyTls ?? true;
  let tls: TlsSettings = { rejectUnauthorized: verifyTls };
  if (endpoint.protocol === "https:" && verifyTls) {
    const bundle = caBundleOf(settings);
    if (bundle) {
      const { trustWithCaBundle } = await import("./ca-bundle.js");
      tls = { rejectUnauthorized: true, secureContext: await trustWithCaBundle(bundle.value, bundle.name) };
    }
  }
  return {
    endpoint,
    proxy: proxyFor(endpoint, env),
    tls,
    connectTimeoutMs: settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    lookup: settings.lookup,
  };
}

/**
 * Sends one request on a fresh connection and reads the whole response (up to the size cap).
 * Aborting `signal` destroys the connection and rejects with the signal's reason.
 */
export async function sendRequest(transport: Transport, request: OutgoingRequest, signal: Abortable): Promise<HttpResponse> {
  const { endpoint, proxy } = transport;
  const socket = await openConnection(transport, signal);
  // Plain http through a proxy: the request line carries the absolute URI.
  const viaHttpProxy = proxy !== undefined && endpoint.protocol === "http:";
  const peer = viaHttpProxy ? proxyPeer(proxy) : endpointPeer(endpoint);
  const headers: Record<string, string> = {
    ...request.headers,
    "User-Agent": USER_AGENT,
    "Content-Length": String(Buffer.byteLength(request.body)),
    ...(viaHttpProxy && proxy.authorization ? { "Proxy-Authorization": proxy.authorization } : {}),
  };

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const finish = (error: unknown, response?: HttpResponse) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (response) return resolve(response);
      req.destroy();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => finish(signal.reason);

    const req = httpRequest({
      method: request.method,
      path: viaHttpProxy ? `http://${endpoint.host}${request.path}` : request.path,
      headers,
      setHost: false,
      // With createConnection and no agent, node:http writes to our socket and pools nothing.
      createConnection: () => socket,
    });
    req.on("error", (e) => finish(transportError(e, peer)));
    // node:http hands a 101 only to "upgrade" listeners (and without one drops it, leaving the request pending).
    req.on("upgrade", (res, upgraded) => {
      upgraded.destroy();
      finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0) });
    });
    req.on("response", (res) => {
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > MAX_RESPONSE_BYTES) {
        return finish(tooLarge(endpoint, res.statusCode ?? 0));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) return finish(tooLarge(endpoint, res.statusCode ?? 0));
        chunks.push(chunk);
      });
      res.on("error", (e) => finish(transportError(e, peer)));
      res.on("aborted", () => finish(closedEarly(peer.description)));
      res.on("close", () => {
        if (!res.complete) finish(closedEarly(peer.description));
      });
      res.on("end", () => {
        if (!res.complete) return finish(closedEarly(peer.description));
        // The body (a CreateSession answer holds the session's keys) in bytes the caller wipes, the socket's pieces wiped now.
        const body = secretConcat(chunks);
        for (const chunk of chunks) chunk.fill(0);
        finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    req.end(request.body);
  });
}

function tooLarge(endpoint: Endpoint, status: number): NetworkError {
  return new TransportError("RESPONSE_INVALID", `the answer of ${endpoint.baseUrl} (HTTP ${status}) is larger than ${MAX_RESPONSE_BYTES} bytes`, false, {
    hint: "a CreateSession answer is a few KiB: check --endpoint; a proxy or captive portal may be answering",
  });
}
