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
export class EcsConsumers implements EcsConsumerLookup {
  readonly #byDigest = new Map<string, EcsConsumer>();
  readonly #list: EcsConsumer[] = [];

  static withRandomTokens(bindings: readonly { name: string; role: string }[]): EcsConsumers {
    const consumers = new EcsConsumers();
    for (const b of bindings) consumers.add({ ...b, token: randomBytes(32).toString("base64url") });
    return consumers;
  }

  add(consumer: EcsConsumer): void {
    this.#byDigest.set(digest(consumer.token), consumer);
    this.#list.push(consumer);
  }

  /** The consumer the Authorization header value belongs to. */
  find(token: string | undefined): EcsConsumer | undefined {
    return token ? this.#byDigest.get(digest(token)) : undefined;
  }

  all(): readonly EcsConsumer[] {
    return this.#list;
  }
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("base64");
}
