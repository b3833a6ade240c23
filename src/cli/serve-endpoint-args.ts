import type { ParsedArgs } from "./command.js";
import { boolArg, stringArg } from "./command.js";
import { UsageError } from "../errors.js";
import { advertisedHost } from "../serve/advertise-host.js";
import { checkEndpointChoice } from "../serve/credential-server.js";

/**
 * Where `serve` listens, what it advertises and how (TLS), from its flags and the environment, after
 * checking the combination (src/serve/credential-server.ts: checkEndpointChoice) — before any signer is opened.
 */
export interface EndpointAddressing {
  readonly host: string;
  readonly advertiseHost: string;
  readonly tls?: { readonly certificate: string; readonly key: string };
  readonly allowPlainHttp: boolean;
}

export function endpointAddressing(args: ParsedArgs, env: NodeJS.ProcessEnv, endpoints: { imds: boolean; ecs: boolean; allowImdsWithEcs: boolean }): EndpointAddressing {
  const host = stringArg(args, "bind") ?? "127.0.0.1";
  const certificate = stringArg(args, "tls-certificate");
  const key = stringArg(args, "tls-key");
  if ((certificate === undefined) !== (key === undefined)) throw new UsageError("USAGE", "--tls-certificate and --tls-key go together");
  checkEndpointChoice({ ...endpoints, host, tls: certificate !== undefined, allowPlainHttp: boolArg(args, "allow-plain-http") });
  return {
    host,
    advertiseHost: advertisedHost({ bind: host, advertise: stringArg(args, "advertise-host"), env }),
    ...(certificate && key ? { tls: { certificate, key } } : {}),
    allowPlainHttp: boolArg(args, "allow-plain-http"),
  };
}
