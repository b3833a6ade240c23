/**
 * The log line's bound and the host-callback guard, at lines whose mutation no unit test noticed: MAX_LOG_LINE only
 * ever compared with itself (4,000 passed, cutting an error's hint off every daemon line), logTo cutting before the
 * control characters collapse (text after them lost), and dropFailures' wrapper emptied (a host's callback never
 * called) or its guards dropped.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentError, MAX_ERROR_TEXT, MAX_LOG_LINE, ServiceError } from "../../src/errors.js";
import { logTo, oneLine } from "../../src/daemon/signals.js";
import { dropFailures } from "../../src/debug-log.js";

describe("MAX_LOG_LINE", () => {
  it("is 6,000 characters: a refresh failure's line with a message and a hint at MAX_ERROR_TEXT each is logged whole", () => {
    expect(MAX_LOG_LINE).toBe(6_000);
    const error = new ServiceError("ACCESS_DENIED", "m".repeat(MAX_ERROR_TEXT), { status: 403, serviceCode: "AccessDeniedException" }, { hint: "h".repeat(MAX_ERROR_TEXT) });
    const line = `gateway-profile: refresh failed (${error.code}): ${oneLine(error)}; retry #2 at 2030-01-01 12:00:00 UTC; no valid credentials to serve meanwhile; not logged again until it changes`;
    const written: string[] = [];
    logTo({ write: (text: string) => written.push(text) })(line);
    expect(written).toEqual([`${line}\n`]);
    expect(written[0]).toMatch(/h\) ?; retry #2 .*changes\n$/);
  });
});

describe("logTo", () => {
  it("counts a run of control characters as the one space it becomes: the text after 5,000 line breaks is kept", () => {
    const written: string[] = [];
    logTo({ write: (text: string) => written.push(text) })(`peer said:${"\n".repeat(5_000)}${"x".repeat(3_000)}`);
    expect(written).toEqual([`peer said: ${"x".repeat(3_000)}\n`]);
  });

  it("a line of only surrogate pairs past the bound ends on a whole character, then …", () => {
    const written: string[] = [];
    logTo({ write: (text: string) => written.push(text) })(`k${"🔑".repeat(MAX_LOG_LINE)}`);
    const line = written[0]!;
    expect(line).toBe(`k${"🔑".repeat((MAX_LOG_LINE - 2) / 2)}…\n`);
    expect(line).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/); // no lone high surrogate
  });
});

describe("dropFailures (a host program's callback)", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  beforeEach(() => void process.on("unhandledRejection", onUnhandled));
  afterEach(() => void process.off("unhandledRejection", onUnhandled));

  it("calls the callback with every argument, each time", () => {
    const seen: unknown[][] = [];
    const guarded = dropFailures((...args: unknown[]) => void seen.push(args))!;
    guarded("a", 1);
    guarded("b", 2);
    expect(seen).toEqual([["a", 1], ["b", 2]]);
  });

  it("drops what it throws and what its promise rejects: no error for the caller, no unhandled rejection", async () => {
    let calls = 0;
    const throwing = dropFailures(() => {
      calls++;
      throw new AgentError("USAGE", "the host's assertion failed");
    })!;
    expect(() => throwing()).not.toThrow();
    const rejecting = dropFailures(async () => {
      calls++;
      throw new Error("the host's async listener failed");
    })!;
    expect(rejecting()).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 20)); // unhandledRejection is reported on a later turn
    expect(calls).toBe(2);
    expect(unhandled).toEqual([]);
  });

  it("no callback: none", () => {
    expect(dropFailures(undefined)).toBeUndefined();
  });
});
