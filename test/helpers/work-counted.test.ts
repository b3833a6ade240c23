import { createRequire } from "node:module";
import { setTimeout as pause } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { timeoutsRunOut, workOf } from "./work-counted.js";

describe("workOf", () => {
  it("counts calls, or what each weighs, and puts the method back", async () => {
    const has = Map.prototype.has;
    const map = new Map([[1, 1]]);
    expect(await workOf(Map.prototype, "has", () => [map.has(1), map.has(2)])).toEqual({ result: [true, false], work: 2 });
    expect(await workOf(Map.prototype, "has", () => map.has(1) && map.has(3), { weigh: (self, [key]) => (self === map ? Number(key) : 0) }))
      .toEqual({ result: false, work: 4 });
    expect(Map.prototype.has).toBe(has);
    expect(Object.prototype.hasOwnProperty.call(Map.prototype, "has")).toBe(true);
  });

  it("past the budget, throws before the call is made", async () => {
    const calls: number[] = [];
    const owner = { work: (n: number) => calls.push(n) };
    await expect(workOf(owner, "work", () => [1, 2, 3].map((n) => owner.work(n)), { budget: 2 })).rejects.toThrow("work: more than 2 units of work");
    expect(calls).toEqual([1, 2]);
    await expect(workOf(owner, "work", () => owner.work(9), { budget: 8, weigh: (_, [n]) => n as number })).rejects.toThrow();
    expect(calls).toEqual([1, 2]);
  });

  it("a built-in module's ES bindings follow its exports, and are put back", async () => {
    const timers = createRequire(import.meta.url)("node:timers/promises") as { setTimeout: unknown };
    const original = timers.setTimeout;
    const { work } = await workOf(timers, "setTimeout", () => pause(1));
    expect(work).toBe(1);
    expect([timers.setTimeout, pause]).toEqual([original, original]);
  });

  it("timeoutsRunOut counts the timers of at least its delay that ran out, and puts setTimeout back", async () => {
    const original = globalThis.setTimeout;
    const { result, ranOut } = await timeoutsRunOut(20, async (soFar) => {
      setTimeout(() => {}, 1); // shorter: not counted
      clearTimeout(setTimeout(() => {}, 20)); // cleared: did not run out
      const inside = await new Promise((resolve) => setTimeout(() => resolve(soFar()), 30));
      return ["done", inside];
    });
    expect([result, ranOut]).toEqual([["done", 1], 1]);
    expect(globalThis.setTimeout).toBe(original);
  });
});
