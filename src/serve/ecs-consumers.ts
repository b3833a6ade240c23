import { createHash, randomBytes } from "node:crypto";

/** One program (or container) allowed to fetch one role's credentials, with its own secret token. */
export interface EcsConsumer {
  readonly name: string;
  readonly role: string;
  /** The token to give the consumer (AWS_CONTAINER_AUTHORIZATION_TOKEN). Never logged. */
  readonly token: string;
}

/** What the ECS endpoint asks of its consumers: whose token this is, and who they are. */
export interface EcsConsumerLookup {
  /** The consumer the Authorization header value belongs to. */
  find(token: string | undefined): EcsConsumer | undefined;
  all(): readonly EcsConsumer[];
}

/** Consumers whose tokens or keys come from files, re-read periodically: `reload` re-reads now, `stop` ends it. */
export interface ReloadingConsumers extends EcsConsumerLookup {
  reload(): Promise<void>;
  stop(): void;
}

/**
 * The consumers of the ECS endpoint, one token each (one can be cut off, or its leak traced, alone). Tokens are
 * looked up by their SHA-256, so the lookup's timing tells nothing about the token.
 */
export function ecsConsumers(list: readonly EcsConsumer[]): EcsConsumerLookup {
  const byDigest = new Map(list.map((consumer) => [digest(consumer.token), consumer]));
  return { find: (token) => (token ? byDigest.get(digest(token)) : undefined), all: () => list };
}

export function withRandomTokens(bindings: readonly { name: string; role: string }[]): EcsConsumerLookup {
  return ecsConsumers(bindings.map((b) => ({ ...b, token: randomBytes(32).toString("base64url") })));
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("base64");
}
