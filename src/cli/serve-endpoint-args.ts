import type { ParsedArgs } from "./command.js";
import { boolArg, listArg, stringArg } from "./command.js";
import { UsageError } from "../errors.js";
import { DEFAULT_AUDIENCE, type EcsIdentity } from "../serve/ecs-identity.js";

/** `serve`'s network flags: where it listens, the host it advertises, TLS, plain HTTP off loopback. */
export interface EndpointFlags {
  readonly host: string;
  readonly advertise: string | undefined;
  readonly tls?: { readonly certificate: string; readonly key: string };
  readonly allowPlainHttp: boolean;
}

export function endpointFlags(args: ParsedArgs): EndpointFlags {
  const certificate = stringArg(args, "tls-certificate");
  const key = stringArg(args, "tls-key");
  if ((certificate === undefined) !== (key === undefined)) throw new UsageError("USAGE", "--tls-certificate and --tls-key go together");
  return {
    host: stringArg(args, "bind") ?? "127.0.0.1",
    advertise: stringArg(args, "advertise-host"),
    ...(certificate && key ? { tls: { certificate, key } } : {}),
    allowPlainHttp: boolArg(args, "allow-plain-http"),
  };
}

/** How the ECS endpoint identifies consumers (src/serve/ecs-identity.ts), from `serve`'s flags. */
export function ecsIdentityFlags(args: ParsedArgs): EcsIdentity {
  const accounts = listArg(args, "ecs-service-account");
  if (accounts.length > 0) {
    const jwksPath = stringArg(args, "ecs-jwks");
    const issuer = stringArg(args, "ecs-issuer");
    if (!jwksPath || !issuer) throw new UsageError("USAGE", "--ecs-service-account needs --ecs-jwks and --ecs-issuer (the cluster's ServiceAccount keys and token issuer)");
    return { kind: "service-accounts", accounts, jwksPath, issuer, audience: stringArg(args, "ecs-audience") ?? DEFAULT_AUDIENCE, nodeName: stringArg(args, "ecs-node-name") };
  }
  const dir = stringArg(args, "ecs-token-dir");
  return dir ? { kind: "token-files", dir } : { kind: "random" };
}
