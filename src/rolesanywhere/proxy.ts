import { BlockList, isIP } from "node:net";
import { InputError } from "../errors.js";
import { unbracketed } from "../io/listen-tcp.js";
import { firstEnv, isLoopback } from "./endpoint.js";

/** An HTTP proxy to reach the endpoint through. */
export interface ProxySettings {
  readonly hostname: string;
  readonly port: number;
  /** `Proxy-Authorization` value when the proxy URL carries `user:password@`. Secret: never print it. */
  readonly authorization?: string;
  /** `http://host:port` without credentials, for messages. */
  readonly display: string;
  /** The variable it came from. */
  readonly source: string;
}

/**
 * The proxy for a target, from `HTTPS_PROXY` (https targets) or `HTTP_PROXY` (http targets), upper case
 * first, then lower case, as Go's ProxyFromEnvironment. `NO_PROXY` excludes hosts; `localhost` and
 * loopback addresses are never proxied.
 */
export function proxyFor(
  target: { protocol: "http:" | "https:"; hostname: string; port: number },
  env: NodeJS.ProcessEnv,
): ProxySettings | undefined {
  const variable = target.protocol === "https:" ? firstEnv(env, "HTTPS_PROXY", "https_proxy") : firstEnv(env, "HTTP_PROXY", "http_proxy");
  if (!variable) return undefined;
  if (isLoopback(target.hostname)) return undefined;
  const noProxy = firstEnv(env, "NO_PROXY", "no_proxy")?.value ?? "";
  if (matchesNoProxy(target.hostname, target.port, noProxy)) return undefined;
  return parseProxyUrl(variable.value, variable.name);
}

/**
 * NO_PROXY: comma- or space-separated entries; `*` matches everything; an IP or CIDR matches addresses;
 * `example.com` matches it and its subdomains, `.example.com` only subdomains; `host:port` only that port.
 */
export function matchesNoProxy(hostname: string, port: number, noProxy: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return noProxy.toLowerCase().split(/[\s,]+/).some((raw) => {
    if (raw === "" || raw === "*") return raw === "*";
    if (raw.includes("/")) return cidrContains(raw, host);
    const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(raw);
    if (withPort && Number(withPort[2]) !== port) return false;
    let entry = unbracketed(withPort ? withPort[1]! : raw).replace(/\.$/, "");
    if (isIP(entry)) return cidrContains(`${entry}/${isIP(entry) === 4 ? 32 : 128}`, host); // fd00::0001 is fd00::1
    if (entry.startsWith("*.")) entry = entry.slice(1);
    return entry.startsWith(".") ? host.endsWith(entry) : host === entry || host.endsWith(`.${entry}`);
  });
}

function cidrContains(cidr: string, host: string): boolean {
  const [base, bits] = cidr.split("/") as [string, string];
  const family = isIP(base) === 4 ? "ipv4" : "ipv6";
  if (!/^\d+$/.test(bits)) return false;
  const list = new BlockList();
  try {
    list.addSubnet(base, Number(bits), family);
  } catch {
    return false;
  }
  // An address of the other family (an IPv4-mapped IPv6 one too) or a name is no `family` address: false.
  return list.check(host, family);
}

/** `http://[user:pass@]host[:port]`; a bare `host:port` means http (`http:host`, `http:/host` are http: URLs). */
export function parseProxyUrl(value: string, source: string): ProxySettings {
  const text = /^([a-z][a-z0-9+.-]*:\/\/|https?:)/i.test(value) ? value : `http://${value}`;
  const fail = (why: string): never => {
    throw new InputError("ENDPOINT_INVALID", `invalid proxy in ${source}: ${why}`, {
      hint: `set ${source} to http://[user:password@]host:port, or unset it`,
    });
  };
  const url = URL.parse(text) ?? fail("not a valid URL");
  if (url.protocol !== "http:") fail(`scheme '${url.protocol.slice(0, -1)}' is not supported (only http:// proxies)`);
  if (!url.hostname) fail("the host is missing");
  const port = url.port ? Number(url.port) : 80;
  const hostname = unbracketed(url.hostname);
  const authorization =
    url.username || url.password
      ? `Basic ${Buffer.from(`${percentDecoded(url.username)}:${percentDecoded(url.password)}`).toString("base64")}`
      : undefined;
  return {
    hostname,
    port,
    ...(authorization ? { authorization } : {}),
    display: `http://${url.host}`,
    source,
  };
}

/** `decodeURIComponent`, or the text as it is when an escape is malformed. */
export function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
