import type { CredentialSettings } from "../settings/credential-settings.js";
import type { Signer } from "../signers/signer.js";
import { CredentialCache, type CacheStatus, type RefreshEvent, type Timers } from "./credential-cache.js";
import type { Credentials } from "../rolesanywhere/credentials.js";
import type { RefreshPolicy } from "./refresh-policy.js";
import { SignerHolder, type SignerFactory } from "./signer-holder.js";

/** Credentials for one named role, cached and refreshed; what the agent, `serve` and `update` hand out. */
export interface CredentialSource {
  readonly name: string;
  readonly settings: CredentialSettings;
  /** Usable credentials, or the error explaining why there are none. */
  get(): Promise<Credentials>;
  /** Opens the signer now (prompting on the terminal if a secret says `prompt`). */
  open(): Promise<void>;
  /** Starts proactive refreshing. */
  start(): void;
  status(): CacheStatus;
  /** Stops refreshing and closes the signer (token session, TPM objects). */
  close(): Promise<void>;
}

/** One CreateSession call: the shape of `createSession` from src/rolesanywhere/create-session.ts. */
export type SessionCreator = (signer: Signer, settings: CredentialSettings) => Promise<Credentials>;

export interface CredentialSourceOptions {
  readonly name: string;
  readonly settings: CredentialSettings;
  readonly onEvent?: (name: string, event: RefreshEvent, credentials: Credentials | undefined) => void;
  readonly policy?: Partial<RefreshPolicy>;
  /** Seams; default to the real signer factory and CreateSession client (imported lazily). */
  readonly createSigner?: SignerFactory;
  readonly createSession?: SessionCreator;
  readonly now?: () => number;
  /** A number in [0, 1): where in its window each refresh lands, and retry jitter (default Math.random). */
  readonly random?: () => number;
  readonly timers?: Timers;
}

export function createCredentialSource(options: CredentialSourceOptions): CredentialSource {
  const { name, settings } = options;
  const holder = new SignerHolder(settings.signer, options.createSigner ?? defaultSignerFactory);
  const createSession = options.createSession ?? defaultSessionCreator;
  let busy: Promise<unknown> = Promise.resolve();
  let closed = false;

  const fetch = async (): Promise<Credentials> => {
    const run = (async () => {
      let failure: unknown;
      try {
        const signer = await holder.acquire();
        return await createSession(signer, settings);
      } catch (e) {
        failure = e;
        throw e;
      } finally {
        await holder.release(failure);
      }
    })();
    busy = run.catch(() => {});
    return run;
  };

  const cache = new CredentialCache({
    fetch,
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.timers ? { timers: options.timers } : {}),
    onEvent: (event, credentials) => options.onEvent?.(name, event, credentials),
  });

  return {
    name,
    settings,
    get: () => cache.get(),
    open: () => holder.open(),
    start: () => {
      if (!closed) cache.start();
    },
    status: () => cache.status(),
    close: async () => {
      closed = true;
      cache.stop();
      await busy;
      await holder.close();
    },
  };
}

const defaultSignerFactory: SignerFactory = async (signerOptions) => (await import("../signers/factory.js")).createSigner(signerOptions);

const defaultSessionCreator: SessionCreator = async (signer, { session, endpoint }) => {
  const { createSession } = await import("../rolesanywhere/create-session.js");
  return (await createSession(signer, session, endpoint)).credentials;
};
