import { isAgentError } from "../errors.js";

interface WaitForDeviceOptions {
  /** How long to keep trying, in milliseconds, from the first failure. */
  readonly timeoutMs: number;
  /** Told once, at the first absent-device error. */
  readonly onWait?: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
  /** Ends the wait (between tries, cutting the sleep short) with its reason; a try in progress finishes first. */
  readonly signal?: AbortSignal;
}

/**
 * `open()`, tried again until `timeoutMs` has passed while it fails only because the device is not there
 * (yet): a token not plugged in, a TPM whose device node or resource manager is not up. Nothing else is
 * waited for — above all never an authentication error, which must not be retried.
 */
export async function waitForDevice<T>(open: () => Promise<T>, options: WaitForDeviceOptions): Promise<T> {
  const now = options.now ?? (() => performance.now());
  const { signal } = options;
  // Not node:timers/promises: the cold credential-process call would load it (~3M instructions).
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  }));
  let deadline: number | undefined;
  for (;;) {
    signal?.throwIfAborted();
    try {
      return await open();
    } catch (error) {
      if (!isAgentError(error) || (error.code !== "PKCS11_TOKEN_NOT_FOUND" && error.code !== "TPM_UNAVAILABLE")) throw error;
      const t = now();
      if (deadline === undefined) {
        deadline = t + options.timeoutMs;
        options.onWait?.(`waiting up to ${Math.round(options.timeoutMs / 1000)} s for the device: ${error.toOneLine()}`);
      }
      if (t >= deadline) throw error;
      await untilAborted(sleep(Math.min(1000, deadline - t)), signal);
    }
  }
}

async function untilAborted(sleeping: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return sleeping;
  if (signal.aborted) return;
  let stop!: () => void;
  const aborted = new Promise<void>((resolve) => (stop = resolve));
  signal.addEventListener("abort", stop, { once: true });
  await Promise.race([sleeping, aborted]).finally(() => signal.removeEventListener("abort", stop));
}
