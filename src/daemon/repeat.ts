/**
 * Runs `check` every `intervalMs` (unref'd), never two at once: a check held by a FIFO in place of a file (up to
 * the read timeout, 30 s) is not joined by one per tick, each holding one of libuv's 4 pool threads, which
 * signing and DNS need too. A check logs its own failures; one that throws anyway is dropped, not left to end the
 * daemon (an unhandled rejection, or an exception out of the timer). Returns the function that stops it.
 */
export function repeatWithoutOverlap(check: () => Promise<void>, intervalMs: number): () => void {
  let running: Promise<void> | undefined;
  const tick = () => (running ??= Promise.resolve().then(check).catch(() => {}).finally(() => (running = undefined)));
  const timer = setInterval(tick, intervalMs).unref();
  return () => clearInterval(timer);
}
