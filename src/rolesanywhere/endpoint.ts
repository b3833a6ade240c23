import { isIP } from "node:net";
import { InputError, UsageError } from "../errors.js";
import { ENVIRONMENT, wrongOption, type Kinds } from "../own-value.js";
import { PARTITIONS, partitionOf, type Partition } from "./partitions.js";
import type { CreateSessionOptions } from "./types.js";

/** Where the endpoint came from, for --debug and error messages. */
export type EndpointSource = "option" | "AWS_ENDPOINT_URL_ROLESANYWHERE" | "AWS_ENDPOINT_URL" | "partition";

/** A validated CreateSession base URL. */
export interface Endpoint {
  readonly protocol: "http:" | "https:";
  /** Host name or IP literal, without IPv6 brackets. */
  readonly hostname: string;
  readonly port: number;
  /** The `Host` header value: host name, with `:port` only when it is not the scheme's default. */
  readonly host: string;
  /** Path prefix before `/sessions`, as sent on the wire (empty, or `/a/b` without a trailing slash). */
  readonly pathPrefix: string;
  /** `protocol//host` + prefix, for messages. */
  readonly baseUrl: string;
  readonly source: EndpointSource;
}

/** The options that choose the endpoint, documented on {@link CreateSessionOptions}. */
export type EndpointSettings = Pick<CreateSessionOptions, "endpoint" | "useFipsEndpoint" | "useDualStackEndpoint" | "env">;

/** {@link EndpointSettings}' types, for callers in plain JavaScript. */
export const ENDPOINT_SETTINGS_KINDS: Kinds = {
  endpoint: "string", useFipsEndpoint: "boolean", useDualStackEndpoint: "boolean", env: ENVIRONMENT,
};

/** `fipsFromName`: the region was a FIPS pseudo-region name (`fips-…`, `…-fips`). */
type EndpointRegion = { region: string; fipsFromName?: boolean };

const CUSTOM_ENDPOINT_RULE_ERROR = "failed to resolve service endpoint, endpoint rule error, Invalid Configuration:";

/**
 * Resolves the CreateSession base URL: `--endpoint`, else `AWS_ENDPOINT_URL_ROLESANYWHERE`, else
 * `AWS_ENDPOINT_URL` (both ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the regional
 * host of the region's partition. Unlike the Go helper, an explicit `--endpoint` always wins.
 */
export function resolveEndpoint(where: EndpointRegion, settings: EndpointSettings = {}, partitions: readonly Partition[] = PARTITIONS): Endpoint {
  const whereKinds: Kinds = { region: "string", fipsFromName: "boolean" };
  const wrong = wrongOption(where, whereKinds, { what: "where", required: ["region"] }) ??
    wrongOption(settings, ENDPOINT_SETTINGS_KINDS, { what: "the settings" });
  if (wrong) throw new UsageError("USAGE", wrong);
  const env = settings.env ?? process.env;
  const fips = settings.useFipsEndpoint ?? envFlag(env, "AWS_USE_FIPS_ENDPOINT") ?? false;
  const dualStack = settings.useDualStackEndpoint ?? envFlag(env, "AWS_USE_DUALSTACK_ENDPOINT") ?? false;
  const wantsFips = fips || where.fipsFromName === true;

  const custom = configuredEndpoint(settings.endpoint, env);
  if (custom) {
    if (wantsFips || dualStack) {
      const [what, off] = wantsFips
        ? ["FIPS", "turn FIPS off (--use-fips-endpoint, AWS_USE_FIPS_ENDPOINT, a fips region name)"]
        : ["Dualstack", "unset AWS_USE_DUALSTACK_ENDPOINT"];
      throw new InputError("ENDPOINT_INVALID", `${CUSTOM_ENDPOINT_RULE_ERROR} ${what} and custom endpoint are not supported`, {
        hint: `the endpoint comes from ${describeSource(custom.source)}: drop it, or ${off}`,
      });
    }
    const endpoint = parseEndpointUrl(custom.url, custom.source);
    if (endpoint.protocol === "http:" && !isLoopback(endpoint.hostname) && !warnedPlainHttp) {
      warnedPlainHttp = true; // once per process, not on every refresh of a daemon
      process.emitWarning(`the endpoint ${endpoint.baseUrl} (from ${describeSource(custom.source)}) is plain http to ` +
        `${endpoint.hostname}, which is not loopback: the temporary credentials travel unencrypted; use https://`,
      { code: "RAA_PLAIN_HTTP_ENDPOINT" });
    }
    return endpoint;
  }
  return parseEndpointUrl(regionalEndpointUrl(partitionOf(where.region, partitions), where.region, { fips: wantsFips, dualStack }), "partition");
}

let warnedPlainHttp = false;

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: where plain http never leaves the machine. */
export function isLoopback(hostname: string): boolean {
  const lower = hostname.toLowerCase();
  const host = lower.endsWith(".") ? lower.slice(0, -1) : lower;
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const family = ipFamily(host);
  if (family === 4) return host.startsWith("127.");
  // An IPv4-mapped 127.x.y.z, as written or as a URL normalises it (::ffff:7fxx:…).
  if (family === 6) return host === "::1" || /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(host);
  return false;
}

/**
 * `net.isIP(host)`: 4, 6 or 0, with dotted-decimal IPv4 (Node's pattern: four numbers 0–255 without leading zeros)
 * and names told apart here. Node's patterns run on every isIP call and V8 compiles them to machine code on their
 * second run; net.connect runs them once itself, so each of ours cost a cold call that compilation (~0.9 M
 * instructions for the IPv4 pattern, more for the IPv6 one, which every host name goes through).
 */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (host.includes(":")) return isIP(host) === 6 ? 6 : 0; // an IPv6 address has colons; nothing else isIP takes does
  const octets = host.split(".");
  return octets.length === 4 && octets.every(isDecimalOctet) ? 4 : 0;
}

function isDecimalOctet(text: string): boolean {
  if (text.length === 0 || text.length > 3 || (text.length > 1 && text[0] === "0")) return false;
  for (let i = 0; i < text.length; i++) if (text[i]! < "0" || text[i]! > "9") return false;
  return Number(text) <= 255;
}

/** `https://rolesanywhere[-fips].<region>.<dnsSuffix or dualStackDnsSuffix>`. */
export function regionalEndpointUrl(partition: Partition, region: string, flags: { fips: boolean; dualStack: boolean }): string {
  const kinds: Kinds = { partition: "object", region: "string", flags: { fips: "boolean", dualStack: "boolean" } };
  const wrong = wrongOption({ partition, region, flags }, kinds, { required: Object.keys(kinds) });
  if (wrong) throw new UsageError("USAGE", wrong);
  const refuse = (message: string, advice = ""): never => {
    throw new InputError("ENDPOINT_INVALID", message, { hint: `region ${region} is in partition ${partition.name}${advice}` });
  };
  if (flags.fips && flags.dualStack && !(partition.supportsFips && partition.supportsDualStack)) {
    refuse("FIPS and DualStack are enabled, but this partition does not support one or both");
  }
  if (flags.fips && !partition.supportsFips) refuse("FIPS is enabled but this partition does not support FIPS", ": turn FIPS off");
  if (flags.dualStack && !partition.supportsDualStack) {
    refuse("DualStack is enabled but this partition does not support DualStack", ": unset AWS_USE_DUALSTACK_ENDPOINT");
  }
  const service = flags.fips ? "rolesanywhere-fips" : "rolesanywhere";
  const suffix = flags.dualStack ? partition.dualStackDnsSuffix : partition.dnsSuffix;
  return `https://${service}.${region}.${suffix}`;
}

function configuredEndpoint(option: string | undefined, env: NodeJS.ProcessEnv): { url: string; source: EndpointSource } | undefined {
  if (option?.trim()) return { url: option.trim(), source: "option" };
  if (envFlag(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") === true) return undefined;
  const found = firstEnv(env, "AWS_ENDPOINT_URL_ROLESANYWHERE", "AWS_ENDPOINT_URL");
  return found && { url: found.value, source: found.name as EndpointSource };
}

/** The first of the variables that is set to something other than blanks, trimmed. */
export function firstEnv(env: NodeJS.ProcessEnv, ...names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

/** How an endpoint's source is named in messages (`option`: `from` says which, when the caller knows it). */
export function describeSource(source: EndpointSource): string {
  return source === "option" ? "the endpoint option" : source === "partition" ? "the region" : source;
}

/** `true`/`false` (any case) → boolean; unset or empty → undefined; anything else is a configuration error. */
function envFlag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const value = env[name]?.trim().toLowerCase();
  if (!value) return undefined;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new InputError("ENDPOINT_INVALID", `${name} must be true or false, not '${env[name]}'`, { hint: `set ${name}=true, ${name}=false, or unset it` });
}

/**
 * Hides `user:password@` before a URL goes into a message: everything up to the last @, since a password may
 * hold @ / ? # (a URL parser then reads it as host or path) and http:user:pw@… still has user info.
 */
function redactUserInfo(url: string): string {
  return url.replace(/^((?:[a-z][a-z0-9+.-]*:)?[/\\]*).*@/is, "$1***@");
}

/** Validates a base URL: http or https, a host, no credentials, query or fragment; `from` names where it came from. */
export function parseEndpointUrl(
  text: string, source: EndpointSource = "option", from = describeSource(source),
): Endpoint {
  if (typeof text !== "string") throw new UsageError("USAGE", "parseEndpointUrl: text must be a string");
  const fail = (why: string): never => {
    const message = `invalid endpoint '${redactUserInfo(text)}' (from ${from}): ${why}`;
    throw new InputError("ENDPOINT_INVALID", message, { hint: "give a base URL such as https://rolesanywhere.us-east-1.amazonaws.com or http://127.0.0.1:8080" });
  };
  const url =
    URL.parse(text) ?? fail(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? "not a valid URL" : "the scheme is missing (https:// or http://)");
  if (url.protocol !== "https:" && url.protocol !== "http:") fail(`scheme '${url.protocol.slice(0, -1)}' is not supported: use https:// or http://`);
  if (!url.hostname) fail("the host is missing");
  if (url.username || url.password) fail("it must not contain a user name or password");
  if (url.search || text.includes("?")) fail("it must not have a query string");
  if (url.hash || text.includes("#")) fail("it must not have a fragment (#…)");

  const protocol = url.protocol as "http:" | "https:";
  const port = url.port ? Number(url.port) : protocol === "https:" ? 443 : 80;
  // String operations, not patterns (each costs a compilation on every cold run): trailing slashes off the path,
  // an IPv6 literal's brackets off the host name.
  let end = url.pathname.length;
  while (end > 0 && url.pathname[end - 1] === "/") end--;
  const pathPrefix = url.pathname.slice(0, end);
  const bracketed = url.hostname.length >= 2 && url.hostname.startsWith("[") && url.hostname.endsWith("]");
  return {
    protocol,
    hostname: bracketed ? url.hostname.slice(1, -1) : url.hostname,
    port,
    host: url.host,
    pathPrefix,
    baseUrl: `${protocol}//${url.host}${pathPrefix}`,
    source,
  };
}
