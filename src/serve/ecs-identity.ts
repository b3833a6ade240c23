import { UsageError } from "../errors.js";
import type { EcsConsumer, EcsConsumerLookup } from "./ecs-consumers.js";

/**
 * How the ECS endpoint identifies its consumers:
 * - `random`: a random token per consumer, handed out in env files or on stdout (src/serve/ecs-env.ts);
 * - `token-files`: consumer NAME's token is the file DIR/NAME, a Secret volume (src/serve/ecs-token-files.ts);
 * - `service-accounts`: each pod presents its projected ServiceAccount token, per pod and rotated by the kubelet
 *   (src/serve/service-account-tokens.ts); `accounts` are `NAMESPACE/SERVICEACCOUNT=ROLE`.
 */
export type EcsIdentity =
  | { readonly kind: "random" }
  | { readonly kind: "token-files"; readonly dir: string }
  | ServiceAccountIdentity;

export interface ServiceAccountIdentity {
  readonly kind: "service-accounts";
  readonly accounts: readonly string[];
  /** The cluster's ServiceAccount signing keys: the JSON of `kubectl get --raw /openid/v1/jwks`. */
  readonly jwksPath: string;
  /** The tokens' `iss`: `kubectl get --raw /.well-known/openid-configuration` → issuer. */
  readonly issuer: string;
  /** The `aud` the pods request in their projected token volume (never the API server's). */
  readonly audience: string;
  /** When set, only tokens of pods on this node (claim kubernetes.io.node.name, Kubernetes 1.30+). */
  readonly nodeName?: string | undefined;
}

/** The audience pods request for their projected token when none is configured. */
export const DEFAULT_AUDIENCE = "roles-anywhere-agent";

/**
 * The ECS endpoint's consumers. `tokenFrom` ends the log line that names a consumer: where its token comes from
 * (absent for random tokens, which are handed out as env files); `stop` ends the re-reading of token files.
 */
type ServeConsumers = EcsConsumerLookup & { tokenFrom?(consumer: EcsConsumer): string; stop?(): void };

export async function openEcsConsumers(
  identity: EcsIdentity,
  bindings: readonly { name: string; role: string }[],
  roles: readonly string[],
  log: (line: string) => void,
): Promise<ServeConsumers> {
  switch (identity.kind) {
    case "service-accounts": {
      const { openServiceAccountTokens } = await import("./service-account-tokens.js");
      const { audience, nodeName } = identity;
      const tokens = await openServiceAccountTokens({ ...identity, bindings: serviceAccountBindings(identity.accounts, roles), log });
      const from = `: the pod's projected ServiceAccount token (audience ${audience}${nodeName ? `, pods on node ${nodeName}` : ""})`;
      return { ...tokens, tokenFrom: () => from };
    }
    case "token-files": {
      const { openEcsTokenFiles } = await import("./ecs-token-files.js");
      return { ...(await openEcsTokenFiles(identity.dir, bindings, log)), tokenFrom: (c) => ` from ${identity.dir}/${c.name}` };
    }
    case "random":
      return (await import("./ecs-consumers.js")).withRandomTokens(bindings);
  }
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
