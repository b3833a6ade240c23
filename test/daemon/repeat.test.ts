/** repeatWithoutOverlap (serve's TLS, ECS token and JWKS re-reads) and the daemons' log sink, logTo, and oneLine. */
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { repeatWithoutOverlap } from "../../src/daemon/repeat.js";
import { logTo, oneLine } from "../../src/daemon/signals.js";
import { MAX_LOG_LINE } from "../../src/errors.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("repeatWithoutOverlap", () => {
  it("a re-read that rejects is not an unhandled rejection (which ends the daemon), and the next tick reads again", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", record);
    try {
      const check = vi.fn(async () => Promise.reject(new Error("stat failed")));
      const stop = repeatWithoutOverlap(check, 1_000);
      await vi.advanceTimersByTimeAsync(3_000);
      vi.useRealTimers();
      await new Promise((resolve) => setTimeout(resolve, 10)); // unhandled rejections are reported after a turn
      expect(unhandled).toEqual([]);
      expect(check).toHaveBeenCalledTimes(3);
      stop();
    } finally {
      process.off("unhandledRejection", record);
    }
  });

  it("a re-read that throws before its promise is made does not throw out of the timer either", async () => {
    const check = vi.fn((): Promise<void> => {
      throw new Error("thrown synchronously");
    });
    const stop = repeatWithoutOverlap(check, 1_000);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(check).toHaveBeenCalledTimes(2);
    stop();
  });

  it("a re-read that never settles holds further ones (no pile-up), and stop() ends the ticks", async () => {
    const check = vi.fn(() => new Promise<void>(() => {}));
    const stop = repeatWithoutOverlap(check, 1_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(check).toHaveBeenCalledTimes(1);
    stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stopped while a re-read runs: that one finishes, no other starts", async () => {
    let finish!: () => void;
    const check = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const stop = repeatWithoutOverlap(check, 1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    stop();
    finish();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(check).toHaveBeenCalledTimes(1);
  });
});

describe("logTo", () => {
  it("writes each line as one printable line, whatever it holds", () => {
    const written: string[] = [];
    const log = logTo({ write: (text: string) => written.push(text) });
    log("reload failed: bad\nforged: line\u001b]0;title\u0007 end\u2028x");
    log("");
    expect(written).toEqual(["reload failed: bad forged: line ]0;title end x\n", "\n"]);
  });

  it("cuts a line at MAX_LOG_LINE, with … (a peer's or a file's 2 MB text in it)", () => {
    const written: string[] = [];
    logTo({ write: (text: string) => written.push(text) })(`refused: ${"y".repeat(2_000_000)}`);
    expect(written).toEqual([`refused: ${"y".repeat(MAX_LOG_LINE - "refused: ".length)}…\n`]);
  });
});

describe("oneLine", () => {
  it("a module of its own gone since start (the package upgraded under it): says so, and to restart", async () => {
    // Before, a PKCS#11 profile added on SIGHUP after `npm i -g`: "hw: Error [ERR_MODULE_NOT_FOUND]: Cannot find
    // module '…/dist/daemon/pkcs11-5YKXTVMV.mjs' imported from …/dist/daemon/factory-7JFHK67A.mjs".
    const gone = join(tmpdir(), `raa-gone-${process.pid}`, "pkcs11-5YKXTVMV.mjs");
    const error = await import(gone).catch((e: unknown) => e);
    expect(oneLine(error)).toBe(
      `the installation changed since this process started, or is incomplete: ${gone} is missing ` +
        "(restart it once installed; reinstall if it repeats)",
    );
    // A dependency missing (node_modules/ not yet written): the same.
    const noYargs = (() => {
      try {
        createRequire(join(tmpdir(), `raa-gone-${process.pid}`, "cli-bundle.cjs"))("yargs");
      } catch (e) {
        return e;
      }
    })();
    expect(oneLine(noYargs)).toBe(
      "the installation changed since this process started, or is incomplete: yargs is missing " +
        "(restart it once installed; reinstall if it repeats)",
    );
    expect(oneLine(new Error("other"))).toBe("Error: other");
  });
});
