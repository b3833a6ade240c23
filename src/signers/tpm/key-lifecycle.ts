import { InputError } from "../../errors.js";
import { flushOrphans, loadedHandles } from "../../tpm/client/orphans.js";
import { Tpm } from "../../tpm/client/tpm.js";
import { TpmResponseError } from "../../tpm/client/tpm-error.js";
import { loadTpmKey, type LoadedKey, type LoadKeyInput } from "../../tpm/keys/load-key.js";
import { objectName, type PublicArea } from "../../tpm/keys/public-area.js";
import { TpmConnectionLost, type TpmTransport } from "../../tpm/transport/transport.js";
import { ReadClock } from "../../tpm/wire/commands.js";
import { hex32 } from "../../tpm/wire/constants.js";
import { reloadReason, sessionOutOfStep } from "./reload-rule.js";

/** The key as currently loaded, with what is needed to know whether its handles are still ours. */
export interface LoadedState {
  readonly tpm: Tpm;
  readonly key: LoadedKey;
  /** The transport's epoch at load time: a different one means the connection was lost since. */
  readonly epoch: number;
  /** Which TPM power cycle it was loaded in: (resetCount, restartCount) of TPM2_ReadClock. */
  readonly bootId: string | undefined;
}

type LoadInput = Omit<LoadKeyInput, "tpm">;

/**
 * A signer's key on the TPM: loaded once and kept loaded with its sessions. When the TPM loses it (connection
 * lost, simulator restarted, objects flushed) the key is loaded again once and the step retried, following
 * `reloadReason`: never after an authorization failure. Owns the transport and the passwords (wiped at close).
 */
export class KeyLifecycle {
  readonly #transport: TpmTransport;
  readonly #input: LoadInput;
  /** The key as first loaded: a reload must find the same one. */
  readonly #publicArea: PublicArea;
  #loaded: LoadedState | undefined;
  /** A step succeeded: the key's authorization is right, so resending after a lost connection is safe. */
  #authorizationProven = false;

  private constructor(transport: TpmTransport, input: LoadInput, loaded: LoadedState) {
    this.#transport = transport;
    this.#input = input;
    this.#loaded = loaded;
    this.#publicArea = loaded.key.public;
  }

  static async load(transport: TpmTransport, input: LoadInput): Promise<KeyLifecycle> {
    return new KeyLifecycle(transport, input, await loadState(transport, input));
  }

  get loaded(): LoadedState | undefined {
    return this.#loaded;
  }

  async use<T>(step: (loaded: LoadedState) => Promise<T>): Promise<T> {
    // Handles from a lost connection may name nothing, or another client's objects: never send them.
    if (this.#loaded && this.#loaded.epoch !== (this.#transport.epoch ?? 0)) await this.#drop("the connection to the TPM was lost since the key was loaded");
    const justLoaded = !this.#loaded;
    const loaded = this.#loaded ?? (await this.#reload());
    const attempt = async (l: LoadedState) => {
      const result = await step(l);
      this.#authorizationProven = true;
      return result;
    };
    try {
      return await attempt(loaded);
    } catch (e) {
      if (sessionOutOfStep(e)) {
        await this.#drop("the TPM's answer failed its HMAC check or could not be read; its session is out of step");
        throw e;
      }
      const reason = justLoaded ? undefined : reloadReason(e, this.#authorizationProven);
      if (!reason) throw e;
      this.#input.debug?.(`TPM: ${reason}; loading the key again and retrying once`);
      await this.#drop(reason);
      return attempt(await this.#reload());
    }
  }

  /** Loads the key again on the same transport (which reconnects) and checks it is still the same key. */
  async #reload(): Promise<LoadedState> {
    const loaded = await loadState(this.#transport, this.#input);
    if (!loaded.key.entity.name.equals(objectName(this.#publicArea))) {
      await releaseKey(loaded.tpm, loaded.key);
      throw new InputError("TPM_KEY_INVALID", `${this.#input.what}: the TPM now holds a different key there than when the signer was opened`, {
        hint: "the persistent key was replaced; restart or reload to use the new one",
      });
    }
    this.#loaded = loaded;
    this.#input.debug?.(`TPM: key loaded again as ${hex32(loaded.key.entity.handle)}`);
    return loaded;
  }

  /** Forgets the loaded key, flushing its objects if they still exist on the same TPM power cycle. */
  async #drop(reason: string): Promise<void> {
    const old = this.#loaded;
    this.#loaded = undefined;
    if (!old) return;
    // Otherwise only the session's key is wiped: the TPM side is gone or not ours to flush.
    if (await this.#stillOurs(old)) await releaseKey(old.tpm, old.key);
    else old.key.session?.dispose();
    this.#input.debug?.(`TPM: dropped the loaded key (${reason})`);
  }

  /** Whether `old`'s handles still name our objects: same connection, or a new one to a TPM that did not restart. */
  async #stillOurs(old: LoadedState): Promise<boolean> {
    if (old.epoch === (this.#transport.epoch ?? 0)) return true;
    return old.bootId !== undefined && (await sameBoot(this.#transport, old.bootId)) !== undefined;
  }

  /** At process exit: flushes synchronously what is ours on this connection, wipes the passwords. */
  flushSync(): void {
    const loaded = this.#loaded;
    // After a lost connection the handles may not be ours; the TPM either restarted or keeps them until flushed by close().
    if (loaded && loaded.epoch === (this.#transport.epoch ?? 0)) for (const h of handlesToFlush(loaded.key)) loaded.tpm.flushSync(h);
    this.#wipe();
  }

  async close(): Promise<void> {
    try {
      await this.#drop("the signer was closed");
    } finally {
      this.#wipe();
      await this.#transport.close().catch(() => undefined);
    }
  }

  #wipe(): void {
    this.#input.keyPassword.wipe();
    this.#input.parentPassword.wipe();
  }
}

/**
 * Loads the key (with its sessions) on a fresh client over `transport` and notes the TPM's power cycle.
 * Over a connection that can break (a simulator socket), what is loaded beforehand is noted too, so that
 * an object whose creation answer was lost can be found and flushed.
 */
async function loadState(transport: TpmTransport, input: LoadInput): Promise<LoadedState> {
  const debug = input.debug;
  const tpm = new Tpm(transport, { debug });
  const bootId = await readBootId(tpm);
  const before = transport.epoch !== undefined && bootId !== undefined ? await loadedHandles(tpm) : undefined;
  const key = await loadTpmKey({ ...input, tpm }).catch(async (e: unknown) => {
    if (e instanceof TpmConnectionLost && before) await flushLeftovers(transport, bootId!, before, debug);
    throw e;
  });
  return { tpm, key, epoch: transport.epoch ?? 0, bootId };
}

/** After a connection broke while loading: flushes what appeared since `before`, if the TPM did not restart. */
async function flushLeftovers(transport: TpmTransport, bootId: string, before: ReadonlySet<number>, debug: ((line: string) => void) | undefined): Promise<void> {
  const tpm = await sameBoot(transport, bootId);
  // An unreachable TPM: nothing can be flushed now.
  const flushed = tpm ? await flushOrphans(tpm, before).catch(() => 0) : 0;
  if (flushed > 0) debug?.(`TPM: flushed ${flushed} object(s) or session(s) whose creation answer was lost with the connection`);
}

/** A client over `transport` if the TPM is reachable and still in power cycle `bootId`; undefined otherwise. */
async function sameBoot(transport: TpmTransport, bootId: string): Promise<Tpm | undefined> {
  const tpm = new Tpm(transport);
  return (await readBootId(tpm).catch(() => undefined)) === bootId ? tpm : undefined;
}

/** The TPM's power cycle, or undefined when ReadClock is refused (its objects are then never flushed after a lost connection). */
async function readBootId(tpm: Tpm): Promise<string | undefined> {
  const result = await tpm.execute(ReadClock, {}, {}).catch((e: unknown) => {
    if (e instanceof TpmResponseError) return undefined;
    throw e;
  });
  return result && `${result.response.resetCount}/${result.response.restartCount}`;
}

function handlesToFlush(key: LoadedKey): number[] {
  const handles: number[] = [];
  if (key.session && !key.session.closed) handles.push(key.session.handle);
  if (key.transient) handles.push(key.entity.handle);
  return handles;
}

async function releaseKey(tpm: Tpm, key: LoadedKey): Promise<void> {
  for (const h of handlesToFlush(key)) await tpm.flush(h).catch(() => undefined);
  key.session?.dispose();
}
