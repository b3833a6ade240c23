/**
 * The copy watcher counts only what the code under test left. Vitest maps a stack trace through the source map of
 * each test file on it, the first time that file appears on a formatted stack; the map holds the file's source, and
 * so any secret written in it as a literal. A watched run that formatted the first such stack counted that map as
 * a copy the code left (one-shot-secrets' "doctor, pin-value" failed so, now and then, in CI).
 */
import { describe, expect, it } from "vitest";
import { copiesHolding, stringsMadeBy } from "./copies-made.js";

const SECRET = "Vm4-literal-in-this-test-file-k2";

describe("the copy watcher", () => {
  it("does not count the source map of the calling test file, mapped for the first stack formatted in the run", async () => {
    const { left } = await copiesHolding(Buffer.from(SECRET), async () => new Error("first stack of this file").stack);
    expect(left).toBe(0);
  });

  it("does not count the text of that source map among the strings a run made", async () => {
    const { strings } = await stringsMadeBy(async () => new Error("a stack").stack);
    expect(strings.filter((text) => text.includes(SECRET))).toEqual([]);
  });
});
