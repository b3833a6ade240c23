/**
 * The work a run made one function do, for the tests that guard against a slow (quadratic, exponential) algorithm
 * coming back: counted, not timed, so a loaded machine cannot fail them and a fast one cannot hide the slow algorithm.
 */
import { syncBuiltinESMExports } from "node:module";

/**
 * Runs `run` with `owner[method]` wrapped: each call adds `weigh(this, args)` (1 by default) to the work, weighed
 * before the call is made; a call that would take the work past `budget` throws instead, so the slow algorithm
 * stops at once with that message (not by the test's timeout). Restored afterwards. Returns the result and the work.
 * `owner` may be a built-in module's exports (createRequire(…)("node:crypto")): its ES module bindings, which the code
 * under test imports, follow (syncBuiltinESMExports).
 */
export async function workOf<T>(
  owner: object,
  method: string,
  run: () => T | Promise<T>,
  { budget = Number.POSITIVE_INFINITY, weigh = () => 1 }: { budget?: number; weigh?: (self: unknown, args: unknown[]) => number } = {},
): Promise<{ result: T; work: number }> {
  const target = owner as Record<string, (...args: unknown[]) => unknown>;
  const original = target[method]!;
  const own = Object.prototype.hasOwnProperty.call(owner, method);
  let work = 0;
  target[method] = function (this: unknown, ...args: unknown[]) {
    work += weigh(this, args);
    if (work > budget) throw new Error(`${method}: more than ${budget} units of work (the slow algorithm?)`);
    return original.apply(this, args);
  };
  syncBuiltinESMExports();
  try {
    return { result: await run(), work };
  } finally {
    if (own) target[method] = original;
    else delete target[method];
    syncBuiltinESMExports();
  }
}

/**
 * Runs `run` counting the timers of `ms` or more (the global setTimeout, which the code under test's timeouts use) that
 * ran out before it ended: for a failure that must come from what the peer did, not from a timeout that fired. `run`
 * is given the count so far, for an event that must come from such a timer (read when it happens).
 */
export async function timeoutsRunOut<T>(ms: number, run: (ranOutSoFar: () => number) => T | Promise<T>): Promise<{ result: T; ranOut: number }> {
  const original = globalThis.setTimeout;
  let ranOut = 0;
  globalThis.setTimeout = function (this: unknown, ...[callback, delay, ...args]: unknown[]) {
    const counted = typeof callback === "function" && Number(delay) >= ms ? (...a: unknown[]) => (ranOut++, callback(...a)) : callback;
    return (original as (...a: unknown[]) => unknown).call(this, counted, delay, ...args);
  } as typeof setTimeout;
  try {
    const result = await run(() => ranOut);
    return { result, ranOut };
  } finally {
    globalThis.setTimeout = original;
  }
}
