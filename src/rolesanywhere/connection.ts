import { once } from "node:events";
import { connect as netConnect, type LookupFunction, type Socket } from "node:net";
import type { SecureContext } from "node:tls";
import { boundedLine } from "../errors.js";
import { urlHost } from "../io/listen-tcp.js";
import { osError } from "../io/trusted-path.js";
import { ipFamily, isLoopback, type Endpoint } from "./endpoint.js";
import { transportError, TransportError, type Peer } from "./network-errors.js";
import type { ProxySettings } from "./proxy.js";
import type { Abortable } from "./types.js";

/** Lowest TLS version offered, as the Go helper. */
export const MIN_TLS_VERSION = "TLSv1.2";

export interface TlsSettings {
  /** Trust store with the CA bundle; Node's default CAs when absent. */
  readonly secureContext?: SecureContext;
  readonly rejectUnauthorized: boolean;
}

/** How one CreateSession call reaches its endpoint; shared by all its attempts. */
export interface Transport {
  readonly endpoint: Endpoint;
  readonly proxy?: ProxySettings;
  readonly tls: TlsSettings;
  readonly connectTimeoutMs: number;
  /** Host name resolution (tests map names to loopback); the system resolver by default. */
  readonly lookup?: LookupFunction;
}

export function endpointPeer(endpoint: Endpoint): Peer {
  return { description: `endpoint ${endpoint.protocol}//${endpoint.host}`, hostname: endpoint.hostname, isProxy: false };
}

export function proxyPeer(proxy: ProxySettings): Peer {
  return { description: `proxy ${proxy.display} (${proxy.source})`, hostname: proxy.hostname, isProxy: true };
}

/**
 * `localhost` and `*.localhost` are loopback (RFC 6761 §6.3), never asked of DNS: they skip the proxy, and an answer
 * naming another host would send it the signed request.
 */
export const isLocalhostName = (host: string): boolean => ipFamily(host) === 0 && isLoopback(host);
export const LOCALHOST_ADDRESSES = [{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }] as const;

const loopbackLookup: LookupFunction = (_hostname, options, callback) => {
  const wanted = LOCALHOST_ADDRESSES.filter((a) => !options.family || options.family === a.family || options.family === `IPv${a.family}`);
  if (options.all) callback(null, wanted);
  else callback(null, wanted[0]!.address, wanted[0]!.family);
};

/**
 * Opens the connection a request is written to: TCP to the endpoint or the proxy, an HTTP CONNECT
 * tunnel through the proxy for https, then TLS. Resolves once the connection is ready for HTTP.
 */
export async function openConnection(transport: Transport, signal: Abortable): Promise<Socket> {
  const { endpoint, proxy, connectTimeoutMs } = transport;
  // node:tls costs milliseconds to load: plain-http endpoints (local tests, the agent's peers) never pay it.
  const { connect: tlsConnect } = endpoint.protocol === "https:" ? await import("node:tls") : { connect: undefined };
  if (signal.aborted) throw signal.reason;
  let peer = proxy ? proxyPeer(proxy) : endpointPeer(endpoint);
  const lookup = isLocalhostName(peer.hostname) ? loopbackLookup : transport.lookup;
  const tcp = netConnect({ host: peer.hostname, port: proxy ? proxy.port : endpoint.port, ...(lookup ? { lookup } : {}) });
  let secure: Socket | undefined;
  // A timeout or an abort destroys the socket of the current step, whose wait then fails with that error.
  const fail = (error: unknown) => (secure ?? tcp).destroy(error as Error);
  const timer = setTimeout(() => {
    fail(
      new TransportError("TIMEOUT", `could not connect to ${peer.description} within ${connectTimeoutMs / 1000} s`, true, {
        hint: peer.isProxy ? "check the proxy settings (HTTPS_PROXY, NO_PROXY)" : "check the network and --endpoint; raise --connect-timeout on slow links",
      }),
    );
  }, connectTimeoutMs);
  const onAbort = () => fail(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    // Not events.once: compiling it and its helpers costs a cold credential-process ~0.4 M instructions.
    await new Promise((resolve, reject) => {
      tcp.once("error", reject).once("connect", () => resolve(tcp.off("error", reject)));
    });
    if (proxy && endpoint.protocol === "https:") await openTunnel(tcp, endpoint, proxy);
    peer = endpointPeer(endpoint);
    if (!tlsConnect) return tcp;
    secure = tlsConnect({
      socket: tcp,
      host: endpoint.hostname,
      ...(ipFamily(endpoint.hostname) !== 0 ? {} : { servername: endpoint.hostname.replace(/\.$/, "") }), // RFC 6066 §3: no final dot
      rejectUnauthorized: transport.tls.rejectUnauthorized,
      ALPNProtocols: ["http/1.1"],
      ...(transport.tls.secureContext ? { secureContext: transport.tls.secureContext } : { minVersion: MIN_TLS_VERSION }),
    });
    // Under TLS, failures of the raw socket surface on the TLS socket that the HTTP request listens to.
    tcp.on("error", () => {});
    await once(secure, "secureConnect");
    return secure;
  } catch (error) {
    for (const socket of [secure, tcp]) {
      socket?.on("error", () => {}); // late errors from the destroyed sockets have nowhere to go
      socket?.destroy();
    }
    throw signal.aborted ? signal.reason : transportError(error, peer);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/** Sends `CONNECT host:port` and waits for a 2xx answer; the socket then carries the TLS connection. */
function openTunnel(socket: Socket, endpoint: Endpoint, proxy: ProxySettings): Promise<void> {
  const authority = `${urlHost(endpoint.hostname)}:${endpoint.port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.authorization) lines.push(`Proxy-Authorization: ${proxy.authorization}`);
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);

  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const peer = proxyPeer(proxy);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) {
        if (received.length > 16_384) finishWith(new TransportError("NETWORK_ERROR", `${peer.description} sent an oversized answer to CONNECT`, false, { hint: "check HTTPS_PROXY" }));
        return;
      }
      const statusLine = received.subarray(0, end).toString("latin1").split("\r\n")[0] ?? "";
      const rest = received.subarray(end + 4);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
      if (status >= 200 && status < 300) {
        finishWith(); // first: unshift re-emits `rest` to a listener still attached, which would take it again
        if (rest.length > 0) socket.unshift(rest);
        return;
      }
      finishWith(tunnelRefused(peer, status, statusLine, proxy));
    };
    const onEnd = () => finishWith(transportError(osError("ECONNRESET", "socket hang up"), peer));
    const finishWith = (error?: unknown) => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", finishWith);
      socket.pause();
      if (error) reject(error);
      else resolve();
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", finishWith);
  });
}

function tunnelRefused(peer: Peer, status: number, statusLine: string, proxy: ProxySettings): TransportError {
  const line = statusLine.replace(/^HTTP\/1\.[01] /, "");
  const answer = Number.isNaN(status) ? "an answer that is not HTTP" : boundedLine(line, 100);
  const hint =
    status !== 407
      ? "the proxy may block the Roles Anywhere host: ask for rolesanywhere.<region>.amazonaws.com:443 to be allowed, or set NO_PROXY"
      : proxy.authorization
        ? `the proxy rejected the user name or password in ${proxy.source}`
        : `the proxy wants a login: put http://user:password@host:port in ${proxy.source}`;
  const what = `${peer.description} refused the tunnel: ${answer}`;
  return new TransportError("NETWORK_ERROR", what, status >= 500, { hint, status });
}
