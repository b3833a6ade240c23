import { isIP } from "node:net";
import { UsageError } from "../errors.js";
import { unbracketed } from "../io/listen-tcp.js";

/** The environment variable a Kubernetes manifest fills with the pod's IP (downward API `status.podIP`). */
const POD_IP_VARIABLE = "POD_IP";

/**
 * The host that goes into the URL consumers are given (AWS_CONTAINER_CREDENTIALS_FULL_URI, the IMDS export
 * line): `--advertise-host` when given; else the bind address, unless that is a wildcard (`0.0.0.0`, `::`),
 * which SDKs refuse and which names no host; for a wildcard, the pod IP in `$POD_IP`; else a usage error.
 * A name is accepted as well as an IP literal: a TLS certificate for a Service name is the usual case.
 */
export function advertisedHost(choice: { bind: string; advertise?: string | undefined; env: NodeJS.ProcessEnv }): string {
  if (choice.advertise !== undefined) return checkHost(choice.advertise, "--advertise-host");
  const bind = unbracketed(choice.bind);
  if (!isWildcard(bind)) return bind;
  const podIp = choice.env[POD_IP_VARIABLE]?.trim();
  if (podIp) {
    if (isIP(podIp) === 0 || isWildcard(podIp)) throw new UsageError("USAGE", `$${POD_IP_VARIABLE} ${JSON.stringify(podIp.slice(0, 64))} is not an IP address`);
    return podIp;
  }
  throw new UsageError("USAGE", `--bind ${choice.bind} listens on every address, but consumers need one they can reach (SDKs refuse ${choice.bind})`, {
    hint: `add --advertise-host with this host's address or name, set $${POD_IP_VARIABLE} (Kubernetes downward API: status.podIP), or --bind one address`,
  });
}

/** An IPv6 address as URLs write it (`fd00:0::1` → `fd00::1`), so that two spellings compare equal; others as they are. */
export function canonicalIp(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/** `0.0.0.0`, `::` or `::` written out (`0:0:0:0:0:0:0:0`): an address to listen on that names no host. */
export function isWildcard(address: string): boolean {
  return address === "0.0.0.0" || (isIP(address) === 6 && /^[0:]+$/.test(address));
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function checkHost(value: string, flag: string): string {
  const host = unbracketed(value.trim());
  if (isIP(host) !== 0) {
    if (isWildcard(host)) throw new UsageError("USAGE", `${flag} ${host} names no host: give the address or name consumers connect to`);
    return canonicalIp(host);
  }
  if (!HOSTNAME.test(host) || /^\d+(\.\d+)*$/.test(host)) {
    throw new UsageError("USAGE", `${flag} ${JSON.stringify(value.slice(0, 64))} is not an IP address or a DNS name`, { hint: "give the host alone: no scheme, port or path" });
  }
  return host.toLowerCase();
}
