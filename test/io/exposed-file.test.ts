/**
 * A secret file others can read is warned about once per process: a long-running program (the SDK provider, the
 * agent) builds a new file signer at every refresh, and each build warned again, a line on the host's stderr per
 * refresh ("private key file … can be read or changed by other users (mode 644)" every hour, per provider).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { warnIfExposed } from "../../src/io/exposed-file.js";

const warnings: string[] = [];
const onWarning = (warning: Error & { code?: string }) => {
  if (warning.code === "RAA_EXPOSED_FILE") warnings.push(warning.message);
};
beforeEach(() => void process.on("warning", onWarning));
afterEach(() => void process.off("warning", onWarning));
const flush = () => new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick

describe("warnIfExposed", () => {
  it("warns once per file and mode in a process, however often the file is read", async () => {
    for (let i = 0; i < 3; i++) warnIfExposed({ mode: 0o100644 }, "/keys/device.key", "private key file");
    await flush();
    expect(warnings).toEqual([
      "private key file /keys/device.key can be read or changed by other users (mode 644): run chmod 600 /keys/device.key",
    ]);
    warnIfExposed({ mode: 0o100640 }, "/keys/device.key", "private key file"); // changed since: told again
    warnIfExposed({ mode: 0o100600 }, "/keys/device.key", "private key file");
    await flush();
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain("(mode 640)");
  });

  it("warns again about a file exposed again after it was fixed (chmod 600, then 644 again)", async () => {
    const path = "/keys/again.key";
    warnIfExposed({ mode: 0o100644 }, path, "private key file");
    warnIfExposed({ mode: 0o100600 }, path, "private key file"); // fixed
    warnIfExposed({ mode: 0o100644 }, path, "private key file"); // exposed again: before, not told
    await flush();
    expect(warnings.filter((line) => line.includes(path))).toHaveLength(2);
  });
});
