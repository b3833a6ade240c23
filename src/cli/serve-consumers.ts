import type { ParsedArgs } from "./command.js";
import { listArg, stringArg } from "./command.js";
import { UsageError } from "../errors.js";
import type { EcsConsumerLookup } from "../serve/ecs-consumers.js";

/** The ECS endpoint's consumers as `serve` was told to identify them, and how to tell the operator. */
export interface ServeConsumers {
  readonly lookup: EcsConsumerLookup;
  /** Log lines naming each consumer and where its token comes from; undefined for random tokens (env files). */
  announce(fullUri: string): string[] | undefined;
  stop(): void;
}

export const DEFAULT_AUDIENCE = "roles-anywhere-agent";

/**
 * One of three kinds of consumer identity:
 * - `--ecs-service-account NS/SA=ROLE` (with `--ecs-jwks`, `--ecs-issuer`): each pod presents its projected
 *   ServiceAccount token (per pod, rotated by the kubelet), src/serve/service-account-tokens.ts;
 * - `--ecs-token-dir DIR`: consumer NAME's token is the file DIR/NAME (a Secret), src/serve/ecs-token-files.ts;
 * - otherwise a random token per consumer, handed out in env files or on stdout.
 */
export async function openServeConsumers(
  args: ParsedArgs,
  bindings: readonly { name: string; role: string }[],
  roles: readonly string[],
  log: (line: string) => void,
): Promise<ServeConsumers> {
  const serviceAccounts = listArg(args, "ecs-service-account");
  if (serviceAccounts.length > 0) {
    const jwksPath = stringArg(args, "ecs-jwks");
    const issuer = stringArg(args, "ecs-issuer");
    if (!jwksPath || !issuer) throw new UsageError("USAGE", "--ecs-service-account needs --ecs-jwks and --ecs-issuer (the cluster's ServiceAccount keys and token issuer)");
    const { ServiceAccountTokens } = await import("../serve/service-account-tokens.js");
    const audience = stringArg(args, "ecs-audience") ?? DEFAULT_AUDIENCE;
    const nodeName = stringArg(args, "ecs-node-name");
    const tokens = await ServiceAccountTokens.open({ jwksPath, issuer, audience, nodeName, bindings: serviceAccountBindings(serviceAccounts, roles), log });
    return {
      lookup: tokens,
      announce: (uri) =>
        tokens.all().map((c) => `ECS consumer ${c.name} (role ${c.role}): AWS_CONTAINER_CREDENTIALS_FULL_URI=${uri}, token: the pod's projected ServiceAccount token (audience ${audience}${nodeName ? `, pods on node ${nodeName}` : ""})`),
      stop: () => tokens.stop(),
    };
  }
  const tokenDir = stringArg(args, "ecs-token-dir");
  if (tokenDir) {
    const { EcsTokenFiles } = await import("../serve/ecs-token-files.js");
    const files = await EcsTokenFiles.open(tokenDir, bindings, log);
    return {
      lookup: files,
      announce: (uri) => files.all().map((c) => `ECS consumer ${c.name} (role ${c.role}): AWS_CONTAINER_CREDENTIALS_FULL_URI=${uri}, token from ${tokenDir}/${c.name}`),
      stop: () => files.stop(),
    };
  }
  const { EcsConsumers } = await import("../serve/ecs-consumers.js");
  return { lookup: EcsConsumers.withRandomTokens(bindings), announce: () => undefined, stop: () => {} };
}

function serviceAccountBindings(flags: readonly string[], roles: readonly string[]) {
  const seen = new Set<string>();
  return flags.map((text) => {
    const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)(?:=(.+))?$/.exec(text);
    if (!m) throw new UsageError("USAGE", `--ecs-service-account ${text}: expected NAMESPACE/SERVICEACCOUNT=ROLE`);
    const role = m[5] ?? (roles.length === 1 ? roles[0]! : undefined);
    if (!role || !roles.includes(role)) throw new UsageError("USAGE", `--ecs-service-account ${text}: no role named ${role ?? "(none given)"} is served`, { hint: `served roles: ${roles.join(", ")}` });
    const key = `${m[1]}/${m[3]}`;
    if (seen.has(key)) throw new UsageError("USAGE", `--ecs-service-account ${key} is given twice`);
    seen.add(key);
    return { namespace: m[1]!, serviceAccount: m[3]!, role };
  });
}
