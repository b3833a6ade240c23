import type { IncomingHttpHeaders } from "node:http";
import { isIP } from "node:net";
import { boundedLine } from "../errors.js";
import { unbracketed } from "../io/listen-tcp.js";
import { canonicalIp, isWildcard } from "./advertise-host.js";
import { isLoopbackAddress } from "./loopback.js";

/** Where the server listens: the address it was told to bind, the port it got, the host it tells consumers. */
interface ListeningAddress {
  readonly host: string;
  readonly port: number;
  readonly advertisedHost?: string;
}

/**
 * Why a request must not be answered, or undefined when it may be. serve's endpoints are for programs on this
 * host (SDKs, containers), never for web pages, so two rules guard them against DNS rebinding (a page whose name
 * is rebound to 127.0.0.1 makes same-origin requests to us) and other browser-borne requests:
 *
 * 1. `Host` must name this endpoint, with our port: `localhost` or a loopback IP literal, the bind address (any
 *    IP literal when bound to a wildcard), or the advertised host (the name the operator put in the consumers'
 *    URL). A rebound name never passes; an IP literal cannot be rebound.
 * 2. No browser-only header: `Origin`, `Sec-Fetch-Site`, `Sec-Fetch-Dest` or `Sec-Fetch-User` (browsers send
 *    them, pages cannot remove them, SDKs never send them). `Sec-Fetch-Mode` alone is let through: Node's own
 *    fetch() (undici) sends it.
 *
 * The guard remembers the last `Host` value it accepted: a client sends the same one on every request.
 */
export function createRequestGuard(listening: ListeningAddress): (headers: IncomingHttpHeaders) => string | undefined {
  let accepted: string | undefined;
  return (headers) => {
    const browser = browserOnlyHeader(headers);
    if (browser !== undefined) return `requests from web browsers are not served (${browser} header)`;
    if (headers.host === accepted && accepted !== undefined) return undefined;
    const refusal = hostRefusal(headers.host, listening);
    if (refusal === undefined) accepted = headers.host;
    return refusal;
  };
}

/**
 * The first browser-only header present. Each name is read as a constant property (an inline cache per name on
 * every request): a loop over the names made each read a megamorphic keyed load, ~600 instructions per request.
 */
function browserOnlyHeader(headers: IncomingHttpHeaders): string | undefined {
  if (headers.origin !== undefined) return "origin";
  if (headers["sec-fetch-site"] !== undefined) return "sec-fetch-site";
  if (headers["sec-fetch-dest"] !== undefined) return "sec-fetch-dest";
  if (headers["sec-fetch-user"] !== undefined) return "sec-fetch-user";
  return undefined;
}

function hostRefusal(host: string | undefined, listening: ListeningAddress): string | undefined {
  const parsed = host === undefined ? undefined : parseHostHeader(host);
  if (!parsed || parsed.port !== listening.port || !(canonicalIp(parsed.name) === listening.advertisedHost?.toLowerCase() || namesThisEndpoint(parsed.name, listening.host))) {
    const shown = JSON.stringify(boundedLine((host ?? "").replace(/[^\x20-\x7e]/g, "?"), 100));
    return `Host ${shown} does not name this endpoint: use 127.0.0.1:${listening.port} or localhost:${listening.port} (requests through other names are refused against DNS rebinding)`;
  }
  return undefined;
}

/** `name[:port]` or `[v6][:port]` → lower-case name (IPv6 without brackets) and port (80 when absent). */
export function parseHostHeader(value: string): { name: string; port: number } | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (!m) return undefined;
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const name = unbracketed(m[1]!.toLowerCase());
  if (m[1]!.startsWith("[") && isIP(name) !== 6) return undefined;
  return { name, port };
}

function namesThisEndpoint(name: string, bindHost: string): boolean {
  if (name === "localhost") return true;
  if (isIP(name) === 0) return false;
  if (isLoopbackAddress(name)) return true;
  const bind = unbracketed(bindHost).toLowerCase();
  if (isWildcard(bind)) return true;
  return canonicalIp(name) === canonicalIp(bind);
}
